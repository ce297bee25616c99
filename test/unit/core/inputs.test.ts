import { Inputs, UserError, formatDuration, parseDuration, parseList } from '@gitops-lite/core'

const from = (values: Record<string, string>) => new Inputs((name) => values[name] ?? '')

describe('Inputs', () => {
  it('reads booleans in the forms the YAML 1.2 core schema allows', () => {
    const inputs = from({ a: 'true', b: 'False', c: '' })
    expect(inputs.boolean('a')).toBe(true)
    expect(inputs.boolean('b')).toBe(false)
    expect(inputs.boolean('c', true)).toBe(true)
    expect(() => from({ d: 'yes' }).boolean('d')).toThrow(`Input 'd' must be 'true' or 'false', got "yes"`)
  })

  it('bounds integers and quotes the bad value', () => {
    expect(from({ n: '7' }).integer('n', { min: 1, max: 20, fallback: 5 })).toBe(7)
    expect(from({}).integer('n', { min: 1, max: 20, fallback: 5 })).toBe(5)
    for (const bad of ['0', '21', '-1', '1.5', 'five']) {
      expect(() => from({ n: bad }).integer('n', { min: 1, max: 20, fallback: 5 })).toThrow(
        `Input 'n' must be a whole number from 1 to 20, got ${JSON.stringify(bad)}`
      )
    }
  })

  it('bounds durations: zero, negative and tiny limits are refused, with the range and what the value came to', () => {
    const range = { min: 1000, max: 3_600_000 }
    expect(from({ t: '90' }).duration('t', '2m', range)).toBe(90_000)
    expect(from({}).duration('t', '2m', range)).toBe(120_000)
    expect(() => from({ t: '0' }).duration('t', '2m', range)).toThrow(
      `Input 't' must be from 1s to 1h, got "0", which is 0s`
    )
    expect(() => from({ t: '1ms' }).duration('t', '2m', range)).toThrow(`Input 't' must be from 1s to 1h, got "1ms"`)
    expect(() => from({ t: '2h' }).duration('t', '2m', range)).toThrow(
      `Input 't' must be from 1s to 1h, got "2h", which is 2h`
    )
    expect(() => from({ t: '-5s' }).duration('t', '2m', range)).toThrow(`Input 't' must be a duration such as`)
  })

  it('refuses a token holding a line break or a space, without quoting it', () => {
    expect(from({ token: 'ghp_abc123\n' }).token('token')).toBe('ghp_abc123')
    for (const bad of ['ghp_abc\n123', 'ghp abc', 'ghp_abc\u0000']) {
      const run = () => from({ token: bad }).token('token')
      expect(run).toThrow("Input 'token' contains a line break, a space or a control character")
      expect(run).not.toThrow(bad)
    }
  })

  it('names the missing required input and says what to do', () => {
    const error = (() => {
      try {
        from({ repository: '  ' }).required('repository')
      } catch (caught) {
        return caught as UserError
      }
    })()
    expect(error).toBeInstanceOf(UserError)
    expect(error?.describe()).toBe(
      "Input 'repository' is required but was empty. Set 'repository' in the step's 'with:' block."
    )
  })

  it('registers a secret, and each line of a multi-line one, with the runner', () => {
    const masked: string[] = []
    const values: Record<string, string> = { key: '-----BEGIN-----\nabcdef\nxy\n', empty: '  ' }
    const inputs = new Inputs(
      (name) => values[name] ?? '',
      (secret) => masked.push(secret)
    )
    expect(inputs.secret('key')).toBe('-----BEGIN-----\nabcdef\nxy\n')
    expect(inputs.secret('empty')).toBe('')
    expect(masked).toEqual(['-----BEGIN-----\nabcdef\nxy\n', '-----BEGIN-----', 'abcdef'])
  })

  it('splits lists on newlines and commas, and lines without comments', () => {
    expect(parseList('api, worker\n\n web ,')).toEqual(['api', 'worker', 'web'])
    expect(from({ files: 'compose.yaml\n# staging only\n  compose.prod.yaml  \n' }).lines('files')).toEqual([
      'compose.yaml',
      'compose.prod.yaml'
    ])
  })

  it('restricts a choice to the allowed values', () => {
    expect(from({ mode: 'full' }).oneOf('mode', ['surgical', 'full'] as const, 'surgical')).toBe('full')
    expect(() => from({ mode: 'fast' }).oneOf('mode', ['surgical', 'full'] as const, 'surgical')).toThrow(
      `Input 'mode' must be one of 'surgical', 'full', got "fast"`
    )
  })
})

describe('parseDuration', () => {
  it.each([
    ['90', 90_000],
    ['90s', 90_000],
    ['15m', 900_000],
    ['1h', 3_600_000],
    ['1.5s', 1_500],
    ['250ms', 250]
  ])('reads %s', (text, ms) => expect(parseDuration(text)).toBe(ms))

  it.each(['', 'soon', '10 minutes', '-5s'])('rejects %j', (text) => expect(parseDuration(text)).toBeUndefined())
})

describe('formatDuration', () => {
  it.each([
    [900_000, '15m'],
    [90_000, '1m 30s'],
    [5_400_000, '1h 30m'],
    [30_000_000, '8h 20m'],
    [1_500, '1.5s'],
    [12_345, '12.3s'],
    [125_400, '2m 5s'],
    [850, '850ms'],
    [0, '0s']
  ])('writes %i ms as %s', (ms, text) => expect(formatDuration(ms)).toBe(text))
})
