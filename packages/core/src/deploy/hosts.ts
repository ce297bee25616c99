import { UserError, errorMessage } from '../errors'
import type { HostOutcome } from './deployer'

/** A host the run did not reach because an earlier one failed (one at a time). */
export interface SkippedOutcome {
  host: string
  result: 'skipped'
  health: Record<string, string>
  durationMs: 0
  error?: undefined
  plan?: undefined
  removeFailed?: undefined
  unexpected?: undefined
}

export type Outcome = (HostOutcome & { /** What a crashed host's deploy threw (not a UserError). */ unexpected?: unknown }) | SkippedOutcome

/**
 * Deploys to every host, one at a time (stopping at the first that fails, the rest skipped) or
 * all at once. Every host gets an outcome, whatever happens to the others: a deploy that throws
 * (a bug) is a failed host, so the outputs and the summary still cover each one.
 */
export async function deployHosts<T>(
  hosts: readonly T[],
  nameOf: (host: T) => string,
  parallel: boolean,
  deployOne: (host: T, index: number) => Promise<HostOutcome>
): Promise<Outcome[]> {
  const crashed = (host: T, error: unknown): Outcome => ({
    host: nameOf(host),
    result: 'failed',
    health: {},
    error: new UserError(`Unexpected error: ${errorMessage(error)}`, {
      fix: 'This is a bug in gitops-lite: please report it with this log. The state of this host is unknown; rerun the workflow.'
    }),
    unexpected: error,
    durationMs: 0
  })
  if (parallel) {
    const settled = await Promise.allSettled(hosts.map((host, index) => deployOne(host, index)))
    return settled.map((result, index) => (result.status === 'fulfilled' ? result.value : crashed(hosts[index], result.reason)))
  }
  const outcomes: Outcome[] = []
  for (const [index, host] of hosts.entries()) {
    if (outcomes.some((o) => o.error)) {
      outcomes.push({ host: nameOf(host), result: 'skipped', health: {}, durationMs: 0 })
      continue
    }
    outcomes.push(await deployOne(host, index).catch((error: unknown) => crashed(host, error)))
  }
  return outcomes
}

/**
 * What the step fails with, if anything: the one host's error (a crash as itself, so it is
 * reported as unexpected), or one error naming each failed host with its reason and its fix.
 */
export function failureOf(outcomes: readonly Outcome[]): unknown {
  const failures = outcomes.filter((o) => o.error)
  if (failures.length === 0) return undefined
  if (failures.length === 1) return failures[0].unexpected ?? failures[0].error
  return new UserError(`The deploy failed on ${failures.length} hosts: ${failures.map((f) => `${f.host}: ${f.error!.message}`).join(' | ')}`, {
    fix: failures.map((f) => `${f.host}: ${f.error!.fix ?? 'see its lines in the log above.'}`).join(' ')
  })
}
