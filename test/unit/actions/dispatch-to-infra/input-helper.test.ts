import { Inputs, readRunnerContext } from '@gitops-lite/core'
import { isLoopbackHost, readSettings } from '../../../../actions/dispatch-to-infra/src/input-helper'
import { refusal } from '../../../helpers/refusal'

const valid = {
  token: 'github_pat_11DDDDDDD0settingstoken',
  repository: 'acme/infra',
  service: 'api',
  image: 'ghcr.io/acme/api',
  tag: 'v1'
}

function settings(inputs: Record<string, string>, env: NodeJS.ProcessEnv = {}) {
  return readSettings(
    new Inputs(
      (name) => ({ ...valid, ...inputs })[name] ?? '',
      () => {}
    ),
    readRunnerContext(env)
  )
}

describe('isLoopbackHost', () => {
  it.each(['localhost', '127.0.0.1', '127.1.2.3', '[::1]'])('%s is this machine', (host) =>
    expect(isLoopbackHost(host)).toBe(true)
  )
  it.each(['github.example.com', '10.0.0.1', '128.0.0.1', '127.0.0.1.nip.io', 'localhost.example.com', '[::2]'])(
    '%s is not',
    (host) => expect(isLoopbackHost(host)).toBe(false)
  )
})

describe('api-url', () => {
  it('takes https anywhere and http on this machine (tests), without a trailing slash', () => {
    expect(settings({ 'api-url': 'https://github.example.com/api/v3/' }).apiUrl).toBe(
      'https://github.example.com/api/v3'
    )
    expect(settings({ 'api-url': 'http://127.0.0.1:4000' }).apiUrl).toBe('http://127.0.0.1:4000')
    expect(settings({ 'api-url': 'http://[::1]:4000' }).apiUrl).toBe('http://[::1]:4000')
    expect(settings({}, { GITHUB_API_URL: 'http://localhost:4000' }).apiUrl).toBe('http://localhost:4000')
    expect(settings({}).apiUrl).toBe('https://api.github.com')
  })

  it('refuses plain http to another host, which would send the token in cleartext, naming where the URL came from', () => {
    const input = refusal(() => settings({ 'api-url': 'http://github.example.com/api/v3' }))
    expect(input.message).toBe(
      `Input 'api-url' "http://github.example.com/api/v3" is plain http to github.example.com: the token would cross the network unencrypted`
    )
    expect(input.fix).toContain('Use the https:// address of the REST API')
    expect(input.fix).toContain('http is accepted only for localhost, 127.0.0.0/8 and ::1')
    expect(refusal(() => settings({}, { GITHUB_API_URL: 'http://10.0.0.5/api/v3' })).message).toMatch(
      /^GITHUB_API_URL "http:\/\/10\.0\.0\.5\/api\/v3" is plain http/
    )
  })
})

describe('wait-timeout', () => {
  it('reads a bare number as seconds', () => {
    expect(settings({ 'wait-timeout': '900' }).waitTimeoutMs).toBe(900_000)
  })

  it('refuses one out of range, saying what it came to with units', () => {
    const error = refusal(() => settings({ 'wait-timeout': '30000' }))
    expect(error.message).toBe(`Input 'wait-timeout' must be from 1s to 6h, got "30000", which is 8h 20m`)
    expect(error.fix).toBe("Use e.g. '15m'; a bare number is seconds.")
  })
})
