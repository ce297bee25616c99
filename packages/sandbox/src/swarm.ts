import { setTimeout as sleep } from 'node:timers/promises'
import { exec } from './exec'

/** The label `docker stack deploy` puts on a stack's services, configs, secrets and networks. */
export const STACK_NAMESPACE_LABEL = 'com.docker.stack.namespace'

/** Whether this engine is a node of a swarm. */
export async function swarmActive(): Promise<boolean> {
  const state = await exec('docker', ['info', '--format', '{{.Swarm.LocalNodeState}}'], { allowFailure: true })
  return state.code === 0 && state.stdout.trim() === 'active'
}

/**
 * Makes this engine a single-node swarm unless it is in one already. Returns whether it was
 * initialised here, so that only then is it left again (`leaveSwarm`). 127.0.0.1: the only
 * address the bench may use.
 */
export async function ensureSwarm(): Promise<{ initialised: boolean }> {
  if (await swarmActive()) return { initialised: false }
  await exec('docker', ['swarm', 'init', '--advertise-addr', '127.0.0.1'])
  return { initialised: true }
}

/** Leaves the swarm (a single-node one goes with it); false when the engine was in none. */
export async function leaveSwarm(): Promise<boolean> {
  if (!(await swarmActive())) return false
  await exec('docker', ['swarm', 'leave', '--force'])
  return true
}

async function stackObjects(kind: 'service' | 'config' | 'secret' | 'network', stack: string): Promise<string[]> {
  const listed = await exec('docker', [kind, 'ls', '-q', '--filter', `label=${STACK_NAMESPACE_LABEL}=${stack}`], {
    allowFailure: true
  })
  return listed.code === 0 ? listed.stdout.split('\n').filter(Boolean) : []
}

/**
 * Removes a stack: its services, then (once their tasks are gone, as Docker refuses before) its
 * configs, secrets and networks. Returns false when there was nothing to remove.
 */
export async function removeSwarmStack(stack: string, timeoutMs = 60_000): Promise<boolean> {
  if (!(await swarmActive())) return false
  const services = await stackObjects('service', stack)
  const leftovers = async () =>
    (await Promise.all((['config', 'secret', 'network'] as const).map((kind) => stackObjects(kind, stack)))).flat()
  if (services.length === 0 && (await leftovers()).length === 0) return false
  if (services.length) await exec('docker', ['service', 'rm', ...services])
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const failures: string[] = []
    for (const kind of ['config', 'secret', 'network'] as const) {
      const ids = await stackObjects(kind, stack)
      if (ids.length === 0) continue
      const removed = await exec('docker', [kind, 'rm', ...ids], { allowFailure: true })
      if (removed.code !== 0) failures.push(removed.stderr.trim())
    }
    if (failures.length === 0) return true
    if (Date.now() > deadline) throw new Error(`stack ${stack}: ${failures.join('; ')}`)
    // A network stays in use until the removed services' tasks have stopped.
    await sleep(500)
  }
}
