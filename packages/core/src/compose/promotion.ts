import { UserError } from '../errors'
import { parseImageReference, repositoryOf } from '../image-ref'
import { parseCompose, type ComposeSource } from './compose-file'
import { envValues } from './env-file'
import type { BumpTarget } from './image-bump/types'
import { parseTemplate, resolveTemplate } from './interpolation'

/** The compose file a promotion copies images from, and the env file compose interpolates it with. */
export interface PromotionSource {
  file: ComposeSource
  /** `text` is undefined when the file does not exist. */
  envFile: { path: string; text?: string }
}

/** One service's image in the source file, as compose would run it. */
export interface SourceImage {
  service: string
  /** The full reference, variables resolved: repository:tag[@digest]. */
  image: string
  line: number
}

export interface Promotion {
  /** What to write into the target file(s): each service's repository, tag and digest exactly. */
  targets: BumpTarget[]
  sources: SourceImage[]
}

/**
 * Reads the images to promote from the source file: the named services', or, with none named,
 * every service that has an image there (services built from source have nothing to promote).
 * An image written with variables is resolved from the source's env file; one that cannot be
 * resolved, or has no tag, is refused. Pure: reads nothing but the texts it is given.
 */
export function planPromotion(source: PromotionSource, services: readonly string[]): Promotion {
  const file = parseCompose(source.file)
  const env = source.envFile.text === undefined ? new Map<string, string>() : envValues(source.envFile.text)
  const names = services.length > 0 ? services : file.services.filter((s) => s.image).map((s) => s.name)
  if (names.length === 0) {
    throw new UserError(`${file.path} has no service with an image to promote`, {
      fix: "Check 'from-file': it should be the compose file of the environment to promote from, e.g. environments/staging/compose.yaml.",
      location: { file: file.path, line: file.servicesLine }
    })
  }
  const sources = names.map((name): SourceImage => {
    const service = file.services.find((s) => s.name === name)
    if (!service) {
      throw new UserError(
        `Service '${name}' is not defined in ${file.path}, the file to promote from; its services are: ${file.services.map((s) => s.name).join(', ') || 'none'}`,
        {
          fix: "Name a service of that file in 'service', or leave it empty to promote every service.",
          location: { file: file.path, line: file.servicesLine }
        }
      )
    }
    const location = { file: file.path, line: service.image ? file.lineOf(service.image.range![0]) : service.line }
    if (!service.image) {
      throw new UserError(`Service '${name}' has no image: line in ${file.path}, so there is no image to promote`, {
        fix: `Give '${name}' an image with a tag in ${file.path} (image: ghcr.io/acme/${name}:v1.2.3), or do not name it.`,
        location
      })
    }
    const raw = service.image.value as string
    const parts = parseTemplate(raw)
    // Invalid interpolation syntax is left as written: the reference check below refuses it.
    const resolved = parts ? resolveTemplate(parts, (variable) => env.get(variable)) : { value: raw, unresolved: [] }
    if (resolved.unresolved.length > 0) {
      const missing = [...new Set(resolved.unresolved)].join(', ')
      throw new UserError(
        `The image of service '${name}' in ${file.path} (${JSON.stringify(raw)}) uses ${missing}, which ${source.envFile.path} does not define, so the image it runs is not known here`,
        {
          fix: `Define ${missing} in ${source.envFile.path} (committed, as compose reads it), give the variable a default, or write the image in ${file.path} in full.`,
          location
        }
      )
    }
    const reference = parseImageReference(resolved.value)
    if (!reference || reference.tag === undefined) {
      const why = reference ? 'has no tag' : 'is not a valid image reference'
      throw new UserError(`The image of service '${name}' in ${file.path} ${why}: ${JSON.stringify(resolved.value)}`, {
        fix: "Promote images written as repository:tag[@sha256:digest] (e.g. 'ghcr.io/acme/api:v1.2.3'): a promotion writes the tag and the digest exactly.",
        location
      })
    }
    return { service: name, image: resolved.value, line: location.line }
  })
  const targets = sources.map(({ service, image }): BumpTarget => {
    const reference = parseImageReference(image)!
    return {
      service,
      image: repositoryOf(reference),
      tag: reference.tag!,
      ...(reference.digest && { digest: reference.digest })
    }
  })
  return { targets, sources }
}
