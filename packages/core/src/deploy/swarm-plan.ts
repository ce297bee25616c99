import { createHash } from 'node:crypto'
import { posix } from 'node:path'
import { UserError } from '../errors'
import { shellCommand } from '../shell'
import type { HostPlan, ServiceChange, ServicePlan } from './plan'
import { RECORD_SCHEMA } from './record'
import { canonicalJson, splitSections, type Json } from './report'

/**
 * The Swarm path (orchestrator: swarm). A service's desired state is its definition as compose
 * renders it with the VM's .env, split into aspects (image, environment, command, ...) each
 * hashed; the deploy labels the service with the hashes, so any manager can tell what changed
 * and why. The host's record keeps the hash of each service's whole spec right after the
 * deploy: a spec that differs from it later was changed by hand (drift).
 */

/** Labels the deploy puts on each service. */
export const swarmLabels = { hash: 'io.gitops-lite.hash', aspects: 'io.gitops-lite.aspects' } as const

/** A service of the stack as the manager runs it. */
export interface SwarmLiveService {
  /** Compose's service name (the Swarm name without `<stack>_`). */
  service: string
  image: string
  /** The image the stack file named (Swarm may have pinned a digest on it since). */
  fileImage: string
  hash: string
  aspects: Record<string, string>
  replicas: number | null
  /** UpdateStatus.State, or null before any update. */
  update: string | null
  /** sha256 of its Spec in JSON. */
  specHash: string
}

export interface SwarmRecordedService {
  kind: 'service'
  service: string
  hash: string
  image?: string
  specHash: string
}

export interface SwarmRecordHeader {
  kind: 'deploy'
  schema: typeof RECORD_SCHEMA
  orchestrator: 'swarm'
  sha: string
  time: string
  runUrl: string
  actor: string
  project: string
  files: Record<string, string>
}

/** A top-level config or secret: where its content comes from. */
export interface SwarmObject {
  kind: 'configs' | 'secrets'
  key: string
  /** Absolute path on the host, for `file:` objects. */
  file?: string
  external: boolean
  /** The definition itself (content:, environment:, ...), for objects without a file. */
  definition: Json
}

export interface SwarmReport {
  directory: string
  project: string
  generation: string
  services: Map<string, Record<string, Json>>
  objects: SwarmObject[]
  /** The top-level networks of the rendered stack, by key. */
  networks: Record<string, Json>
  /** The manager's Docker Engine API version ('' when unknown). */
  apiVersion: string
  live: SwarmLiveService[]
  record?: { header: SwarmRecordHeader; services: Map<string, SwarmRecordedService> }
  /** Digest of each uploaded file as it is on the host now, in upload order. */
  hostFiles: string[]
}

function asRecord(value: unknown): Record<string, Json> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, Json>) : {}
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

function parseLive(line: string, project: string): SwarmLiveService {
  const raw = asRecord(JSON.parse(line))
  const name = String(raw.name ?? '')
  let aspects: Record<string, string> = {}
  try {
    aspects = Object.fromEntries(
      Object.entries(asRecord(JSON.parse(String(raw.aspects ?? '{}')))).map(([k, v]) => [k, String(v)])
    )
  } catch {
    // A label someone else wrote: every aspect counts as changed.
  }
  return {
    service: name.startsWith(`${project}_`) ? name.slice(project.length + 1) : name,
    image: String(raw.image ?? ''),
    fileImage: String(raw.fileImage ?? ''),
    hash: String(raw.hash ?? ''),
    aspects,
    replicas: typeof raw.replicas === 'number' ? raw.replicas : null,
    update: typeof raw.update === 'string' ? raw.update : null,
    specHash: String(raw.specHash ?? '')
  }
}

function parseSwarmRecord(text: string): SwarmReport['record'] {
  let header: SwarmRecordHeader | undefined
  const services = new Map<string, SwarmRecordedService>()
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    let entry: Record<string, Json>
    try {
      entry = asRecord(JSON.parse(line))
    } catch {
      return undefined
    }
    if (entry.kind === 'deploy' && entry.schema === RECORD_SCHEMA && entry.orchestrator === 'swarm')
      header = entry as unknown as SwarmRecordHeader
    else if (entry.kind === 'service' && typeof entry.service === 'string')
      services.set(entry.service, entry as unknown as SwarmRecordedService)
  }
  return header ? { header, services } : undefined
}

