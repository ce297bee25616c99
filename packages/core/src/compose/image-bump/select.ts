import { UserError } from '../../errors'
import { canonicalRepository, parseImageReference, repositoryOf, type ImageReference } from '../../image-ref'
import type { ComposeFile, ComposeService } from '../compose-file'
import { parseTemplate, resolveTemplate, type VariableLookup } from '../interpolation'
import { analyzeImage } from './analyze'
import { locationOf, type Analysis, type BumpTarget, type EnvContext, type ImageEntry, type Selection } from './types'

/** A service's definitions, the last file first (the one compose takes a field from). */
function definitions(files: ComposeFile[], name: string): { file: ComposeFile; service: ComposeService }[] {
  return [...files]
    .reverse()
    .flatMap((file) => file.services.filter((s) => s.name === name).map((service) => ({ file, service })))
}

/**
 * The image of each service that has one: its own, or, for a service with none of its own,
 * the one compose copies from the service it extends in the same file.
 */
export function imageEntries(files: ComposeFile[], names: string[], env: EnvContext): Map<string, ImageEntry> {
  const hasOwnImage = (name: string): boolean =>
    definitions(files, name).some((d) => d.service.image || d.service.imageIsNotText)
  const own = new Map<string, ImageEntry>()
  for (const name of names) {
    const found = definitions(files, name).find((d) => d.service.image || d.service.imageIsNotText)
    const image = found?.service.image
    if (!found || !image) continue
    const { file, service } = found
    let cached: Analysis | undefined
    own.set(name, { file, service, image, analysis: () => (cached ??= analyzeImage(file, name, image, env)) })
  }
  // Follows `extends:` through services without an image to the one that has it, in the same file.
  const imageSource = (file: ComposeFile, name: string, seen: Set<string>): ImageEntry | undefined => {
    const base = file.services.find((s) => s.name === name)?.extendsInFile
    if (base === undefined || seen.has(base)) return undefined
    if (hasOwnImage(base)) {
      const source = own.get(base)
      return source?.file === file ? source : undefined
    }
    return imageSource(file, base, new Set([...seen, base]))
  }
  const entries = new Map<string, ImageEntry>()
  for (const name of names) {
    const entry = own.get(name)
    if (entry) entries.set(name, entry)
    if (entry || hasOwnImage(name)) continue
    const extending = definitions(files, name).find((d) => d.service.hasExtends)
    const source = extending && imageSource(extending.file, name, new Set([name]))
    if (source) entries.set(name, { ...source, service: extending.service, inheritsFrom: source.service.name })
  }
  return entries
}

/** The services each target names, or that run its image; refuses a target that matches none. */
export function selectServices(
  files: ComposeFile[],
  names: string[],
  entries: Map<string, ImageEntry>,
  targets: BumpTarget[],
  lookup: VariableLookup
): Selection[] {
  const selected = new Map<string, Selection>()
  const select = (entry: ImageEntry, target: BumpTarget): void => {
    const name = entry.service.name
    const previous = selected.get(name)
    if (previous && (previous.target.tag !== target.tag || previous.target.digest !== target.digest)) {
      throw new UserError(
        `Service '${name}' was asked for two different images (tags ${previous.target.tag} and ${target.tag})`,
        {
          fix: 'Name each service once per run.',
          location: { file: entry.file.path, line: entry.service.line }
        }
      )
    }
    const { file, service, inheritsFrom } = entry
    selected.set(name, { file, service, target, analysis: entry.analysis(), inheritsFrom })
  }

  for (const target of targets) {
    if (target.service !== undefined) {
      const entry = serviceWithImage(files, names, target.service, entries)
      const { file, service } = entry
      const current = entry.analysis()
      if (target.image !== undefined && current.repositoryKnown && !sameRepository(current.reference, target.image)) {
        throw new UserError(`Service '${service.name}' runs ${repositoryOf(current.reference)}, not ${target.image}`, {
          fix: `Check that the right service was named, or change the image of '${service.name}' to ${target.image} in ${file.path} first.`,
          location: locationOf(file, current.node.range[0])
        })
      }
      select(entry, target)
    } else if (target.image !== undefined) {
      for (const entry of servicesRunning(files, entries, target.image, lookup)) select(entry, target)
    } else {
      throw new Error('planImageBump: a target names neither a service nor an image')
    }
  }
  return [...selected.values()]
}

