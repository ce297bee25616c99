import { createHash } from 'node:crypto'
import { posix } from 'node:path'
import { parse } from 'yaml'
import { UserError } from '../errors'
import { parseRecord, type ComposeVariant, type DeployRecord } from './record'
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
  const rerun = 'Nothing was changed on the host (the inspection only reads). See the output above in the log, then rerun.'
  if (!sections.has('end' satisfies InspectionSection)) {
    throw new UserError(`The inspection output from ${host} is incomplete (it stopped before its end)`, {
      fix: `${rerun} A full disk or a killed shell on the host are the usual causes.`
    })
  }
  const section = (name: InspectionSection) => sections.get(name) ?? ''
  const lines = (name: InspectionSection) => section(name).split('\n').filter((line) => line.trim() !== '')
  const [compose, composeVersion = ''] = lines('compose')
  if (compose !== 'v2' && compose !== 'v1') {
    throw new UserError(`The inspection output from ${host} is incomplete (it names no compose variant, v2 or v1)`, { fix: rerun })
  }
  const directory = lines('directory')[0] ?? ''
  let model: ComposeModel
  try {
    model = parseComposeModel(section('config'), compose)
  } catch {
    throw new UserError(`The resolved compose config that ${host} printed could not be read (${compose === 'v2' ? 'not JSON' : 'not YAML'}); it is not shown because it holds values from the host's .env files`, {
      fix: `Nothing was changed on the host. Run '${compose === 'v2' ? 'docker compose config --format json' : 'docker-compose config'}' in remote-dir on the host to see what compose prints, or set compose-command to the other compose, then rerun.`
    })
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
    generation: lines('generation')[0] ?? '0',
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

function parseContainer(line: string): ContainerState {
  const raw = JSON.parse(line) as Record<string, unknown> | null
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || typeof raw.id !== 'string') throw new Error('not a container description')
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

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

function canonicalJson(value: unknown): string {
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
      if (long.type === 'bind' && typeof long.source === 'string') sources.push({ source: long.source, readOnly: long.read_only === true })
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
    const mounts = [...binds.filter((b) => b.readOnly).map((b) => b.source), ...fileReferences(service.configs, configs), ...fileReferences(service.secrets, secrets)]
    const writable = [...new Set(binds.filter((b) => !b.readOnly).map((b) => b.source))].filter((source) => !mounts.includes(source))
    services.set(name, {
      image: typeof service.image === 'string' ? service.image : undefined,
      mounts: [...new Set(mounts)],
      ...(writable.length > 0 && { writableMounts: writable })
    })
  }
  return { services, topLevel: sha256(canonicalJson({ networks: config.networks ?? {}, volumes: config.volumes ?? {} })) }
}
