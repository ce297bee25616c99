import {
  bumpDiff,
  envValues,
  parseEnvFile,
  parseTemplate,
  planImageBump,
  resolveTemplate,
  setEnvValue,
  unifiedDiff,
  variablesIn
} from '@gitops-lite/core'

describe('parseTemplate', () => {
  it('splits text and variables with their offsets', () => {
    expect(parseTemplate('a:${TAG:-1.0}$X$$y')).toEqual([
      { kind: 'text', text: 'a:', start: 0, end: 2 },
      { kind: 'variable', name: 'TAG', operator: ':-', argument: '1.0', argumentStart: 9, start: 2, end: 13 },
      { kind: 'variable', name: 'X', start: 13, end: 15 },
      { kind: 'text', text: '$y', start: 15, end: 18 }
    ])
  })

  it.each(['${', '${1A}', '${A!b}', '$', 'a$-'])('rejects %j', (raw) => {
    expect(parseTemplate(raw)).toBeUndefined()
  })

  it('finds variables inside defaults', () => {
    expect(variablesIn('${A:-${B}}:$C')).toEqual(['A', 'B', 'C'])
  })

  it('interpolates like compose', () => {
    const env = new Map([
      ['SET', 'v'],
      ['EMPTY', '']
    ])
    const resolve = (raw: string): unknown => resolveTemplate(parseTemplate(raw)!, (name) => env.get(name), '?')
    expect(resolve('${SET:-d}${EMPTY:-d}${EMPTY-d}${NONE-d}')).toEqual({ value: 'vdd', unresolved: [] })
    expect(resolve('${SET:+alt}${NONE:+alt}${NONE}')).toEqual({ value: 'alt?', unresolved: ['NONE'] })
  })
})

describe('env files', () => {
  const text = '# c\nA=1\nexport B = two # note\nC="three"\nD=\'four\'\r\nE="multi\nline"\nF=six'

  it('reads values the way compose does', () => {
    expect(Object.fromEntries(envValues(text))).toEqual({
      A: '1',
      B: 'two',
      C: 'three',
      D: 'four',
      E: 'multi\nline',
      F: 'six'
    })
    expect(parseEnvFile(text).map((a) => [a.name, a.line])).toEqual([
      ['A', 2],
      ['B', 3],
      ['C', 4],
      ['D', 5],
      ['E', 6],
      ['F', 8]
    ])
  })

  it('rewrites one value in place', () => {
    expect(setEnvValue(text, '.env', 'B', 'v2')).toBe(text.replace('two', 'v2'))
    expect(setEnvValue(text, '.env', 'D', 'v2')).toBe(text.replace('four', 'v2'))
    expect(setEnvValue(text, '.env', 'F', 'v2')).toBe(text.replace('six', 'v2'))
  })

  it('refuses a value spanning lines', () => {
    expect(() => setEnvValue(text, '.env', 'E', 'v2')).toThrow(/spans lines/)
  })
})

describe('unifiedDiff', () => {
  it('shows changed lines with three lines of context', () => {
    const before = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12', '13', '14', '15', ''].join('\n')
    const after = before.replace('2\n', 'two\n').replace('14', 'fourteen')
    expect(unifiedDiff('f.yaml', before, after)).toBe(
      [
        '--- a/f.yaml',
        '+++ b/f.yaml',
        '@@ -1,5 +1,5 @@',
        ' 1',
        '-2',
        '+two',
        ' 3',
        ' 4',
        ' 5',
        '@@ -11,5 +11,5 @@',
        ' 11',
        ' 12',
        ' 13',
        '-14',
        '+fourteen',
        ' 15',
        ''
      ].join('\n')
    )
  })

  it('marks a missing final newline and drops carriage returns', () => {
    expect(unifiedDiff('f', 'a\r\nb', 'a\r\nc')).toBe(
      '--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n'
    )
    expect(unifiedDiff('f', 'same', 'same')).toBe('')
  })
})

describe('bumpDiff', () => {
  it("shows only the changed variable's line of the env file, never its neighbours (secrets)", () => {
    const env = 'DB_PASSWORD=hunter2\nAPI_TOKEN=s3cr3t\nAPI_TAG=v1\nSMTP_PASSWORD=pa55\nOTHER=x\n'
    const compose = 'services:\n  api:\n    image: acme/api:${API_TAG}\n  web:\n    image: acme/web:v1\n'
    const plan = planImageBump({
      files: [{ path: 'compose.yaml', text: compose }],
      envFile: { path: 'deploy/.env', text: env },
      targets: [
        { service: 'api', tag: 'v2' },
        { service: 'web', tag: 'v2' }
      ]
    })
    const diff = bumpDiff(plan.files, 'deploy/.env')
    expect(diff).toBe(
      [
        '--- a/compose.yaml',
        '+++ b/compose.yaml',
        '@@ -2,4 +2,4 @@',
        '   api:',
        '     image: acme/api:${API_TAG}',
        '   web:',
        '-    image: acme/web:v1',
        '+    image: acme/web:v2',
        '--- a/deploy/.env',
        '+++ b/deploy/.env',
        '@@ -3 +3 @@',
        '-API_TAG=v1',
        '+API_TAG=v2',
        ''
      ].join('\n')
    )
    for (const secret of ['hunter2', 's3cr3t', 'pa55', 'OTHER']) expect(diff).not.toContain(secret)
  })
})
