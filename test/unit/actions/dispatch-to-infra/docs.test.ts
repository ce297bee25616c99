// The documentation of dispatch-to-infra says what the code does: these pin the statements a
// reviewer found wrong or missing, so a change to either side fails here.
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CLOCK_SKEW_MS, isValidServiceName } from '@gitops-lite/core'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..')
/** A Markdown file with its line breaks folded, so a statement can be found across a rewrap. */
const read = (path: string) => readFileSync(resolve(root, path), 'utf8').replace(/\s+/g, ' ')

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
const anchor = (heading: string) =>
  heading
    .toLowerCase()
    .replace(/[^\w\- ]/g, '')
    .replace(/ /g, '-')

test("the README gives the lookup's clock-skew margin (it once said 'runs created after the dispatch')", () => {
  expect(read('actions/dispatch-to-infra/README.md')).toContain(
    `runs created from ${CLOCK_SKEW_MS / 60_000} minutes before the dispatch on`
  )
})

test("the guide's service-name rule is names.ts's: upper case is accepted", () => {
  expect(isValidServiceName('Api')).toBe(true)
  expect(isValidServiceName('a'.repeat(63))).toBe(true)
  expect(isValidServiceName('a'.repeat(64))).toBe(false)
  expect(isValidServiceName('_api')).toBe(false)
  expect(read('docs/guide.md')).toContain(
    'a compose service name (1 to 63 letters, digits, `_`, `.` and `-`, starting with a letter or digit)'
  )
  expect(read('docs/guide.md')).not.toMatch(/lower-case letters/)
})

test("the top-level README links to the action README's payload schema", () => {
  const heading = /^## (Payload \(schema 1\))$/m.exec(
    readFileSync(resolve(root, 'actions/dispatch-to-infra/README.md'), 'utf8')
  )
  expect(heading).not.toBeNull()
  expect(read('README.md')).toContain(`(actions/dispatch-to-infra/README.md#${anchor(heading![1])})`)
})
