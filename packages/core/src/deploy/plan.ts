import { posix } from 'node:path'
import { UserError } from '../errors'
import { requirePullableImage } from '../image-ref'
import { isValidServiceName } from '../names'
import type { ComposeVariant, DeployRecord, RecordedService } from './record'
import type { ContainerState, HostReport, StartFirstModel } from './report'

export type ServiceChange =
  /** Not deployed yet: no container, no record. */
  | 'new'
  /** Git changed it: its config hash, or a file it reads, differs from the last deploy. */
  | 'changed'
  /** Git did not change it, but its container is missing, stopped or was recreated by hand. */
  | 'drifted'
  /** Listed in the `services` input although nothing changed. */
  | 'requested'
  /** Redeployed by a full deploy although nothing changed. */
  | 'full'
  | 'unchanged'
  /** Gone from the compose files; its containers are removed. */
  | 'removed'

/**
 * How a deployed service is replaced: `recreate` stops the old container, then starts the new
 * one (compose's way); `start-first` (deploy.update_config.order) starts the new one beside it,
 * waits until it is healthy, then retires the old one.
 */
export type Strategy = 'recreate' | 'start-first'

export interface ServicePlan {
  service: string
  change: ServiceChange
  /** Whether this run recreates it. */
  deploy: boolean
  /** How it is (or would be) replaced; unset for a removed service. */
  strategy?: Strategy
  /** Why a start-first service is recreated this time. */
  strategyNote?: string
  reasons: string[]
  /** Image of the running container. */
  oldImage?: string
  /** Image in the compose files. */
  newImage?: string
  /** Its containers now. */
  containers: string[]
  /** Files it reads and their digests once the new files are in place. */
  inputs: Record<string, string>
  /** Its pre-deploy command (argv), run with the new image before it is recreated; only when deployed. */
  preDeploy?: string[]
}

export interface FilePlan {
  path: string
  change: 'new' | 'changed' | 'same'
  digest: string
}

export interface HostPlan {
  project: string
  compose: ComposeVariant
  directory: string
  generation: string
  full: boolean
  fullReason?: string
  /** Every service of the files, then the removed ones; sorted by name. */
  services: ServicePlan[]
  files: FilePlan[]
  /** Services to recreate. */
  deploy: string[]
  /** Those of `deploy` replaced by stopping the old container first. */
  recreate: string[]
  /** Those of `deploy` replaced start-first, with what their rollout needs. */
  startFirst: StartFirstRollout[]
  removed: ServicePlan[]
  /** Deployed services that did not exist before: a rollback removes them again. */
  newServices: string[]
  /** Deployed services that existed before: a rollback brings back their previous version. */
  previous: string[]
  /** Whether the apply round trip is needed at all. */
  needsApply: boolean
}

export type StartFirstRollout = { service: string } & Omit<StartFirstModel, 'conflicts'>

export interface PlanInput {
  report: HostReport
  uploads: readonly { path: string; digest: string }[]
  /** env_file entries per service, as written in the compose files. */
  envFiles: ReadonlyMap<string, readonly string[]>
  /** Digests of the non-uploaded paths that pathsToDigest named, read on the host. */
  hostDigests: ReadonlyMap<string, string>
  mode: 'surgical' | 'full'
  /** The `services` input: deploy exactly these (and remove nothing). */
  services?: readonly string[]
  /** Pre-deploy commands per service, from the compose files' x-gitops-lite fields. */
  preDeploy?: ReadonlyMap<string, readonly string[]>
}

/** A record is only compared with when the same compose binary wrote it for the same project. */
export function trustedRecord(report: HostReport): DeployRecord | undefined {
  const record = report.record
  return record && record.header.project === report.project && record.header.compose === report.compose
    ? record
    : undefined
}

function uploadedPaths(report: HostReport, uploads: PlanInput['uploads']): Map<string, string> {
  return new Map(uploads.map((file) => [posix.join(report.directory, file.path), file.digest]))
}

/**
 * What the deploy controls of each service's inputs: `tracked` paths (read-only bind mounts,
 * configs/secrets files, env files) whose content counts, and `writable` bind mounts, inside
 * which only uploaded files count (the service may change the rest itself: acme.json, a db).
 */
