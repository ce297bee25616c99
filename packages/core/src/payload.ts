import { UserError } from './errors'
import { isValidDigest, isValidTag, parseImageReference } from './image-ref'
import { isValidServiceName, parseRepositoryName } from './names'

/**
 * The `client_payload` of the `repository_dispatch` event that dispatch-to-infra sends and
 * bump-image-tag reads. Version 1; a change that breaks readers bumps `schema`.
 */
export const PAYLOAD_SCHEMA = 1

/** One image to record for one compose service. */
export interface ImageUpdate {
  service: string
  /** Image repository without tag, e.g. `ghcr.io/acme/api`. */
  image: string
  tag: string
  /** `sha256:` + 64 hex; pins the exact image the tag pointed at when it was built. */
  digest?: string
}

/** Where the image came from: the application repository's workflow run. */
export interface PayloadSource {
  repository: string
  sha: string
  ref: string
  run_id: string
  run_url: string
  actor: string
}

interface PayloadCommon {
  schema: typeof PAYLOAD_SCHEMA
  environment?: string
  source: PayloadSource
  /** Unique per dispatch; the infra workflow puts it in its run-name so the sender can find the run. */
  correlation_id: string
  /** The sender's `client-payload` input, passed through untouched. */
  extra?: unknown
}

/** One service: its fields at the top level. */
export interface SingleServicePayload extends PayloadCommon, ImageUpdate {}

/** Several services built by one application repository. */
export interface MultiServicePayload extends PayloadCommon {
  services: ImageUpdate[]
}

export type DeployPayload = SingleServicePayload | MultiServicePayload

/** GitHub's documented limits for POST /repos/{owner}/{repo}/dispatches. */
export const DISPATCH_LIMITS = {
  eventTypeLength: 100,
  clientPayloadProperties: 10,
  bodyBytes: 64 * 1024
} as const

function pickUpdate(u: ImageUpdate): ImageUpdate {
  return u.digest === undefined
    ? { service: u.service, image: u.image, tag: u.tag }
    : { service: u.service, image: u.image, tag: u.tag, digest: u.digest }
}

export interface DeployPayloadFields {
  updates: ImageUpdate[]
  /** Send the `services` form even for one update (the sender was given a list). */
  multi?: boolean
  environment?: string
  source: PayloadSource
  correlationId: string
  extra?: unknown
}

/** Builds the payload from validated fields: the single form for one service, `services` for several. */
export function createDeployPayload(fields: DeployPayloadFields): DeployPayload {
  const images =
    fields.updates.length === 1 && !fields.multi
      ? pickUpdate(fields.updates[0])
      : { services: fields.updates.map(pickUpdate) }
  return {
    schema: PAYLOAD_SCHEMA,
    ...images,
    ...(fields.environment === undefined ? {} : { environment: fields.environment }),
    source: fields.source,
    correlation_id: fields.correlationId,
    ...(fields.extra === undefined ? {} : { extra: fields.extra })
  }
}

/** What a reader of the event needs, validated. */
export interface ReceivedDeployment {
  updates: ImageUpdate[]
  environment?: string
  source?: Partial<PayloadSource>
  correlationId?: string
}

const environmentPattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/

export function isValidEnvironment(name: string): boolean {
  return environmentPattern.test(name)
}

function payloadError(field: string, problem: string): UserError {
  return new UserError(`client_payload${field === '' ? '' : `.${field}`} ${problem}`, {
    fix: 'Send the event with dispatch-to-infra, or follow the payload schema in the gitops-lite README (schema 1).'
  })
}

function readString(object: Record<string, unknown>, key: string, path: string, required: boolean): string | undefined {
  const value = object[key]
  if (value === undefined || value === null || value === '') {
    if (required) throw payloadError(path, 'is missing')
    return undefined
  }
  if (typeof value !== 'string') throw payloadError(path, `must be a string, got ${JSON.stringify(value)}`)
  return value
}

function readUpdate(object: Record<string, unknown>, path: string, inherited: Partial<ImageUpdate>): ImageUpdate {
  const service = readString(object, 'service', `${path}service`, true)!
  const image = readString(object, 'image', `${path}image`, inherited.image === undefined) ?? inherited.image!
  const tag = readString(object, 'tag', `${path}tag`, inherited.tag === undefined) ?? inherited.tag!
  const digest = readString(object, 'digest', `${path}digest`, false) ?? inherited.digest
  if (!isValidServiceName(service))
    throw payloadError(`${path}service`, `${JSON.stringify(service)} is not a valid compose service name`)
  const ref = parseImageReference(image)
  if (!ref || ref.tag !== undefined || ref.digest !== undefined) {
    throw payloadError(`${path}image`, `${JSON.stringify(image)} is not an image repository (no tag or digest)`)
  }
  if (!isValidTag(tag)) throw payloadError(`${path}tag`, `${JSON.stringify(tag)} is not a valid image tag`)
  if (digest !== undefined && !isValidDigest(digest)) {
    throw payloadError(`${path}digest`, `${JSON.stringify(digest)} is not 'sha256:' followed by 64 hex digits`)
  }
  return digest === undefined ? { service, image, tag } : { service, image, tag, digest }
}

