import { execFileSync } from 'node:child_process'
import { quoteShellArg, shellCommand } from '@gitops-lite/core'

describe('shellCommand', () => {
  const awkward = ["it's", '$(id)', '`id`', 'a b', 'semi;colon', 'new\nline', '', '*', '~', '"dq"', '\\']

  it('round-trips every argument through a real shell unchanged', () => {
    const script = shellCommand(['printf', '%s\\0', ...awkward])
    const out = execFileSync('sh', ['-c', script], { encoding: 'utf8' })
    expect(out.split('\0').slice(0, -1)).toEqual(awkward)
  })

  it('leaves plain words unquoted', () => {
    expect(quoteShellArg('docker')).toBe('docker')
    expect(quoteShellArg('/srv/app/compose.yaml')).toBe('/srv/app/compose.yaml')
  })

  it('refuses NUL bytes', () => {
    expect(() => quoteShellArg('a\0b')).toThrow(/NUL/)
  })
})