function readPathsOf(
  report: HostReport,
  envFiles: PlanInput['envFiles']
): Map<string, { tracked: string[]; writable: string[] }> {
  const result = new Map<string, { tracked: string[]; writable: string[] }>()
  for (const [service, model] of report.model.services) {
    const env = (envFiles.get(service) ?? []).map((path) => posix.resolve(report.directory, path))
    result.set(service, { tracked: [...new Set([...model.mounts, ...env])], writable: model.writableMounts ?? [] })
  }
  return result
}

/** The tracked paths services read that are not uploaded: their digests must be read on the host. */
export function pathsToDigest(
  report: HostReport,
  uploads: PlanInput['uploads'],
  envFiles: PlanInput['envFiles']
): string[] {
  const uploaded = uploadedPaths(report, uploads)
  const paths = [...readPathsOf(report, envFiles).values()]
    .flatMap((p) => p.tracked)
    .filter((path) => !uploaded.has(path))
  return [...new Set(paths)].sort()
}

/** Digests of what a service will read: uploaded files (also inside a mounted directory) and tracked host files. */
function inputsOf(
  paths: { tracked: string[]; writable: string[] },
  uploaded: Map<string, string>,
  hostDigests: PlanInput['hostDigests']
): Record<string, string> {
  const inputs: Record<string, string> = {}
  for (const path of [...paths.tracked, ...paths.writable]) {
    const inside = [...uploaded].filter(([file]) => file === path || file.startsWith(`${path}/`))
    for (const [file, digest] of inside) inputs[file] = digest
    const onHost = paths.tracked.includes(path) ? hostDigests.get(path) : undefined
    if (inside.length === 0 && onHost !== undefined && onHost !== 'dir') inputs[path] = onHost
  }
  return Object.fromEntries(Object.entries(inputs).sort(([a], [b]) => (a < b ? -1 : 1)))
}

function isFinishedJob(container: ContainerState): boolean {
  return (
    container.state === 'exited' &&
    container.exitCode === 0 &&
    ['', 'no', 'on-failure'].includes(container.restartPolicy)
  )
}

function relativeTo(directory: string, path: string): string {
  const relative = posix.relative(directory, path)
  return relative.startsWith('..') ? path : relative
}

interface Classification {
  change: ServiceChange
  reasons: string[]
}

function classify(
  hash: string | undefined,
  containers: readonly ContainerState[],
  recorded: RecordedService | undefined,
  inputs: Record<string, string>,
  hostFileDigest: (path: string) => string | undefined,
  describe: (path: string) => string,
  writable: readonly string[] = []
): Classification {
  if (containers.length === 0 && !recorded) return { change: 'new', reasons: ['not deployed yet'] }
  const changed: string[] = []
  if (recorded) {
    if (recorded.configHash !== hash) changed.push('its configuration changed')
    // A record from before writable mounts were left out may list one: the service's own writes are no change.
    const untracked = (path: string) => !(path in inputs) && writable.includes(path)
    for (const path of new Set([...Object.keys(inputs), ...Object.keys(recorded.inputs)])) {
      if (untracked(path)) continue
      if (inputs[path] !== recorded.inputs[path]) changed.push(`${describe(path)} changed`)
    }
  } else {
    // No record of ours: compare with what runs (compose's label) and with the files on the host.
    if (containers.some((c) => c.configHash !== hash))
      changed.push('its configuration differs from the running container')
    for (const [path, digest] of Object.entries(inputs)) {
      const current = hostFileDigest(path)
      if (current !== undefined && current !== digest) changed.push(`${describe(path)} changed`)
    }
  }
  if (changed.length > 0) return { change: 'changed', reasons: changed }
  const drift: string[] = []
  if (recorded) {
    // Git and the record agree, the host's copy does not: someone edited it there. The swap puts
    // it back; the service must be recreated too (a single-file bind mount keeps the old inode).
    for (const [path, digest] of Object.entries(inputs)) {
      const current = hostFileDigest(path)
      if (current !== undefined && current !== digest)
        drift.push(`${describe(path)} was ${current === 'missing' ? 'deleted' : 'edited'} on the host`)
    }
  }
  if (containers.length === 0) drift.push('its container is missing')
  for (const c of containers) {
    if (c.state !== 'running' && !isFinishedJob(c))
      drift.push(`container ${c.name} is ${c.state}${c.state === 'exited' ? ` (code ${c.exitCode})` : ''}`)
    else if (recorded && c.configHash !== recorded.containerHash)
      drift.push(`container ${c.name} was recreated outside gitops-lite`)
  }
  return drift.length > 0 ? { change: 'drifted', reasons: drift } : { change: 'unchanged', reasons: [] }
}

