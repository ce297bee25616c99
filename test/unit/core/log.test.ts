import { escapeHtml, hasControlCharacter, log, maskSecret, printable } from '@gitops-lite/core'
import { linesOutsideFences } from '../../helpers/workflow-commands'

/** What `body` writes to stdout, as the runner reads it. */
function stdoutOf(body: () => void): string {
  const written: string[] = []
  const write = process.stdout.write
  process.stdout.write = ((chunk: string | Uint8Array) =>
    written.push(String(chunk)) > 0) as typeof process.stdout.write
  try {
    body()
  } finally {
    process.stdout.write = write
  }
  return written.join('')
}

/** Lines the runner would take as workflow commands: outside a stop-commands fence, starting with `::` or holding `##[`. */
function liveCommands(output: string): string[] {
  return linesOutsideFences(output).filter((line) => line.startsWith('::') || line.includes('##['))
}

describe('printable', () => {
  it.each([
    ['a newline then a command', 'web\n::error::owned'],
    ['a carriage return then a command', 'web\r::error::owned'],
    ['a leading command', '::stop-commands::x'],
    ['a leading command after spaces', '   ::add-mask::x'],
    ['a legacy command anywhere', 'image ##[error]owned'],
    ['a Unicode line separator', 'web\u2028::error::x']
  ])('keeps %s from acting as a command', (_, text) => {
    const line = printable(text)
    expect(line).not.toMatch(/[\r\n]/)
    expect(liveCommands(stdoutOf(() => log.info(text)))).toEqual([])
  })

  it('shows line breaks and control characters as escapes', () => {
    expect(printable('a\nb\rc\u001b[31md\te')).toBe('a\\nb\\rc\\u001b[31md\te')
  })

  it('leaves ordinary text alone', () => {
    expect(printable('web: ghcr.io/acme/web:v1 -> ghcr.io/acme/web:v2 (its configuration changed)')).toBe(
      'web: ghcr.io/acme/web:v1 -> ghcr.io/acme/web:v2 (its configuration changed)'
    )
  })

  it('masks registered secrets', () => {
    stdoutOf(() => {
      maskSecret('s3cr3t-token')
      maskSecret('second-line')
    })
    expect(printable('password=s3cr3t-token and second-line')).toBe('password=*** and ***')
    expect(escapeHtml('<b>second-line</b>')).toBe('&#60;b&#62;***&#60;/b&#62;')
  })
})

describe('log', () => {
  it('fences lines shown as they are with a token nobody can guess', () => {
    const output = stdoutOf(() => log.fenced(['::error::a', '##[warning]b', '::stop-commands::x', '::x::'], '  '))
    expect(liveCommands(output)).toEqual([])
    const tokens = [...output.matchAll(/^::stop-commands::([0-9a-f]+)$/gm)].map((m) => m[1])
    expect(tokens).toHaveLength(1)
    expect(tokens[0]).toHaveLength(32)
  })

  it('escapes annotation titles and messages', () => {
    const output = stdoutOf(() => log.error('bad\n::error::x', { title: 't\n::warning::y' }))
    expect(output.split('\n').filter((line) => line !== '')).toHaveLength(1)
  })
})

describe('escapeHtml', () => {
  it('escapes markup and quotes', () => {
    expect(escapeHtml(`<img src=x onerror="a('b')">&`)).toBe(
      '&#60;img src=x onerror=&#34;a(&#39;b&#39;)&#34;&#62;&#38;'
    )
  })
})

describe('hasControlCharacter', () => {
  it('finds line breaks and escapes but not tabs', () => {
    expect(hasControlCharacter('a\nb')).toBe(true)
    expect(hasControlCharacter('a\u001bb')).toBe(true)
    expect(hasControlCharacter('a\tb')).toBe(false)
  })
})