/** Reads the Swarm inspection's output; like the Compose one, nothing of it is quoted in an error. */
export function parseSwarmInspection(stdout: string, mark: string, host = 'the host'): SwarmReport {
  const sections = splitSections(stdout, mark)
  const rerun =
    'Nothing was changed on the host (the inspection only reads). See the output above in the log, then rerun.'
  if (!sections.has('end'))
    throw new UserError(`The inspection output from ${host} is incomplete (it stopped before its end)`, { fix: rerun })
  const lines = (name: string) => (sections.get(name) ?? '').split('\n').filter((line) => line.trim() !== '')
  const project = lines('project')[0] ?? ''
  let config: Record<string, Json>
  let live: SwarmLiveService[]
  try {
    config = asRecord(JSON.parse(sections.get('config') ?? ''))
    live = lines('services').map((line) => parseLive(line, project))
  } catch {
    throw new UserError(
      `The rendered stack or the service list that ${host} printed could not be read; it is not shown because it holds values from the host's .env`,
      {
        fix: `${rerun} Run 'docker compose config' and 'docker service ls' on the host to see what they print.`
      }
    )
  }
  const objects: SwarmObject[] = (['configs', 'secrets'] as const).flatMap((kind) =>
    Object.entries(asRecord(config[kind])).map(([key, value]) => {
      const definition = asRecord(value)
      return {
        kind,
        key,
        ...(typeof definition.file === 'string' && { file: definition.file }),
        external: definition.external === true,
        definition: value
      }
    })
  )
  return {
    directory: lines('directory')[0] ?? '',
    project,
    generation: lines('generation')[0] ?? '0',
    services: new Map(Object.entries(asRecord(config.services)).map(([name, value]) => [name, asRecord(value)])),
    objects,
    networks: asRecord(config.networks),
    apiVersion: lines('engine')[0] ?? '',
    live,
    record: parseSwarmRecord(sections.get('record') ?? ''),
    hostFiles: lines('files')
  }
}

/** The parts of a service definition a plan names as the reason it changed; the rest is 'other settings'. */
const aspectKeys: Record<string, (service: Record<string, Json>) => Json> = {
  image: (s) => s.image ?? null,
  environment: (s) => [s.environment ?? null, s.env_file ?? null],
  command: (s) => [s.command ?? null, s.entrypoint ?? null, s.working_dir ?? null, s.user ?? null],
  replicas: (s) => [asRecord(s.deploy).replicas ?? 1, asRecord(s.deploy).mode ?? null],
  resources: (s) => asRecord(s.deploy).resources ?? null,
  labels: (s) => [s.labels ?? null, asRecord(s.deploy).labels ?? null],
  ports: (s) => s.ports ?? null,
  networks: (s) => s.networks ?? null,
  volumes: (s) => s.volumes ?? null,
  healthcheck: (s) => s.healthcheck ?? null,
  'update policy': (s) => [
    asRecord(s.deploy).update_config ?? null,
    asRecord(s.deploy).rollback_config ?? null,
    asRecord(s.deploy).restart_policy ?? null
  ],
  placement: (s) => asRecord(s.deploy).placement ?? null
}
const coveredKeys = new Set([
  'image',
  'environment',
  'env_file',
  'command',
  'entrypoint',
  'working_dir',
  'user',
  'labels',
  'ports',
  'networks',
  'volumes',
  'healthcheck',
  'configs',
  'secrets',
  'depends_on'
])
const coveredDeployKeys = new Set([
  'replicas',
  'mode',
  'resources',
  'labels',
  'update_config',
  'rollback_config',
  'restart_policy',
  'placement'
])

/** Where each config/secret's content comes from, resolved to a digest; undefined when unknown. */
export type ObjectDigest = (object: SwarmObject) => string | undefined

/** The name a config or secret gets in the cluster: by content, since Swarm's objects are immutable. */
export function swarmObjectName(project: string, object: SwarmObject, digest: string): string {
  return `${project}_${object.key}_${digest.replace(/^sha256:/, '').slice(0, 12)}`
}

