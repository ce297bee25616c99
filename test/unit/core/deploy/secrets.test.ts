// What the runner is told to mask from a host's inspection: env file values (also from files
// compose cannot parse) and resolved environment values; short values and compose's own settings left out.
import { envFileValues, environmentValues, hostSecrets } from '@gitops-lite/core'

const mark = '@@gl-1'
const base64 = (text: string) => Buffer.from(text).toString('base64')

describe('envFileValues', () => {
  it('reads values as written and unquoted, skipping comments, keys and compose settings', () => {
    const text = [
      '# a comment=not-a-value',
      'PLAIN=plain-value',
      'export EXPORTED=exported-value',
      'SPACED = spaced-value # a comment',
      'DOUBLE="double quoted"',
      "SINGLE='single quoted'",
      'COMPOSE_PROJECT_NAME=shop',
      'EMPTY='
    ].join('\n')
    const values = envFileValues(text)
    for (const value of [
      'plain-value',
      'exported-value',
      'spaced-value',
      'double quoted',
      'single quoted',
      '"double quoted"'
    ])
      expect(values).toContain(value)
    expect(values).not.toContain('shop')
    expect(values.join('\n')).not.toContain('not-a-value')
  })

  it('reads an unterminated quoted value, and each line of a multi-line one', () => {
    expect(envFileValues('BROKEN="unterminated-secret\n')).toContain('unterminated-secret')
    const values = envFileValues('KEY="-----BEGIN KEY-----\nline-two-of-key\n-----END KEY-----"\nNEXT=next-value\n')
    for (const value of ['-----BEGIN KEY-----', 'line-two-of-key', '-----END KEY-----', 'next-value'])
      expect(values).toContain(value)
  })
})

describe('environmentValues', () => {
  it('reads every service environment value of compose v2 JSON and v1 YAML', () => {
    const v2 = JSON.stringify({
      services: { web: { environment: { TOKEN: 'v2-token', EMPTY: null, COMPOSE_X: 'compose-setting' } }, db: {} }
    })
    expect(environmentValues(v2, 'v2')).toEqual(['v2-token'])
    expect(environmentValues('services:\n  web:\n    environment:\n      TOKEN: v1-token\n', 'v1')).toEqual([
      'v1-token'
    ])
    expect(environmentValues('not json', 'v2')).toEqual([])
  })
})

describe('hostSecrets', () => {
  it('collects env file and environment values of at least 4 characters, once each, line by line', () => {
    const stdout = [
      `${mark} section envfiles`,
      base64('A=short\nB=abc\nC=first line\n'),
      base64('D="multi\nline value"\n'),
      `${mark} section compose`,
      'v2',
      `${mark} section config`,
      JSON.stringify({ services: { web: { environment: { A: 'short', E: 'from-environment' } } } }),
      `${mark} section end`
    ].join('\n')
    const values = hostSecrets(stdout, mark)
    expect(values.sort()).toEqual(['"multi', 'first line', 'from-environment', 'line value', 'multi', 'short'].sort())
  })

  it('reads the env files of an inspection that failed before the config', () => {
    expect(hostSecrets(`${mark} section envfiles\n${base64('P="cut-off-secret\n')}\n`, mark)).toContain(
      'cut-off-secret'
    )
  })
})
