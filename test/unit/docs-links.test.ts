// Every relative link in the project's Markdown leads somewhere: the file exists and, when the
// link names a heading (`guide.md#rolling-back`), that heading is in it. Docs move and headings
// get renamed; a reader following a dead link from an error message or a template is lost.
import { existsSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execFileSync } from 'node:child_process'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const markdownFiles = execFileSync('git', ['ls-files', '*.md'], { cwd: root, encoding: 'utf8' })
  .split('\n')
  .filter((path) => path !== '' && !path.startsWith('test/fixtures/'))

/** GitHub's anchor for a heading: lower case, punctuation but `-` and `_` dropped, spaces to hyphens. */
function headingAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\- _]/gu, '')
    .replace(/ /g, '-')
}

/** The anchors of a Markdown file's headings, outside code blocks; repeated headings get -1, -2, as on GitHub. */
function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>()
  const seen = new Map<string, number>()
  let fenced = false
  for (const line of text.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced
    const heading = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)
    if (!heading) continue
    const base = headingAnchor(heading[1])
    const count = seen.get(base) ?? 0
    seen.set(base, count + 1)
    anchors.add(count === 0 ? base : `${base}-${count}`)
  }
  return anchors
}

/** Relative links `[text](target)` outside code blocks and inline code. */
function linksOf(text: string): string[] {
  const links: string[] = []
  let fenced = false
  for (const line of text.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced
      continue
    }
    if (fenced) continue
    for (const match of line.replace(/`[^`]*`/g, '').matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      if (!/^[a-z][a-z0-9+.-]*:/i.test(match[1])) links.push(match[1])
    }
  }
  return links
}

test('there are Markdown files to check', () => {
  expect(markdownFiles).toEqual(expect.arrayContaining(['README.md', 'docs/guide.md']))
})

test.each(markdownFiles)('%s: every relative link leads to a file and heading that exist', (file) => {
  const text = readFileSync(join(root, file), 'utf8')
  const dead: string[] = []
  for (const link of linksOf(text)) {
    const [path, anchor] = link.split('#') as [string, string | undefined]
    const target = path === '' ? join(root, file) : resolve(dirname(join(root, file)), decodeURIComponent(path))
    if (!existsSync(target)) {
      dead.push(`${link}: no file ${relative(root, target)}`)
      continue
    }
    if (anchor === undefined || anchor === '' || statSync(target).isDirectory() || !target.endsWith('.md')) continue
    if (!anchorsOf(readFileSync(target, 'utf8')).has(anchor)) dead.push(`${link}: no heading #${anchor}`)
  }
  expect(dead).toEqual([])
})
