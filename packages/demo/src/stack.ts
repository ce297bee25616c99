import { existsSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { exec, httpGet } from '@gitops-lite/sandbox'

/** One compose service's container on the VM, as `docker inspect` shows it. */
export interface ServiceContainer {
  service: string
  /** Full container id. */
  id: string
  name: string
  /** The image reference the container was created from (compose's `image:` value). */
  image: string
  /** sha256 id of that image. */
  imageId: string
  status: string
  health?: string
  startedAt: string
  createdAt: string
}

/** The project's containers by service name (sorted), read straight from the engine the VM uses. */
export type StackSnapshot = Record<string, ServiceContainer>

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
export async function snapshotStack(projectName: string): Promise<StackSnapshot> {
  const ids = (
    await exec('docker', ['ps', '-aq', '--no-trunc', '--filter', `label=com.docker.compose.project=${projectName}`])
  ).stdout
    .split('\n')
    .filter(Boolean)
  if (ids.length === 0) return {}
  const inspected = JSON.parse((await exec('docker', ['inspect', ...ids])).stdout) as InspectedContainer[]
  const snapshot: StackSnapshot = {}
  for (const c of inspected.sort((a, b) => a.Name.localeCompare(b.Name))) {
    const service = c.Config.Labels?.['com.docker.compose.service'] ?? c.Name.replace(/^\//, '')
    snapshot[service] = {
      service,
      id: c.Id,
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