/** The services whose image is in the repository `image`; refuses when there is none. */
function servicesRunning(
  files: ComposeFile[],
  entries: Map<string, ImageEntry>,
  image: string,
  lookup: VariableLookup
): ImageEntry[] {
  const matching: ImageEntry[] = []
  const images: string[] = []
  const unreadable: string[] = []
  for (const [name, entry] of entries) {
    let analysis: Analysis
    try {
      analysis = entry.analysis()
    } catch (error) {
      // An unrelated service's unreadable image does not stop the bump; one known to run the image does.
      const repository = repositoryDespiteUnset(entry.image.value, lookup)
      if (!(error instanceof UserError) || (repository && sameRepository(repository, image))) throw error
      unreadable.push(`${name}=${entry.image.value}`)
      continue
    }
    images.push(`${name}=${analysis.display}`)
    if (analysis.repositoryKnown && sameRepository(analysis.reference, image)) matching.push(entry)
  }
  if (matching.length === 0) {
    const skipped =
      unreadable.length === 0 ? '' : `; not checked, as their image cannot be read: ${unreadable.join(', ')}`
    throw new UserError(
      `No service runs the image ${image}; the images are: ${images.join(', ') || 'none'}${skipped}`,
      {
        fix: `Check the image repository, or name the services to update with 'service'${unreadable.length === 0 ? '' : ' (naming a service whose image cannot be read says why)'}.`,
        location: { file: files[0].path, line: files[0].servicesLine }
      }
    )
  }
  return matching
}

/** The image's repository when no unset variable is part of it; undefined when one is, or the value is not valid. */
function repositoryDespiteUnset(raw: string, lookup: VariableLookup): ImageReference | undefined {
  const parts = parseTemplate(raw)
  if (!parts) return undefined
  // Two different stand-ins for the unset variables: when both give one repository, they are not part of it.
  const [one, other] = ['a', 'b'].map((standIn) => parseImageReference(resolveTemplate(parts, lookup, standIn).value))
  return one && other && canonicalRepository(one) === canonicalRepository(other) ? one : undefined
}

function sameRepository(reference: ImageReference, image: string): boolean {
  const wanted = parseImageReference(image)
  return wanted !== undefined && canonicalRepository(reference) === canonicalRepository(wanted)
}

/** The named service's image; refuses, saying why, a service that is not defined or has no image to update. */
function serviceWithImage(
  files: ComposeFile[],
  names: string[],
  name: string,
  entries: Map<string, ImageEntry>
): ImageEntry {
  const entry = entries.get(name)
  if (entry) return entry
  const paths = files.map((f) => f.path).join(', ')
  const defined = definitions(files, name)
  const last = defined[0]
  if (!last) {
    throw new UserError(
      `Service '${name}' is not defined in ${paths}; the services are: ${names.join(', ') || 'none'}`,
      {
        fix: 'Name one of the services that exist (the key under services:).',
        location: { file: files[0].path, line: files[0].servicesLine }
      }
    )
  }
  const location = { file: last.file.path, line: last.service.line }
  const others = `the services with an image are: ${[...entries.keys()].join(', ') || 'none'}`
  if (defined.some((d) => d.service.imageIsNotText)) {
    throw new UserError(`The image of service '${name}' is not a text value`, {
      fix: `Write it as one line, e.g. image: ghcr.io/acme/${name}:v1.2.3.`,
      location
    })
  }
  const why = defined.some((d) => d.service.hasExtends)
    ? "its image would come from 'extends:', which is only followed to a service of the same file that has an 'image:' there"
    : defined.some((d) => d.service.hasBuild)
      ? "it is built from source with 'build:'"
      : 'it has no image: line'
  throw new UserError(`Service '${name}' has no image to update (${why}); ${others}`, {
    fix: `Give '${name}' its own 'image:' (compose tags what it builds with that name), or name a service that runs an image.`,
    location
  })
}
