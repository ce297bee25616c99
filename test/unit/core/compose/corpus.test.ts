import { cpSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { formatImageReference, parseImageReference, planImageBump, repositoryOf } from '@gitops-lite/core'

// The corpus ships with the repository (CC0, see its README); the tests read a private copy.
const corpus = resolve(dirname(fileURLToPath(import.meta.url)), '../../../fixtures/awesome-compose')
const copy = mkdtempSync(join(tmpdir(), 'awesome-compose-'))
cpSync(corpus, copy, { recursive: true })
const files = readdirSync(copy)
  .filter((name) => /\.ya?ml$/.test(name))
  .sort()

const digest = `sha256:${'c'.repeat(64)}`

interface Case {
  file: string
  service: string
}

const cases: Case[] = files.flatMap((file) => {
  const data = parse(readFileSync(join(copy, file), 'utf8')) as { services?: Record<string, { image?: string }> }
  return Object.entries(data.services ?? {})
    .filter(([, definition]) => typeof definition?.image === 'string')
    .map(([service]) => ({ file, service }))
})

describe('the awesome-compose corpus', () => {
  it('has files and services with images to bump', () => {
    expect(files.length).toBeGreaterThanOrEqual(30)
    expect(cases.length).toBeGreaterThanOrEqual(40)
  })

  describe.each(files)('%s', (file) => {
    const text = readFileSync(join(copy, file), 'utf8')
    const services = cases.filter((c) => c.file === file).map((c) => c.service)

    it.each(services.length > 0 ? services : ['(no service with an image)'])(
      'bumps %s, changing only its image line',
      (service) => {
        if (services.length === 0) return
        for (const target of [
          { service, tag: 'v9.9.9' },
          { service, tag: 'v9.9.9', digest }
        ]) {
          const before = parse(text) as { services: Record<string, { image: string }> }
          const plan = planImageBump({ files: [{ path: file, text }], targets: [target] })
          expect(plan.files).toHaveLength(1)
          const after = plan.files[0].after

          const old = parseImageReference(before.services[service].image)!
          const expectedImage = formatImageReference({ ...old, tag: target.tag, digest: target.digest })
          const expected = structuredClone(before)
          expected.services[service].image = expectedImage
          expect(parse(after)).toEqual(expected)
          expect(plan.updates).toEqual([
            expect.objectContaining({
              service,
              previous: before.services[service].image,
              image: expectedImage,
              changed: true
            })
          ])
          expect(repositoryOf(plan.updates[0].reference!)).toBe(repositoryOf(old))

          const oldLines = text.split('\n')
          const newLines = after.split('\n')
          expect(newLines).toHaveLength(oldLines.length)
          const changed = oldLines.flatMap((line, i) => (line === newLines[i] ? [] : [i + 1]))
          expect(changed).toEqual([plan.updates[0].line])
          expect(oldLines[changed[0] - 1]).toMatch(/image:/)

          // Idempotent: the same bump on the result changes nothing.
          const again = planImageBump({ files: [{ path: file, text: after }], targets: [target] })
          expect(again.files).toEqual([])
          expect(again.updates[0].changed).toBe(false)
        }
      }
    )
  })
})