/** The aspects of a service's desired state and the hash over them. */
export function desiredState(
  service: Record<string, Json>,
  objects: readonly SwarmObject[],
  digestOf: ObjectDigest
): { hash: string; aspects: Record<string, string> } {
  const short = (value: Json) => sha256(canonicalJson(value)).slice(0, 12)
  const aspects: Record<string, string> = {}
  for (const [aspect, pick] of Object.entries(aspectKeys)) aspects[aspect] = short(pick(service))
  for (const kind of ['configs', 'secrets'] as const) {
    const used = Array.isArray(service[kind]) ? (service[kind] as Json[]) : []
    const contents = used.map((entry) => {
      const source = typeof entry === 'string' ? entry : String(asRecord(entry).source ?? '')
      const object = objects.find((o) => o.kind === kind && o.key === source)
      return [entry, object ? (digestOf(object) ?? canonicalJson(object.definition)) : null]
    })
    aspects[kind] = short(contents as Json)
  }
  const rest = Object.fromEntries(Object.entries(service).filter(([key]) => !coveredKeys.has(key)))
  rest.deploy = Object.fromEntries(
    Object.entries(asRecord(service.deploy)).filter(([key]) => !coveredDeployKeys.has(key))
  )
  aspects['other settings'] = short(rest)
  return { hash: sha256(canonicalJson(aspects)).slice(0, 24), aspects }
}

export interface SwarmPlan extends HostPlan {
  /** Per deployed service, what the labels and the record say about it. */
  desired: Map<string, { hash: string; aspects: Record<string, string> }>
  /** Cluster names of the file's configs and secrets, by kind and key (external ones are left alone). */
  objectNames: { configs: Record<string, string>; secrets: Record<string, string> }
  /** Live services gone from the files that this run leaves alone ('prune' is false). */
  kept: string[]
}

export interface SwarmPlanInput {
  report: SwarmReport
  uploads: readonly { path: string; digest: string }[]
  /** Digests of config/secret files that are not uploaded, read on the host. */
  hostDigests: ReadonlyMap<string, string>
  mode: 'surgical' | 'full'
  services?: readonly string[]
  prune: boolean
  /** Pre-deploy commands per service, from the compose files' x-gitops-lite fields. */
  preDeploy?: ReadonlyMap<string, readonly string[]>
}

/** Swarm jobs (service create --mode replicated-job), which pre-deploy commands run as, came with API 1.41. */
export const SWARM_JOB_API = '1.41'

function apiAtLeast(version: string, wanted: string): boolean {
  const [major, minor] = version.split('.').map(Number)
  const [wantedMajor, wantedMinor] = wanted.split('.').map(Number)
  if (!Number.isInteger(major) || !Number.isInteger(minor)) return false
  return major > wantedMajor || (major === wantedMajor && minor >= wantedMinor)
}

/** The config/secret files that are not uploaded: their digests must be read on the host. */
export function swarmPathsToDigest(report: SwarmReport, uploads: SwarmPlanInput['uploads']): string[] {
  const uploaded = new Set(uploads.map((f) => posix.join(report.directory, f.path)))
  return [
    ...new Set(report.objects.flatMap((o) => (o.file && !o.external && !uploaded.has(o.file) ? [o.file] : [])))
  ].sort()
}

function stripDigest(image: string): string {
  return image.replace(/@sha256:[0-9a-f]+$/, '')
}

function classify(
  desired: { hash: string; aspects: Record<string, string> },
  live: SwarmLiveService | undefined,
  recorded: SwarmRecordedService | undefined
): { change: ServiceChange; reasons: string[] } {
  if (!live)
    return recorded
      ? { change: 'drifted', reasons: ['its service is missing from the swarm'] }
      : { change: 'new', reasons: ['not deployed yet'] }
  if (live.hash !== desired.hash) {
    if (Object.keys(live.aspects).length === 0)
      return { change: 'changed', reasons: ['not deployed by gitops-lite yet'] }
    const changed = Object.keys(desired.aspects).filter((aspect) => live.aspects[aspect] !== desired.aspects[aspect])
    return {
      change: 'changed',
      reasons: changed.length > 0 ? changed.map((aspect) => `${aspect} changed`) : ['its definition changed']
    }
  }
  const drift: string[] = []
  if (stripDigest(live.image) !== stripDigest(live.fileImage))
    drift.push(`its image was changed by hand to ${stripDigest(live.image)}`)
  if (recorded && recorded.specHash !== live.specHash && drift.length === 0)
    drift.push('its spec was changed outside gitops-lite (docker service update)')
  if (live.update === 'paused') drift.push('its last update is paused')
  return drift.length > 0 ? { change: 'drifted', reasons: drift } : { change: 'unchanged', reasons: [] }
}