const SOURCE_FIELDS: Record<keyof PayloadSource, { valid: (value: string) => boolean; expected: string }> = {
  repository: { valid: (v) => parseRepositoryName(v) !== undefined, expected: 'a GitHub repository as owner/name' },
  sha: { valid: (v) => /^[0-9a-f]{40}$/i.test(v), expected: 'a commit sha of 40 hex digits' },
  ref: { valid: isPlainText, expected: 'a git ref on one line, without control characters' },
  run_id: { valid: isPlainText, expected: 'a run id on one line, without control characters' },
  run_url: { valid: isWebUrl, expected: 'an http(s) URL' },
  actor: { valid: isPlainText, expected: 'a user name on one line, without control characters' }
}

/** One line of text without control characters (nothing that could start another commit trailer). */
function isPlainText(value: string): boolean {
  return value.length <= 1024 && !/[\p{Cc}\u2028\u2029]/u.test(value)
}

// http too: a GitHub Enterprise Server may be served without TLS, and its runs' URLs say so.
function isWebUrl(value: string): boolean {
  if (!isPlainText(value) || /\s/.test(value)) return false
  try {
    return ['https:', 'http:'].includes(new URL(value).protocol)
  } catch {
    return false
  }
}

/**
 * The `source` object: every field optional (a hand-sent event may omit it), but each one
 * given must be what dispatch-to-infra sends, since it is written into commit trailers.
 */
function readSource(raw: unknown): Partial<PayloadSource> | undefined {
  if (raw === undefined || raw === null) return undefined
  if (!isObject(raw)) throw payloadError('source', `must be an object, got ${JSON.stringify(raw)}`)
  const unknownKeys = Object.keys(raw).filter((key) => !Object.hasOwn(SOURCE_FIELDS, key))
  if (unknownKeys.length > 0) {
    throw payloadError(
      `source.${unknownKeys[0]}`,
      `is not a field of the source (the fields are ${Object.keys(SOURCE_FIELDS).join(', ')})`
    )
  }
  const source: Partial<PayloadSource> = {}
  for (const [key, rule] of Object.entries(SOURCE_FIELDS) as [
    keyof PayloadSource,
    (typeof SOURCE_FIELDS)[keyof PayloadSource]
  ][]) {
    const value = readString(raw, key, `source.${key}`, false)
    if (value === undefined) continue
    if (!rule.valid(value)) throw payloadError(`source.${key}`, `${JSON.stringify(value)} is not ${rule.expected}`)
    source[key] = value
  }
  return source
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Validates a received `client_payload`. Accepts the single form (`service`, `image`,
 * `tag`, `digest`) and the multi form (`services`: objects, or names sharing the top-level
 * `image`/`tag`/`digest`).
 */
export function parseDeployPayload(raw: unknown): ReceivedDeployment {
  if (!isObject(raw)) throw payloadError('', 'must be a JSON object')
  if (raw.schema !== undefined && raw.schema !== PAYLOAD_SCHEMA) {
    throw payloadError('schema', `is ${JSON.stringify(raw.schema)}, but this version reads schema ${PAYLOAD_SCHEMA}`)
  }
  const inherited: Partial<ImageUpdate> = {
    image: readString(raw, 'image', 'image', false),
    tag: readString(raw, 'tag', 'tag', false),
    digest: readString(raw, 'digest', 'digest', false)
  }
  let updates: ImageUpdate[]
  if (raw.services !== undefined) {
    if (!Array.isArray(raw.services) || raw.services.length === 0)
      throw payloadError('services', 'must be a non-empty array')
    updates = raw.services.map((entry, index) => {
      const path = `services[${index}].`
      if (typeof entry === 'string') return readUpdate({ service: entry }, path, inherited)
      if (!isObject(entry)) throw payloadError(`services[${index}]`, 'must be an object or a service name')
      return readUpdate(entry, path, inherited)
    })
  } else {
    updates = [readUpdate(raw, '', {})]
  }
  const environment = readString(raw, 'environment', 'environment', false)
  if (environment !== undefined && !isValidEnvironment(environment)) {
    throw payloadError('environment', `${JSON.stringify(environment)} is not a valid environment name`)
  }
  const source = readSource(raw.source)
  const correlationId = typeof raw.correlation_id === 'string' ? raw.correlation_id : undefined
  return { updates, environment, source, correlationId }
}

/** Checks GitHub's limits for a dispatch, quoting the size found and the limit. */
export function checkDispatchLimits(eventType: string, payload: object): void {
  if (eventType.length === 0 || eventType.length > DISPATCH_LIMITS.eventTypeLength) {
    throw new UserError(
      `event-type is ${eventType.length} characters; GitHub accepts 1 to ${DISPATCH_LIMITS.eventTypeLength}`,
      { fix: 'Use a shorter event type, e.g. deploy.' }
    )
  }
  const properties = Object.keys(payload).length
  if (properties > DISPATCH_LIMITS.clientPayloadProperties) {
    throw new UserError(
      `client_payload has ${properties} top-level properties; GitHub accepts at most ${DISPATCH_LIMITS.clientPayloadProperties}`,
      { fix: "Nest extra data under one key with the 'client-payload' input." }
    )
  }
  const bytes = Buffer.byteLength(JSON.stringify({ event_type: eventType, client_payload: payload }))
  if (bytes >= DISPATCH_LIMITS.bodyBytes) {
    throw new UserError(
      `The dispatch body is ${bytes} bytes; GitHub accepts less than ${DISPATCH_LIMITS.bodyBytes} bytes (64 KB)`,
      { fix: "Send less in 'client-payload' (a link to the data instead of the data itself)." }
    )
  }
}
