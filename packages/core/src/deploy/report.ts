import { createHash } from 'node:crypto'
import { posix } from 'node:path'
import { parse } from 'yaml'
import { UserError } from '../errors'
import { parseRecord, recordDamage, type ComposeVariant, type DeployRecord } from './record'
import type { InspectionSection } from './remote'

/** A container of the project, as the inspection reads it with docker inspect. */
export interface ContainerState {
  id: string
  name: string
  service: string
  oneoff: boolean
  /** The com.docker.compose.config-hash label. */
  configHash: string
  image: string
  state: string
  /** healthy, unhealthy, starting; null without a healthcheck. */
  health: string | null
  exitCode: number
  restartPolicy: string
}

/** What planning needs from the resolved compose model (the rest, environment included, is dropped). */
export interface ServiceModel {
  image?: string
  /**
   * Absolute host paths whose content the deploy tracks: read-only bind-mount sources and
   * configs/secrets files (a service cannot write those).
   */
  mounts: string[]
  /**
   * Sources of writable bind mounts (set only when there are any): the service may write them
   * itself (acme.json, a SQLite file), so only files the deploy uploads into them are tracked.
   */
  writableMounts?: string[]
  /** Set when `deploy.update_config.order` is start-first. */
  startFirst?: StartFirstModel
}

/** What a start-first rollout of a service needs to know, read from its resolved definition. */
export interface StartFirstModel {
  /** deploy.replicas (or scale); 1 when unset. */
  replicas: number
  /** update_config.parallelism: containers replaced at a time; 0 replaces them all at once, as in Swarm. */
  parallelism: number
  /** update_config.delay: the wait between two batches. */
  delaySeconds: number
  /** update_config.monitor: how long the new and the old containers serve side by side (Swarm's default, 5 s). */
  monitorSeconds: number
  /** stop_grace_period: the old container's time to finish in-flight requests (compose's default, 10 s). */
  stopGraceSeconds: number
  /** Why two containers of the service cannot run at once; empty when they can. */
  conflicts: string[]
}

export interface ComposeModel {
  services: Map<string, ServiceModel>
  /** sha256 of the top-level networks and volumes, in canonical JSON. */
  topLevel: string
}

/** Everything the inspection round trip learned about one host. */
export interface HostReport {
  compose: ComposeVariant
  composeVersion: string
  /** remote-dir as an absolute path on the host. */
  directory: string
  project: string
  /** Bumped by every apply; the apply refuses a plan made before another run changed the host. */
  generation: string
  /**
   * What is wrong with the state files, for a warning: the generation file missing (when a
   * deploy has been recorded) or damaged, the record damaged. The deploy rebuilds them.
   */
  stateDamage: string[]
  model: ComposeModel
  /** `config --hash` of the staged (new) files. */
  hashes: Map<string, string>
  containers: ContainerState[]
  record?: DeployRecord
  /** Digest of each uploaded file as it is on the host now, in upload order. */
  hostFiles: string[]
}

/** Splits a script's stdout into its `<mark> section NAME` parts. */
export function splitSections(stdout: string, mark: string): Map<string, string> {
  const sections = new Map<string, string>()
  let current: string | undefined
  let lines: string[] = []
  const prefix = `${mark} section `
  for (const line of stdout.split('\n')) {
    if (line.startsWith(prefix)) {
      if (current !== undefined) sections.set(current, lines.join('\n'))
      current = line.slice(prefix.length).trim()
      lines = []
    } else if (current !== undefined) {
      lines.push(line)
    }
  }
  if (current !== undefined) sections.set(current, lines.join('\n'))
  return sections
}

/**
 * Reads the inspection's output. Nothing of it is ever quoted in an error: the config section
 * is the resolved compose config, which holds values from the host's `.env` files.
 */
