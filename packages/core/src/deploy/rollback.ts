import { parseCompose, type ComposeSource } from '../compose/compose-file'
import { UserError } from '../errors'
import { parseImageReference } from '../image-ref'
import { isValidServiceName } from '../names'
import type { HostPlan } from './plan'
import type { DeployRecord } from './record'

/** A service a rolled-back deploy had changed to another image, and the image the rollback brought back. */
export interface RolledBackService {
  service: string
  /** The image the failed release named (the compose files' value, interpolated). */
  failedImage: string
  /** The image of the last good deploy, as its files wrote it: what runs again. */
  restoredImage: string
  /** Whether this service itself failed; false: it went back with the release (healthy, or not yet known). */
  failed: boolean
}

/**
 * One entry of ssh-surgical-deploy's `rolled-back-images` output, which bump-image-tag's
 * `restore` input takes: enough to write the restored image back to Git and say why.
 */
export interface RolledBackImage extends RolledBackService {
  host: string
  /** The compose file (path in the repository) that sets the service's image. */
  file: string
  /** The infra commit whose deploy failed and was rolled back. */
  failedCommit: string
  /** The commit the host's record names as its last good deploy; empty when unknown. */
  restoredCommit: string
  /** The workflow run that rolled back. */
  run: string
}

/** Trailers of the commit that writes the restored images back, which later deploys and dispatch-to-infra read. */
export const ROLLBACK_TRAILERS = {
  commit: 'Rolled-Back-Commit',
  host: 'Rolled-Back-Host',
  run: 'Rolled-Back-Run'
} as const

/**
 * What a rollback brought back: each deployed service that existed before and whose image the
 * release changed, with the image of the last good deploy (the host's record, else the
 * container that ran). `failed` names the services whose health wait failed; when none is
 * known (compose itself failed), every one counts as failed.
 */
export function rolledBackServices(
  plan: HostPlan,
  record: DeployRecord | undefined,
  failed: readonly string[]
): RolledBackService[] {
  const changed: RolledBackService[] = []
  for (const service of plan.services) {
    if (!service.deploy || !plan.previous.includes(service.service)) continue
    const restoredImage = record?.services.get(service.service)?.image ?? service.oldImage
    const failedImage = service.newImage
    if (!restoredImage || !failedImage || restoredImage === failedImage) continue
    changed.push({ service: service.service, failedImage, restoredImage, failed: false })
  }
  const known = failed.filter((name) => changed.some((s) => s.service === name))
  return changed.map((s) => ({ ...s, failed: known.length === 0 || known.includes(s.service) }))
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Reads and checks `rolled-back-images` JSON (as an input named `input`); an empty text is an empty list. */
export function parseRolledBackImages(text: string, input: string): RolledBackImage[] {
  if (text.trim() === '') return []
  const fix = `Pass ssh-surgical-deploy's output as it is: ${input}: \${{ steps.deploy.outputs.rolled-back-images }} (a JSON array).`
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new UserError(`Input '${input}' is not JSON: ${(error as Error).message}`, { fix })
  }
  if (!Array.isArray(value)) throw new UserError(`Input '${input}' is not a JSON array`, { fix })
  return value.map((entry, index) => {
    const where = `Input '${input}' entry ${index + 1}`
    if (!isObject(entry)) throw new UserError(`${where} is not an object`, { fix })
    const text = (field: string, check: (value: string) => boolean = () => true): string => {
      const found = entry[field]
      if (typeof found !== 'string' || !check(found)) {
        throw new UserError(`${where} has no valid '${field}' (${JSON.stringify(found ?? null)})`, { fix })
      }
      return found
    }
    const image = (value: string) => parseImageReference(value) !== undefined
    if (typeof entry.failed !== 'boolean') throw new UserError(`${where} has no 'failed' true or false`, { fix })
    return {
      host: text('host'),
      file: text('file'),
      service: text('service', isValidServiceName),
      failedImage: text('failedImage', image),
      restoredImage: text('restoredImage', image),
      failed: entry.failed,
      failedCommit: text('failedCommit', (v) => /^[0-9a-f]{7,64}$/.test(v)),
      restoredCommit: text('restoredCommit', (v) => v === '' || /^[0-9a-f]{7,64}$/.test(v)),
      run: text('run', (v) => /^https?:\/\/\S+$/.test(v))
    }
  })
}

/** The compose file that sets the service's image: the last of `files` (in compose's order) that does, else the first. */
export function imageFileOf(service: string, files: readonly ComposeSource[]): string {
  for (const file of [...files].reverse()) {
    try {
      if (parseCompose(file).services.some((s) => s.name === service && s.image)) return file.path
    } catch {
      // compose read the files on the host; one this parser refuses just does not count.
    }
  }
  return files[0]?.path ?? ''
}