/**
 * Refuses service names compose would read as options (`--remove-orphans`): from the resolved
 * compose files, and from the labels of the project's containers, which anyone on the VM can set.
 */
function checkServiceNames(report: HostReport): void {
  for (const name of report.model.services.keys()) {
    if (!isValidServiceName(name)) {
      throw new UserError(
        `The compose files as the host resolves them define the service ${JSON.stringify(name)}, which is not a valid compose service name`,
        {
          fix: 'Rename it: a service name is 1 to 63 letters, digits, _ . and -, starting with a letter or digit. Nothing was changed on the host.'
        }
      )
    }
  }
  const labelled = report.containers.find((c) => !isValidServiceName(c.service))
  if (labelled) {
    throw new UserError(
      `Container ${JSON.stringify(labelled.name)} of project ${report.project} is labelled with the service ${JSON.stringify(labelled.service)}, which is not a valid compose service name`,
      {
        fix: 'Someone created it by hand on the host: remove it there (docker rm -f), then rerun. Nothing was changed on the host.'
      }
    )
  }
}

/**
 * Refuses, before anything changes, start-first services that cannot run two containers at once
 * (and start-first on docker-compose v1, whose scaling the rollout does not drive).
 */
function refuseStartFirstConflicts(report: HostReport, names: readonly string[]): void {
  const problems = names.flatMap((service) => {
    const startFirst = report.model.services.get(service)?.startFirst
    if (!startFirst) return []
    const conflicts =
      report.compose === 'v2'
        ? startFirst.conflicts
        : ['the host runs docker-compose v1, and start-first needs Compose v2 (docker compose)']
    return conflicts.length > 0 ? [`${service}: ${conflicts.join('; ')}`] : []
  })
  if (problems.length === 0) return
  throw new UserError(
    `deploy.update_config.order is start-first for services that cannot run two containers at once (${problems.join('. ')})`,
    {
      fix:
        'A start-first rollout runs the new container beside the old one. Drop container_name and fixed addresses; publish the service ' +
        'through a reverse proxy on the compose network that reaches it by its service name (see "Zero-downtime rollouts" in ' +
        "docs/guide.md) instead of a fixed host port, or publish a port range or only the container port; don't label a bind " +
        'mount Z. Or remove order: start-first to have the service recreated (stopped, then started). Nothing was changed on the host.'
    }
  )
}

/**
 * Decides, from what the host reported, which services to recreate, which to remove and
 * which files to replace. Pure: the same report always gives the same plan.
 */
