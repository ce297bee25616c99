import { UserError, parseCompose } from '@gitops-lite/core'
import { refusal } from '../../../helpers/refusal'

const parse = (text: string) => parseCompose({ path: 'compose.yaml', text })

describe('parseCompose refuses, naming the file', () => {
  it.each([
    ['an empty file', '', 'compose.yaml is empty'],
    ['a file of comments', '# nothing yet\n', 'compose.yaml is empty'],
    ['a list', '- web\n', 'compose.yaml is not a mapping of top-level keys'],
    [
      'a service named like an option',
      'services:\n  --remove-orphans:\n    image: a:1\n',
      'compose.yaml defines the service "--remove-orphans", which is not a valid compose service name'
    ],
    [
      'a service name with a line break',
      'services:\n  "a\\nb":\n    image: a:1\n',
      'compose.yaml defines the service "a\\nb"'
    ]
  ])('%s', (_, text, message) => {
    const error = refusal(() => parse(text))
    expect(error).toBeInstanceOf(UserError)
    expect(error.message).toContain(message)
  })

  it('a file over 2 MB, before parsing it', () => {
    const error = refusal(() => parse(`services: {}\n${'#'.repeat(3 * 1024 * 1024)}\n`))
    expect(error.message).toBe('compose.yaml is 3.0 MB; compose files over 2 MB are refused')
  })

  it('accepts names compose accepts that start with a letter or digit', () => {
    expect(
      parse('services:\n  web.v2_a-b:\n    image: a:1\n  1st:\n    image: b:1\n').services.map((s) => s.name)
    ).toEqual(['web.v2_a-b', '1st'])
  })
})