export function parseInspection(stdout: string, mark: string, host = 'the host'): HostReport {
  const sections = splitSections(stdout, mark)
  const rerun =
    'Nothing was changed on the host (the inspection only reads). See the output above in the log, then rerun.'
  if (!sections.has('end' satisfies InspectionSection)) {
    throw new UserError(`The inspection output from ${host} is incomplete (it stopped before its end)`, {
      fix: `${rerun} A full disk or a killed shell on the host are the usual causes.`
    })
  }
  const section = (name: InspectionSection) => sections.get(name) ?? ''
  const lines = (name: InspectionSection) =>
    section(name)
      .split('\n')
      .filter((line) => line.trim() !== '')
  const [compose, composeVersion = ''] = lines('compose')
  if (compose !== 'v2' && compose !== 'v1') {
    throw new UserError(`The inspection output from ${host} is incomplete (it names no compose variant, v2 or v1)`, {
      fix: rerun
    })
  }
  const directory = lines('directory')[0] ?? ''
  const [generation = '0', generationState] = lines('generation')
  let model: ComposeModel
  try {
    model = parseComposeModel(section('config'), compose)
  } catch {
    throw new UserError(
      `The resolved compose config that ${host} printed could not be read (${compose === 'v2' ? 'not JSON' : 'not YAML'}); it is not shown because it holds values from the host's .env files`,
      {
        fix: `Nothing was changed on the host. Run '${compose === 'v2' ? 'docker compose config --format json' : 'docker-compose config'}' in remote-dir on the host to see what compose prints, or set compose-command to the other compose, then rerun.`
      }
    )
  }
  let containers: ContainerState[]
  try {
    containers = lines('containers').map(parseContainer)
  } catch {
    throw new UserError(`The container list (docker inspect) that ${host} printed could not be read`, {
      fix: "Nothing was changed on the host. Check that 'docker inspect' of the project's containers works on the host (and that Docker is not being upgraded), then rerun."
    })
  }
  return {
    compose,
    composeVersion,
    directory,
    project: lines('project')[0] ?? '',
    generation,
    stateDamage: stateDamage(generationState, section('record')),
    model,
    hashes: new Map(
      lines('hashes').map((line) => {
        const [service, hash] = line.trim().split(/\s+/)
        return [service, hash ?? ''] as const
      })
    ),
    containers,
    record: parseRecord(section('record')),
    hostFiles: lines('files')
  }
}

function stateDamage(generationState: string | undefined, record: string): string[] {
  const damage: string[] = []
  const recordProblem = recordDamage(record)
  if (generationState?.startsWith('damaged '))
    damage.push(`.gitops-lite/generation is damaged (${generationState.slice(8).replace(/-/g, ' ')})`)
  else if (generationState === 'missing' && record.trim() !== '')
    damage.push('.gitops-lite/generation is missing though a deploy is recorded')
  if (recordProblem) damage.push(`.gitops-lite/state (the deploy record) is damaged (${recordProblem})`)
  return damage
}