export function computePlan(input: PlanInput): HostPlan {
  const { report, uploads, envFiles, hostDigests, mode } = input
  const record = trustedRecord(report)
  const uploaded = uploadedPaths(report, uploads)
  const hostFileDigests = new Map(
    uploads.map((file, index) => [posix.join(report.directory, file.path), report.hostFiles[index]])
  )
  const readPaths = readPathsOf(report, envFiles)
  const describe = (path: string) => relativeTo(report.directory, path)
  const names = [...report.model.services.keys()].sort()
  checkServiceNames(report)

  if (input.services) {
    const unknown = input.services.filter((name) => !report.model.services.has(name))
    if (unknown.length > 0) {
      throw new UserError(
        `Input 'services' names ${unknown.map((n) => JSON.stringify(n)).join(', ')}, which the compose files do not define`,
        {
          fix: `List services of the compose files (${names.join(', ')}), or leave 'services' empty to deploy what changed.`
        }
      )
    }
  }

  refuseStartFirstConflicts(report, names)

  let fullReason: string | undefined
  const topLevelChanged = !input.services && record !== undefined && record.header.topLevel !== report.model.topLevel
  if (mode === 'full') fullReason = "mode is 'full'"
  else if (topLevelChanged) fullReason = 'the top-level networks or volumes changed'

  const services: ServicePlan[] = names.map((service) => {
    const containers = report.containers.filter((c) => c.service === service && !c.oneoff)
    const paths = readPaths.get(service) ?? { tracked: [], writable: [] }
    const inputs = inputsOf(paths, uploaded, hostDigests)
    const { change, reasons } = classify(
      report.hashes.get(service),
      containers,
      record?.services.get(service),
      inputs,
      (p) => hostFileDigests.get(p),
      describe,
      paths.writable
    )
    const requested = input.services?.includes(service)
    const deploy = fullReason !== undefined || (input.services ? requested === true : change !== 'unchanged')
    const shownChange: ServiceChange = change !== 'unchanged' || !deploy ? change : fullReason ? 'full' : 'requested'
    const preDeploy = deploy ? input.preDeploy?.get(service) : undefined
    // New networks or volumes mean new containers for every service: none can run beside its old one.
    const strategyNote =
      report.model.services.get(service)?.startFirst && topLevelChanged
        ? 'not start-first: the top-level networks or volumes changed'
        : undefined
    const strategy: Strategy =
      report.model.services.get(service)?.startFirst && !strategyNote ? 'start-first' : 'recreate'
    return {
      service,
      change: shownChange,
      deploy,
      strategy,
      ...(strategyNote && { strategyNote }),
      reasons:
        shownChange === 'full' ? [fullReason!] : shownChange === 'requested' ? ["listed in 'services'"] : reasons,
      oldImage: containers[0]?.image,
      newImage: report.model.services.get(service)?.image,
      containers: containers.map((c) => c.id),
      inputs,
      ...(preDeploy && { preDeploy: [...preDeploy] })
    }
  })

  const removedNames = input.services
    ? []
    : [
        ...new Set(
          report.containers.filter((c) => !c.oneoff && !report.model.services.has(c.service)).map((c) => c.service)
        )
      ].sort()
  const removed: ServicePlan[] = removedNames.map((service) => {
    const containers = report.containers.filter((c) => c.service === service && !c.oneoff)
    return {
      service,
      change: 'removed',
      deploy: false,
      reasons: ['gone from the compose files'],
      oldImage: containers[0]?.image,
      containers: containers.map((c) => c.id),
      inputs: {}
    }
  })

  const files: FilePlan[] = uploads.map((file, index) => {
    const current = report.hostFiles[index]
    return {
      path: file.path,
      digest: file.digest,
      change: current === undefined || current === 'missing' ? 'new' : current === file.digest ? 'same' : 'changed'
    }
  })

  const deployed = services.filter((s) => s.deploy)
  // Before the lock and the pull: an image docker cannot pull would fail the deploy half-way.
  for (const service of deployed)
    if (service.newImage !== undefined)
      requirePullableImage(service.service, service.newImage, 'in the compose files as the host resolves them')
  return {
    project: report.project,
    compose: report.compose,
    directory: report.directory,
    generation: report.generation,
    full: fullReason !== undefined,
    fullReason,
    services: [...services, ...removed].sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0)),
    files,
    deploy: deployed.map((s) => s.service),
    recreate: deployed.filter((s) => s.strategy === 'recreate').map((s) => s.service),
    startFirst: deployed.flatMap((s) => {
      const model = report.model.services.get(s.service)?.startFirst
      if (s.strategy !== 'start-first' || !model) return []
      const { conflicts: _, ...rollout } = model
      return [{ service: s.service, ...rollout }]
    }),
    removed,
    newServices: deployed.filter((s) => s.change === 'new').map((s) => s.service),
    previous: deployed.filter((s) => s.change !== 'new').map((s) => s.service),
    // Damaged state files are written again by an apply, even one that deploys nothing.
    needsApply:
      deployed.length > 0 ||
      removed.length > 0 ||
      files.some((f) => f.change !== 'same') ||
      !record ||
      report.stateDamage.length > 0
  }
}
