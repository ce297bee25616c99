/**
 * What the host remembers between deploys, under <remote-dir>/.gitops-lite/:
 *   state      JSON lines: one RecordHeader, then one RecordedService per deployed service;
 *              replaced (write + rename) only after a successful deploy.
 *   audit.log  JSON lines, append-only: one AuditEntry (+ result, durationSeconds) per deploy
 *              or removal; a removal (mode: remove) leaves it behind, with the rest of the folder gone.
 */
export const RECORD_SCHEMA = 1

export type ComposeVariant = 'v2' | 'v1'

export interface RecordHeader {
  kind: 'deploy'
  schema: typeof RECORD_SCHEMA
  /** Commit of the infra repository that was deployed. */
  sha: string
  time: string
  runUrl: string
  actor: string
  project: string
  compose: ComposeVariant
  /** Uploaded files (relative to remote-dir) and their sha256:<hex> digests. */
  files: Record<string, string>
  /** Digest of the top-level networks and volumes: when it changes, every service is redeployed. */
  topLevel: string
}

export interface RecordedService {
  kind: 'service'
  service: string
  image?: string
  /** Files the service reads (bind mounts, env_file, configs, secrets): absolute path -> digest. */
  inputs: Record<string, string>
  /** `compose config --hash` of the deployed files, as the inspection before the deploy computed it. */
  configHash: string
  /** The container's com.docker.compose.config-hash label right after the deploy. */
  containerHash: string
}

export interface DeployRecord {
  header: RecordHeader
  services: Map<string, RecordedService>
}

/** Parses the state file; undefined when there is none or it is not ours (then nothing is trusted). */
export function parseRecord(text: string): DeployRecord | undefined {
  let header: RecordHeader | undefined
  const services = new Map<string, RecordedService>()
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    let entry: unknown
    try {
      entry = JSON.parse(line)
    } catch {
      return undefined
    }
    if (!isObject(entry)) return undefined
    if (entry.kind === 'deploy' && entry.schema === RECORD_SCHEMA) header = entry as unknown as RecordHeader
    else if (entry.kind === 'service' && typeof entry.service === 'string') {
      const service = entry as unknown as RecordedService
      services.set(service.service, { ...service, inputs: isObject(service.inputs) ? service.inputs : {} })
    }
  }
  return header ? { header, services } : undefined
}

/**
 * What is wrong with a state file that is there but cannot be trusted (a line cut short, not
 * ours); undefined when it is whole, or empty. parseRecord drops such a record: the caller
 * must say so rather than plan from what runs without a word.
 */
export function recordDamage(text: string): string | undefined {
  if (text.trim() === '') return undefined
  const lines = text.split('\n')
  let header = false
  for (const [index, line] of lines.entries()) {
    if (line.trim() === '') continue
    let entry: unknown
    try {
      entry = JSON.parse(line)
    } catch {
      return `line ${index + 1} is not JSON${index === lines.length - 1 || lines.slice(index + 1).every((l) => l.trim() === '') ? ', it was cut short' : ''}`
    }
    if (!isObject(entry)) return `line ${index + 1} is not a JSON object`
    // A header of another schema is another version's record, not a damaged one.
    if (entry.kind === 'deploy') header = true
  }
  return header ? undefined : 'it has no header line'
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The JSON of `value` without its closing brace, for the host to append fields it learns. */
export function jsonPrefix(value: object): string {
  const json = JSON.stringify(value)
  if (!json.endsWith('}') || json === '{}') throw new Error('jsonPrefix needs a non-empty object')
  return json.slice(0, -1)
}

/** What the host appends to audit.log, before it adds `result` and `durationSeconds`. */
export interface AuditEntry {
  time: string
  actor: string
  runUrl: string
  sha: string
  host: string
  project: string
  mode: 'surgical' | 'full' | 'remove'
  services: string[]
  removed: string[]
  /** The failed commit whose images the deployed commit writes back (after an automatic rollback). */
  restores?: string
  /** mode: remove: whether the project's named volumes went too. */
  removeVolumes?: boolean
}