function parseContainer(line: string): ContainerState {
  const raw = JSON.parse(line) as Record<string, unknown> | null
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || typeof raw.id !== 'string')
    throw new Error('not a container description')
  return {
    id: raw.id,
    name: String(raw.name ?? '').replace(/^\//, ''),
    service: String(raw.service ?? ''),
    oneoff: String(raw.oneoff ?? '').toLowerCase() === 'true',
    configHash: String(raw.configHash ?? ''),
    image: String(raw.image ?? ''),
    state: String(raw.state ?? ''),
    health: typeof raw.health === 'string' ? raw.health : null,
    exitCode: Number(raw.exitCode ?? 0),
    restartPolicy: String(raw.restartPolicy ?? '')
  }
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`
  }
  return JSON.stringify(value ?? null)
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

function asRecord(value: unknown): Record<string, Json> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, Json>) : {}
}

/** Bind-mount sources of a service's volumes, in compose v2's long form or v1's `src:dst[:mode]`. */
function bindSources(volumes: unknown): { source: string; readOnly: boolean }[] {
  if (!Array.isArray(volumes)) return []
  const sources: { source: string; readOnly: boolean }[] = []
  for (const volume of volumes) {
    if (typeof volume === 'string') {
      const [source, , mode = ''] = volume.split(':')
      if (posix.isAbsolute(source)) sources.push({ source, readOnly: mode.split(',').includes('ro') })
    } else {
      const long = asRecord(volume)
      if (long.type === 'bind' && typeof long.source === 'string')
        sources.push({ source: long.source, readOnly: long.read_only === true })
    }
  }
  return sources
}

/** Files behind a service's `configs:` or `secrets:` that point at top-level entries with `file:`. */
function fileReferences(references: unknown, topLevel: Record<string, Json>): string[] {
  if (!Array.isArray(references)) return []
  return references.flatMap((reference) => {
    const source = typeof reference === 'string' ? reference : asRecord(reference).source
    const file = typeof source === 'string' ? asRecord(topLevel[source]).file : undefined
    return typeof file === 'string' ? [file] : []
  })
}

const durationSeconds: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, µs: 1e-6, ns: 1e-9 }

/** A compose duration ('10s', '1m30s', '500ms', or a number of seconds) in whole seconds, rounded up; undefined when unreadable. */
export function composeDurationSeconds(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return Math.ceil(value)
  if (typeof value !== 'string' || !/^(\d+(\.\d+)?(h|m|s|ms|us|µs|ns))+$/.test(value)) return undefined
  let seconds = 0
  for (const [, amount, unit] of value.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g))
    seconds += Number(amount) * durationSeconds[unit]
  return Math.ceil(seconds - 1e-9)
}

function wholeNumber(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : fallback
}

/**
 * Why two containers of a service cannot run side by side (compose v2's resolved, long-form
 * definition). Values are not quoted: they may come from the host's .env files.
 */
function runTwiceConflicts(service: Record<string, Json>): string[] {
  const conflicts: string[] = []
  if (typeof service.container_name === 'string') conflicts.push('it has a fixed container_name')
  if (service.network_mode === 'host')
    conflicts.push('it uses network_mode: host (both containers would listen on the same host ports)')
  const ports = Array.isArray(service.ports) ? service.ports : []
  ports.forEach((port, index) => {
    const { published, target } = asRecord(port)
    if (published === undefined || published === null || published === '' || String(published).includes('-')) return
    const to = typeof target === 'number' ? ` (container port ${target})` : ''
    conflicts.push(`its ports entry ${index + 1}${to} publishes a fixed host port, which only one container can bind`)
  })
  for (const settings of Object.values(asRecord(service.networks))) {
    const { ipv4_address: ipv4, ipv6_address: ipv6 } = asRecord(settings)
    if (typeof ipv4 === 'string' || typeof ipv6 === 'string')
      conflicts.push('it has a fixed ipv4_address or ipv6_address on a network')
  }
  const volumes = Array.isArray(service.volumes) ? service.volumes : []
  volumes.forEach((volume, index) => {
    const { type, bind } = asRecord(volume)
    // Docker's documentation: the 'Z' label makes a bind mount's content private and unshared.
    if (type === 'bind' && asRecord(bind).selinux === 'Z') {
      conflicts.push(
        `its volumes entry ${index + 1} is a bind mount labelled Z (private and unshared: a second container cannot use it)`
      )
    }
  })
  return conflicts
}

function startFirstOf(service: Record<string, Json>): StartFirstModel | undefined {
  const deploy = asRecord(service.deploy)
  const update = asRecord(deploy.update_config)
  if (update.order !== 'start-first') return undefined
  return {
    replicas: wholeNumber(deploy.replicas, wholeNumber(service.scale, 1)),
    parallelism: wholeNumber(update.parallelism, 1),
    delaySeconds: composeDurationSeconds(update.delay) ?? 0,
    monitorSeconds: composeDurationSeconds(update.monitor) ?? 5,
    stopGraceSeconds: composeDurationSeconds(service.stop_grace_period) ?? 10,
    conflicts: runTwiceConflicts(service)
  }
}

/**
 * Reduces `compose config` output (v2: JSON, read with JSON.parse; v1: YAML) to what planning
 * needs. The resolved config holds values from env files: nothing else of it is kept, and a
 * parse error may quote it, so callers must not show the error (parseInspection does not).
 */
export function parseComposeModel(text: string, compose: ComposeVariant = 'v1'): ComposeModel {
  const config = asRecord(compose === 'v2' ? JSON.parse(text) : parse(text, { prettyErrors: false }))
  const configs = asRecord(config.configs)
  const secrets = asRecord(config.secrets)
  const services = new Map<string, ServiceModel>()
  for (const [name, value] of Object.entries(asRecord(config.services))) {
    const service = asRecord(value)
    const binds = bindSources(service.volumes)
    const mounts = [
      ...binds.filter((b) => b.readOnly).map((b) => b.source),
      ...fileReferences(service.configs, configs),
      ...fileReferences(service.secrets, secrets)
    ]
    const writable = [...new Set(binds.filter((b) => !b.readOnly).map((b) => b.source))].filter(
      (source) => !mounts.includes(source)
    )
    const startFirst = startFirstOf(service)
    services.set(name, {
      image: typeof service.image === 'string' ? service.image : undefined,
      mounts: [...new Set(mounts)],
      ...(writable.length > 0 && { writableMounts: writable }),
      ...(startFirst && { startFirst })
    })
  }
  return {
    services,
    topLevel: sha256(canonicalJson({ networks: config.networks ?? {}, volumes: config.volumes ?? {} }))
  }
}