/** Decides, from what the manager reported, which services to deploy and which to remove. Pure. */
export function computeSwarmPlan(input: SwarmPlanInput): SwarmPlan {
  const { report, uploads, hostDigests, mode } = input
  const names = [...report.services.keys()].sort()
  if (input.services) {
    const unknown = input.services.filter((name) => !report.services.has(name))
    if (unknown.length > 0) {
      throw new UserError(
        `Input 'services' names ${unknown.map((n) => JSON.stringify(n)).join(', ')}, which the compose files do not define`,
        {
          fix: `List services of the compose files (${names.join(', ')}), or leave 'services' empty to deploy what changed.`
        }
      )
    }
  }
  const record = report.record?.header.project === report.project ? report.record : undefined
  const uploaded = new Map(uploads.map((f) => [posix.join(report.directory, f.path), f.digest]))
  const digestOf: ObjectDigest = (object) =>
    object.file ? (uploaded.get(object.file) ?? hostDigests.get(object.file)) : undefined
  const missing = report.objects.filter(
    (o) => o.file && !o.external && ['missing', 'dir', 'other', 'unreadable', undefined].includes(digestOf(o))
  )
  if (missing.length > 0) {
    throw new UserError(
      `The ${missing.map((o) => `${o.kind.slice(0, -1)} '${o.key}' (${o.file})`).join(', ')} of the compose files cannot be read on the host`,
      {
        fix: "Add the file to 'files' so it is uploaded, or create it on the host. Nothing was changed on the host."
      }
    )
  }
  const objectNames: SwarmPlan['objectNames'] = { configs: {}, secrets: {} }
  for (const object of report.objects) {
    if (object.external) continue
    objectNames[object.kind][object.key] = swarmObjectName(
      report.project,
      object,
      digestOf(object) ?? sha256(canonicalJson(object.definition))
    )
  }
  const fullReason = mode === 'full' ? "mode is 'full'" : undefined
  const desired = new Map<string, { hash: string; aspects: Record<string, string> }>()
  const services: ServicePlan[] = names.map((service) => {
    const definition = report.services.get(service)!
    const state = desiredState(definition, report.objects, digestOf)
    desired.set(service, state)
    const live = report.live.find((l) => l.service === service)
    const { change, reasons } = classify(state, live, record?.services.get(service))
    const deploy =
      fullReason !== undefined || (input.services ? input.services.includes(service) : change !== 'unchanged')
    const shown: ServiceChange = change !== 'unchanged' || !deploy ? change : fullReason ? 'full' : 'requested'
    const preDeploy = deploy ? input.preDeploy?.get(service) : undefined
    return {
      service,
      change: shown,
      deploy,
      strategy:
        asRecord(asRecord(definition.deploy).update_config).order === 'start-first' ? 'start-first' : 'recreate',
      reasons: shown === 'full' ? [fullReason!] : shown === 'requested' ? ["listed in 'services'"] : reasons,
      // The file's reference as deployed (its digest pin kept, for a restore to write back) unless changed by hand.
      oldImage: live
        ? stripDigest(live.image) === stripDigest(live.fileImage)
          ? live.fileImage
          : stripDigest(live.image)
        : undefined,
      newImage: typeof definition.image === 'string' ? definition.image : undefined,
      containers: [],
      inputs: {},
      ...(preDeploy && { preDeploy: [...preDeploy] })
    }
  })
  const jobs = services.filter((s) => s.preDeploy).map((s) => s.service)
  if (jobs.length > 0 && !apiAtLeast(report.apiVersion, SWARM_JOB_API)) {
    throw new UserError(
      `The pre-deploy command of ${jobs.join(', ')} runs as a Swarm job, which needs Docker Engine API ${SWARM_JOB_API} (Docker 20.10) or newer on the manager; ${report.apiVersion ? `it speaks API ${report.apiVersion}` : 'its API version could not be read'}`,
      {
        fix: 'Upgrade Docker on the swarm to 20.10 or newer, or run the command another way and remove x-gitops-lite.pre-deploy from the compose file. Nothing was changed.'
      }
    )
  }
  const gone: ServicePlan[] = input.services
    ? []
    : report.live
        .filter((l) => !report.services.has(l.service))
        .map((l) => ({
          service: l.service,
          change: 'removed' as const,
          deploy: false,
          reasons: input.prune
            ? ['gone from the compose files']
            : ["gone from the compose files; kept, as 'prune' is false"],
          oldImage: stripDigest(l.image),
          containers: [],
          inputs: {}
        }))
  const removed = input.prune ? gone : []
  const files = uploads.map((file, index) => {
    const current = report.hostFiles[index]
    return {
      path: file.path,
      digest: file.digest,
      change:
        current === undefined || current === 'missing'
          ? ('new' as const)
          : current === file.digest
            ? ('same' as const)
            : ('changed' as const)
    }
  })
  const deployed = services.filter((s) => s.deploy)
  return {
    project: report.project,
    compose: 'v2',
    directory: report.directory,
    generation: report.generation,
    full: fullReason !== undefined,
    fullReason,
    services: [...services, ...gone].sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0)),
    files,
    deploy: deployed.map((s) => s.service),
    recreate: [],
    startFirst: [],
    removed,
    kept: input.prune ? [] : gone.map((s) => s.service),
    newServices: deployed.filter((s) => s.change === 'new').map((s) => s.service),
    previous: deployed
      .filter((s) => s.change !== 'new' && report.live.some((l) => l.service === s.service))
      .map((s) => s.service),
    needsApply: deployed.length > 0 || removed.length > 0 || files.some((f) => f.change !== 'same') || !record,
    desired,
    objectNames
  }
}

