import { existsSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { exec, httpGet, STACK_NAMESPACE_LABEL, swarmActive } from '@gitops-lite/sandbox'

/** What runs one service, as the sandbox compares it before and after a release. */
export interface ServiceSnapshot {
  service: string
  /**
   * Changes exactly when the service is replaced: on Compose its container id, on Swarm its
   * spec version and running task ids.
   */
  id: string
  /** The id as the narrative and the table print it. */
  ref: string
  /** The image reference the service runs (the compose file's `image:` value). */
  image: string
  status: string
  health?: string
  /** When the container started (Compose) or the service's spec last changed (Swarm). */
  startedAt: string
}

/** One compose service's container on the VM, as `docker inspect` shows it. */
export interface ServiceContainer extends ServiceSnapshot {
  /** Full container id. */
  id: string
  name: string
  /** sha256 id of the image. */
  imageId: string
  createdAt: string
}

/** One running task of a Swarm service. */
export interface SwarmTask {
  id: string
  container: string
  health?: string
}

/** One service of a Swarm stack, as `docker service inspect` and its running tasks show it. */
export interface SwarmService extends ServiceSnapshot {
  /** The spec's version: `docker stack deploy` moves it for every service it is handed. */
  version: number
  updatedAt: string
  /** null for a global service. */
  replicas: number | null
  /** UpdateStatus.State of the last rolling update (completed, paused, rollback_completed...). */
  updateState?: string
  /** Tasks whose desired state is running, by id. */
  tasks: SwarmTask[]
}

/** The stack's services by name (sorted), read straight from the engine the VM uses. */
export type StackSnapshot = Record<string, ServiceSnapshot>

interface InspectedContainer {
  Id: string
  Name: string
  Created: string
  Image: string
  Config: { Image: string; Labels: Record<string, string> | null }
  State: { Status: string; StartedAt: string; Health?: { Status: string } }
}

/**
 * Reads the compose project's containers. The sandbox only looks: deploying is the action's job.
 * (The "VM" shares this machine's Docker engine, so no SSH is needed to look.)
 */
export async function snapshotStack(projectName: string): Promise<Record<string, ServiceContainer>> {
  const ids = (
    await exec('docker', ['ps', '-aq', '--no-trunc', '--filter', `label=com.docker.compose.project=${projectName}`])
  ).stdout
    .split('\n')
    .filter(Boolean)
  if (ids.length === 0) return {}
  const inspected = JSON.parse((await exec('docker', ['inspect', ...ids])).stdout) as InspectedContainer[]
  const snapshot: Record<string, ServiceContainer> = {}
  for (const c of inspected.sort((a, b) => a.Name.localeCompare(b.Name))) {
    const service = c.Config.Labels?.['com.docker.compose.service'] ?? c.Name.replace(/^\//, '')
    snapshot[service] = {
      service,
      id: c.Id,
      ref: shortId(c.Id),
      name: c.Name.replace(/^\//, ''),
      image: c.Config.Image,
      imageId: c.Image,
      status: c.State.Status,
      health: c.State.Health?.Status,
      startedAt: c.State.StartedAt,
      createdAt: c.Created
    }
  }
  return snapshot
}

/** `docker service inspect`, the parts the snapshot reads. */
export interface InspectedService {
  ID: string
  Version: { Index: number }
  UpdatedAt: string
  Spec: {
    Name: string
    Mode: { Replicated?: { Replicas?: number }; Global?: object }
    TaskTemplate: { ContainerSpec: { Image: string } }
  }
  UpdateStatus?: { State?: string }
}

/** `docker inspect --type task`, the parts the snapshot reads. */
export interface InspectedTask {
  ID: string
  ServiceID: string
  DesiredState: string
  Status: { State: string; ContainerStatus?: { ContainerID?: string } }
}

/** `docker inspect` of a task's container: only its health. */
export interface InspectedTaskContainer {
  Id: string
  State: { Health?: { Status: string } }
}

/**
 * A stack's services from what the engine says of them (pure: `snapshotSwarmStack` gathers it).
 * A service counts as replaced when its spec version or its set of running tasks changed.
 */
export function parseSwarmStack(
  stack: string,
  services: readonly InspectedService[],
  tasks: readonly InspectedTask[],
  containers: readonly InspectedTaskContainer[]
): Record<string, SwarmService> {
  const health = new Map(containers.map((c) => [c.Id, c.State.Health?.Status]))
  const snapshot: Record<string, SwarmService> = {}
  const named = services.map((s) => ({ s, name: s.Spec.Name.replace(new RegExp(`^${stack}_`), '') }))
  for (const { s, name } of named.sort((a, b) => a.name.localeCompare(b.name))) {
    const running = tasks
      .filter((t) => t.ServiceID === s.ID && t.DesiredState === 'running' && t.Status.State === 'running')
      .map((t) => {
        const container = t.Status.ContainerStatus?.ContainerID ?? ''
        return { id: t.ID, container, health: health.get(container) }
      })
      .sort((a, b) => a.id.localeCompare(b.id))
    const replicas = s.Spec.Mode.Replicated ? (s.Spec.Mode.Replicated.Replicas ?? 1) : null
    const healths = [...new Set(running.map((t) => t.health ?? 'no healthcheck'))]
    snapshot[name] = {
      service: name,
      id: `${s.Version.Index}:${running.map((t) => t.id).join(',')}`,
      ref: `spec v${s.Version.Index}`,
      image: s.Spec.TaskTemplate.ContainerSpec.Image,
      status: `${running.length}/${replicas ?? running.length} running`,
      health: healths.length === 1 && healths[0] !== 'no healthcheck' ? healths[0] : undefined,
      startedAt: s.UpdatedAt,
      version: s.Version.Index,
      updatedAt: s.UpdatedAt,
      replicas,
      updateState: s.UpdateStatus?.State,
      tasks: running
    }
  }
  return snapshot
}

/**
 * Reads a Swarm stack's services and their running tasks (the "VM" is a manager of this
 * engine's swarm, so no SSH is needed to look). Empty when the engine is in no swarm.
 */
export async function snapshotSwarmStack(stack: string): Promise<Record<string, SwarmService>> {
  if (!(await swarmActive())) return {}
  // allowFailure: `stack ps` fails when the stack has no task left.
  const lines = async (args: string[]) =>
    (await exec('docker', args, { allowFailure: true })).stdout.split('\n').filter(Boolean)
  const inspect = async <T>(args: string[]) => JSON.parse((await exec('docker', args)).stdout) as T[]
  const serviceIds = await lines(['service', 'ls', '-q', '--filter', `label=${STACK_NAMESPACE_LABEL}=${stack}`])
  if (serviceIds.length === 0) return {}
  const services = await inspect<InspectedService>(['service', 'inspect', ...serviceIds])
  const taskIds = await lines(['stack', 'ps', '-q', '--no-trunc', '--filter', 'desired-state=running', stack])
  const tasks = taskIds.length ? await inspect<InspectedTask>(['inspect', '--type', 'task', ...taskIds]) : []
  const containerIds = tasks.map((t) => t.Status.ContainerStatus?.ContainerID).filter((id): id is string => !!id)
  // A container can go between the reads: docker inspect then fails, but still prints the others.
  const inspected = containerIds.length
    ? (await exec('docker', ['inspect', '--type', 'container', ...containerIds], { allowFailure: true })).stdout.trim()
    : ''
  const containers = inspected.startsWith('[') ? (JSON.parse(inspected) as InspectedTaskContainer[]) : []
  return parseSwarmStack(stack, services, tasks, containers)
}

export interface HttpProbe {
  url: string
  /** null when nothing answered. */
  status: number | null
  body: string
}

export async function probe(url: string): Promise<HttpProbe> {
  const response = await httpGet(url, 3000)
  return { url, status: response?.status ?? null, body: response?.body ?? '' }
}

/** One line of the deploy action's append-only audit log on the host (JSON lines). */
export type AuditEntry = Record<string, unknown>

/**
 * The deploy action's audit log under the host's remote-dir: the first `*.jsonl` / `*audit*`
 * file found (its name is the action's business), parsed line by line.
 */
export async function readAuditLog(remoteDir: string): Promise<{ path: string; entries: AuditEntry[] } | undefined> {
  const candidates: string[] = []
  const walk = async (dir: string, depth: number) => {
    if (!existsSync(dir)) return
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory() && depth < 3) await walk(path, depth + 1)
      else if (entry.isFile() && /audit|\.jsonl$/i.test(entry.name)) candidates.push(path)
    }
  }
  await walk(remoteDir, 0)
  const path = candidates.sort((a, b) => Number(/audit/i.test(b)) - Number(/audit/i.test(a)))[0]
  if (!path) return undefined
  const entries = (await readFile(path, 'utf8'))
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      try {
        return JSON.parse(line) as AuditEntry
      } catch {
        return { unparsed: line }
      }
    })
  return { path, entries }
}

/** A short container id, as `docker ps` shows it. */
export function shortId(id: string | undefined): string {
  return id ? id.replace(/^sha256:/, '').slice(0, 12) : '-'
}
