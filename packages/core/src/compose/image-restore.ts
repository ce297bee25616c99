import { UserError } from '../errors'
import { canonicalRepository, parseImageReference, repositoryOf } from '../image-ref'
import type { RolledBackImage } from '../deploy/rollback'
import { parseCompose, type ComposeSource } from './compose-file'
import { planImageBump } from './image-bump/plan'
import type { BumpPlan, BumpTarget } from './image-bump/types'

export interface RestoreRequest {
  /** Compose files in compose's order. */
  files: ComposeSource[]
  envFile?: { path: string; text?: string }
  /** ssh-surgical-deploy's `rolled-back-images`. */
  images: readonly RolledBackImage[]
}

/** A rolled-back service whose image stays as Git has it, and why. */
export interface KeptImage {
  service: string
  reason: string
}

export interface RestorePlan {
  plan: BumpPlan
  /** The entries written back (one per service). */
  restored: RolledBackImage[]
  kept: KeptImage[]
}

/** The extension field on a service that ties it to others: `x-gitops-lite: { group: web }`. */
export const GROUP_FIELD = 'x-gitops-lite'

/** Each service's group (`x-gitops-lite.group`), the last file that sets one winning, as compose merges. */
export function serviceGroups(files: readonly ComposeSource[]): Map<string, string> {
  const groups = new Map<string, string>()
  for (const file of files) {
    const services = (parseCompose(file).data as { services?: Record<string, unknown> } | null)?.services ?? {}
    for (const [name, definition] of Object.entries(services)) {
      const extension = (definition as Record<string, unknown> | null)?.[GROUP_FIELD] as { group?: unknown } | undefined
      if (extension?.group === undefined) continue
      if (typeof extension.group !== 'string' || extension.group === '') {
        throw new UserError(`'${GROUP_FIELD}.group' of service '${name}' in ${file.path} is not a name`, {
          fix: `Write it as ${GROUP_FIELD}: { group: web }: services with the same group go back together when one of them fails.`,
          location: { file: file.path }
        })
      }
      groups.set(name, extension.group)
    }
  }
  return groups
}

function sameImage(a: string, b: string): boolean {
  const [x, y] = [parseImageReference(a), parseImageReference(b)]
  if (!x || !y) return a === b
  return canonicalRepository(x) === canonicalRepository(y) && x.tag === y.tag && x.digest === y.digest
}

/**
 * Plans writing the restored images back: only for services that failed, and those sharing an
 * `x-gitops-lite` group with one that failed; the others keep the release's image. Compare and
 * swap: a service whose image in the files is no longer the failed one (a newer bump landed since)
 * is left as it is. Pure: the files are given and nothing is written.
 */
export function planRestore(request: RestoreRequest): RestorePlan {
  const kept: KeptImage[] = []
  const byService = new Map<string, RolledBackImage>()
  for (const image of request.images) {
    const seen = byService.get(image.service)
    if (!seen) byService.set(image.service, image)
    else if (!sameImage(seen.restoredImage, image.restoredImage) || !sameImage(seen.failedImage, image.failedImage)) {
      kept.push({
        service: image.service,
        reason: `the hosts rolled it back to different images (${seen.restoredImage} on ${seen.host}, ${image.restoredImage} on ${image.host})`
      })
      byService.delete(image.service)
    } else if (image.failed) byService.set(image.service, image)
  }
  const disagreed = new Set(kept.map((k) => k.service))
  const groups = serviceGroups(request.files)
  const failedGroups = new Set(
    [...byService.values()]
      .filter((i) => i.failed)
      .map((i) => groups.get(i.service))
      .filter((g) => g !== undefined)
  )
  const candidates: { image: RolledBackImage; target: BumpTarget }[] = []
  for (const image of byService.values()) {
    if (disagreed.has(image.service)) continue
    const group = groups.get(image.service)
    if (!image.failed && !(group !== undefined && failedGroups.has(group))) {
      kept.push({
        service: image.service,
        reason: "it did not fail: it keeps the release's image (it is deployed again)"
      })
      continue
    }
    const ref = parseImageReference(image.restoredImage)
    if (!ref?.tag) {
      kept.push({ service: image.service, reason: `the restored image ${image.restoredImage} has no tag to write` })
      continue
    }
    candidates.push({
      image,
      target: {
        service: image.service,
        image: repositoryOf(ref),
        tag: ref.tag,
        ...(ref.digest && { digest: ref.digest })
      }
    })
  }
  const plan = (targets: BumpTarget[]): BumpPlan =>
    planImageBump({ files: request.files, envFile: request.envFile, targets })
  const chosen = candidates.filter(({ image, target }) => {
    let current: string
    try {
      current = plan([target]).updates[0].previous
    } catch (error) {
      if (!(error instanceof UserError)) throw error
      kept.push({ service: image.service, reason: error.message })
      return false
    }
    if (sameImage(current, image.failedImage) || sameImage(current, image.restoredImage)) return true
    kept.push({ service: image.service, reason: `it changed since the failed release: the files now say ${current}` })
    return false
  })
  return {
    plan: chosen.length > 0 ? plan(chosen.map((c) => c.target)) : { updates: [], files: [] },
    restored: chosen.map((c) => c.image),
    kept
  }
}