/**
 * The compose file the apply adds with -f when it renders the stack: content-named configs and
 * secrets, and the labels that say what each deployed service's definition is.
 */
export function swarmOverride(plan: SwarmPlan): string {
  const services: Record<string, Json> = {}
  for (const service of plan.deploy) {
    const state = plan.desired.get(service)!
    services[service] = {
      deploy: { labels: { [swarmLabels.hash]: state.hash, [swarmLabels.aspects]: canonicalJson(state.aspects) } }
    }
  }
  const named = (names: Record<string, string>) =>
    Object.fromEntries(Object.entries(names).map(([key, name]) => [key, { name }]))
  const override: Record<string, Json> = { services }
  if (Object.keys(plan.objectNames.configs).length > 0) override.configs = named(plan.objectNames.configs)
  if (Object.keys(plan.objectNames.secrets).length > 0) override.secrets = named(plan.objectNames.secrets)
  return JSON.stringify(override)
}

/** A network the stack's services join; `docker stack deploy` creates the stack's own ones. */
export interface SwarmNetwork {
  name: string
  external: boolean
  /** `docker network create` options, as `stack deploy` would give it. */
  options: string[]
}

/** A pre-deploy command as a Swarm one-off job, and the networks it joins (which must exist before it runs). */
/** A config or secret a job mounts; `docker stack deploy` creates (or adopts) those with a file. */
export interface SwarmJobObject {
  kind: 'config' | 'secret'
  name: string
  /** The file on the host its content comes from; absent for an external one. */
  file?: string
}

export interface SwarmPreDeployJob {
  service: string
  networks: SwarmNetwork[]
  /** The configs and secrets it mounts, which must exist before it runs. */
  objects: SwarmJobObject[]
  /** `docker service create` options (before the image). */
  options: string[]
  image: string
  command: string[]
}

function stringList(value: Json | undefined): string[] {
  if (typeof value === 'string') return [value]
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []
}

