import {
  DISPATCH_LIMITS,
  UserError,
  checkDispatchLimits,
  createDeployPayload,
  parseDeployPayload,
  type PayloadSource
} from '@gitops-lite/core'

const source: PayloadSource = {
  repository: 'acme/app',
  sha: 'a'.repeat(40),
  ref: 'refs/heads/main',
  run_id: '1',
  run_url: 'https://github.com/acme/app/actions/runs/1',
  actor: 'octocat'
}
const digest = `sha256:${'b'.repeat(64)}`
const api = { service: 'api', image: 'ghcr.io/acme/api', tag: 'v1' }

describe('createDeployPayload', () => {
  it('puts one service at the top level, schema first, optional fields only when given', () => {
    const payload = createDeployPayload({ updates: [api], source, correlationId: 'c1' })
    expect(payload).toEqual({ schema: 1, ...api, source, correlation_id: 'c1' })
    expect(Object.keys(payload)[0]).toBe('schema')
  })

  it('uses the services form for several, or when asked', () => {
    const worker = { service: 'worker', image: 'ghcr.io/acme/worker', tag: 'v1', digest }
    expect(
      createDeployPayload({ updates: [api, worker], source, correlationId: 'c', environment: 'prod', extra: { pr: 1 } })
    ).toEqual({
      schema: 1,
      services: [api, worker],
      environment: 'prod',
      source,
      correlation_id: 'c',
      extra: { pr: 1 }
    })
    expect(createDeployPayload({ updates: [api], multi: true, source, correlationId: 'c' })).toHaveProperty(
      'services',
      [api]
    )
  })

  it('round-trips through parseDeployPayload, as bump-image-tag reads it', () => {
    const updates = [
      { ...api, digest },
      { service: 'worker', image: 'acme/worker', tag: 'v2' }
    ]
    const payload = createDeployPayload({ updates, environment: 'staging', source, correlationId: 'c9' })
    expect(parseDeployPayload(JSON.parse(JSON.stringify(payload)))).toEqual({
      updates,
      environment: 'staging',
      source,
      correlationId: 'c9'
    })
  })

  it('stays within the top-level property limit with every optional field', () => {
    const payload = createDeployPayload({
      updates: [{ ...api, digest }],
      environment: 'e',
      extra: 1,
      source,
      correlationId: 'c'
    })
    expect(Object.keys(payload).length).toBeLessThanOrEqual(DISPATCH_LIMITS.clientPayloadProperties)
  })
})

describe('checkDispatchLimits', () => {
  it('bounds the event type to 1..100 characters', () => {
    expect(() => checkDispatchLimits('e'.repeat(100), {})).not.toThrow()
    expect(() => checkDispatchLimits('e'.repeat(101), {})).toThrow(
      'event-type is 101 characters; GitHub accepts 1 to 100'
    )
    expect(() => checkDispatchLimits('', {})).toThrow('event-type is 0 characters')
  })

  it('allows at most 10 top-level properties', () => {
    const props = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]))
    expect(() => checkDispatchLimits('deploy', props(10))).not.toThrow()
    expect(() => checkDispatchLimits('deploy', props(11))).toThrow(
      'client_payload has 11 top-level properties; GitHub accepts at most 10'
    )
  })

  it('keeps the whole body under 64 KB, quoting its size', () => {
    const overhead = Buffer.byteLength(JSON.stringify({ event_type: 'deploy', client_payload: { x: '' } }))
    expect(() => checkDispatchLimits('deploy', { x: 'a'.repeat(65_536 - overhead - 1) })).not.toThrow()
    expect(() => checkDispatchLimits('deploy', { x: 'a'.repeat(65_536 - overhead) })).toThrow(
      'The dispatch body is 65536 bytes; GitHub accepts less than 65536 bytes (64 KB)'
    )
  })
})

describe('parseDeployPayload: source', () => {
  const update = { service: 'api', image: 'ghcr.io/acme/api', tag: 'v1' }
  const parse = (sourceValue: unknown) => () => parseDeployPayload({ ...update, source: sourceValue })

  it('accepts a full source, a partial one with empty fields, and none', () => {
    expect(parseDeployPayload({ ...update, source }).source).toEqual(source)
    expect(parseDeployPayload({ ...update, source: { repository: 'acme/app', sha: '', run_url: '' } }).source).toEqual({
      repository: 'acme/app'
    })
    expect(parseDeployPayload(update).source).toBeUndefined()
  })

  it.each<[string, unknown, string]>([
    [
      'a newline that would add a commit trailer',
      { ...source, repository: 'acme/app\nSigned-off-by: mallory' },
      'client_payload.source.repository "acme/app\\nSigned-off-by: mallory" is not a GitHub repository as owner/name'
    ],
    [
      'an object',
      { ...source, repository: { owner: 'acme' } },
      'client_payload.source.repository must be a string, got {"owner":"acme"}'
    ],
    [
      'a short sha',
      { ...source, sha: 'abc123' },
      'client_payload.source.sha "abc123" is not a commit sha of 40 hex digits'
    ],
    [
      'a run url that is not a web address',
      { ...source, run_url: 'javascript:alert(1)' },
      'client_payload.source.run_url "javascript:alert(1)" is not an http(s) URL'
    ],
    [
      'a run url with a line break',
      { ...source, run_url: 'https://github.com/x\nForged: yes' },
      'client_payload.source.run_url'
    ],
    [
      'a ref with a carriage return',
      { ...source, ref: 'refs/heads/main\rX' },
      'client_payload.source.ref "refs/heads/main\\rX" is not a git ref on one line'
    ],
    ['a run id with a control character', { ...source, run_id: '1\u001b[2J' }, 'client_payload.source.run_id'],
    ['an actor given as a number', { ...source, actor: 42 }, 'client_payload.source.actor must be a string, got 42'],
    ['an unknown field', { ...source, trailer: 'x' }, 'client_payload.source.trailer is not a field of the source'],
    ['a source that is not an object', 'acme/app', 'client_payload.source must be an object, got "acme/app"']
  ])('refuses %s, naming the field', (_, sourceValue, message) => {
    expect(parse(sourceValue)).toThrow(UserError)
    expect(parse(sourceValue)).toThrow(message)
  })
})

describe('client_payload.source from a GitHub Enterprise Server without TLS', () => {
  it('accepts an http run URL', () => {
    const received = parseDeployPayload({
      service: 'api',
      image: 'ghcr.io/acme/api',
      tag: 'v1',
      source: { repository: 'acme/app', run_url: 'http://ghes.internal/acme/app/actions/runs/7' }
    })
    expect(received.source?.run_url).toBe('http://ghes.internal/acme/app/actions/runs/7')
  })
})