/** The network of the stack under `key`, named as `docker stack deploy` names it. */
function stackNetwork(report: SwarmReport, key: string): SwarmNetwork {
  const definition = asRecord(report.networks[key])
  const name = typeof definition.name === 'string' ? definition.name : `${report.project}_${key}`
  if (definition.external === true) return { name, external: true, options: [] }
  const options = ['--driver', typeof definition.driver === 'string' ? definition.driver : 'overlay']
  if (definition.attachable === true) options.push('--attachable')
  if (definition.internal === true) options.push('--internal')
  for (const [option, value] of Object.entries(asRecord(definition.driver_opts)))
    options.push('--opt', `${option}=${String(value)}`)
  for (const [label, value] of Object.entries(asRecord(definition.labels)))
    options.push('--label', `${label}=${String(value)}`)
  return { name, external: false, options }
}

/** One field of a --config/--secret value, which docker reads as CSV. */
function csvField(field: string): string {
  return /[",\n]/.test(field) ? `"${field.replace(/"/g, '""')}"` : field
}

/**
 * The configs or secrets a service mounts, as `stack deploy` gives them (default target: the
 * key, which is /run/secrets/<key> for a secret and /<key> for a config), and their --config or
 * --secret options. Objects neither external nor from a file (which stack deploy cannot make
 * either on older engines) are left out.
 */
function jobObjects(
  report: SwarmReport,
  plan: SwarmPlan,
  definition: Record<string, Json>,
  kind: 'configs' | 'secrets'
): { objects: SwarmJobObject[]; options: string[] } {
  const objects: SwarmJobObject[] = []
  const options: string[] = []
  const entries = Array.isArray(definition[kind]) ? (definition[kind] as Json[]) : []
  for (const entry of entries) {
    const use = typeof entry === 'string' ? { source: entry } : asRecord(entry)
    const object = report.objects.find((o) => o.kind === kind && o.key === use.source)
    if (!object || (!object.external && !object.file)) continue
    const definitionName = asRecord(object.definition).name
    const name = object.external
      ? typeof definitionName === 'string'
        ? definitionName
        : object.key
      : plan.objectNames[kind][object.key]
    const kindWord = kind === 'configs' ? 'config' : 'secret'
    objects.push({ kind: kindWord, name, ...(!object.external && { file: object.file }) })
    const fields = [`source=${name}`, `target=${typeof use.target === 'string' ? use.target : object.key}`]
    for (const field of ['uid', 'gid', 'mode'] as const)
      if (use[field] !== undefined && use[field] !== null) fields.push(`${field}=${String(use[field])}`)
    options.push(`--${kindWord}`, fields.map(csvField).join(','))
  }
  return { objects, options }
}

/**
 * How each deployed service's pre-deploy command runs on the swarm: a one-off job with the new
 * image, the service's entrypoint, user, working directory, placement, networks, configs and
 * secrets (the host adds
 * its environment from the stack it renders, and the registry logins). Like compose run, the
 * command replaces the service's command; nothing else of the service (ports, aliases) is given.
 */
export function swarmPreDeployJobs(report: SwarmReport, plan: SwarmPlan): SwarmPreDeployJob[] {
  return plan.services.flatMap((service) => {
    const definition = report.services.get(service.service)
    if (!service.deploy || !service.preDeploy || !definition || typeof definition.image !== 'string') return []
    const keys = Array.isArray(definition.networks)
      ? stringList(definition.networks)
      : Object.keys(definition.networks ? asRecord(definition.networks) : { default: null })
    const networks = keys.sort().map((key) => stackNetwork(report, key))
    const options = networks.flatMap((network) => ['--network', network.name])
    const entrypoint = stringList(definition.entrypoint)
    if (entrypoint.length > 0) options.push('--entrypoint', shellCommand(entrypoint))
    if (typeof definition.user === 'string') options.push('--user', definition.user)
    if (typeof definition.working_dir === 'string') options.push('--workdir', definition.working_dir)
    for (const constraint of stringList(asRecord(asRecord(definition.deploy).placement).constraints))
      options.push('--constraint', constraint)
    const configs = jobObjects(report, plan, definition, 'configs')
    const secrets = jobObjects(report, plan, definition, 'secrets')
    options.push(...configs.options, ...secrets.options)
    return [
      {
        service: service.service,
        networks,
        objects: [...configs.objects, ...secrets.objects],
        options,
        image: definition.image,
        command: service.preDeploy
      }
    ]
  })
}
