import { UserError, errorMessage } from '../errors'
import type { HostOutcome } from './deployer'

/** A host the run did not deploy to because another host failed first. */
export interface SkippedOutcome {
  host: string
  result: 'skipped'
  /** Why, for the log and the job summary. */
  reason: string
  health: Record<string, string>
  durationMs: 0
  error?: undefined
  plan?: undefined
  removeFailed?: undefined
  removal?: undefined
  stacks?: undefined
  unexpected?: undefined
}

export type Outcome =
  (HostOutcome & { /** What a crashed host's deploy threw (not a UserError). */ unexpected?: unknown }) | SkippedOutcome

/** How to reach and deploy one host; `C` is an open connection. */
export interface HostSteps<T, C extends { close(): void }> {
  nameOf(host: T): string
  /** Opens the connection (host key checked, authenticated); a UserError says why it cannot. */
  connect(host: T): Promise<C>
  deploy(host: T, connection: C, index: number): Promise<HostOutcome>
}

/**
 * Connects to every host first, so a host that cannot be reached (its key not trusted, the
 * deploy key refused, the VM down) fails the run before any host is changed. Then deploys one
 * host at a time (stopping at the first that fails, the rest skipped) or all at once. Every host
 * gets an outcome, whatever happens to the others: a deploy that throws (a bug) is a failed
 * host, so the outputs and the summary still cover each one.
 */
export async function deployHosts<T, C extends { close(): void }>(
  hosts: readonly T[],
  parallel: boolean,
  steps: HostSteps<T, C>
): Promise<Outcome[]> {
  const skipped = (host: T, reason: string): SkippedOutcome => ({
    host: steps.nameOf(host),
    result: 'skipped',
    reason,
    health: {},
    durationMs: 0
  })
  const connections = await Promise.allSettled(hosts.map((host) => steps.connect(host)))
  const unreachable = hosts.filter((_, index) => connections[index].status === 'rejected')
  if (unreachable.length > 0) {
    for (const connection of connections) if (connection.status === 'fulfilled') connection.value.close()
    const reason = `no host was deployed: ${unreachable.map(steps.nameOf).join(', ')} could not be connected to`
    return connections.map((connection, index) =>
      connection.status === 'rejected'
        ? failedHost(steps.nameOf(hosts[index]), connection.reason)
        : skipped(hosts[index], reason)
    )
  }
  const deployOne = async (host: T, index: number): Promise<Outcome> => {
    const connection = (connections[index] as PromiseFulfilledResult<C>).value
    try {
      return await steps.deploy(host, connection, index)
    } catch (error) {
      return failedHost(steps.nameOf(host), error)
    } finally {
      connection.close()
    }
  }
  if (parallel) return Promise.all(hosts.map(deployOne))
  const outcomes: Outcome[] = []
  for (const [index, host] of hosts.entries()) {
    const failed = outcomes.find((o) => o.error)
    if (failed) {
      ;(connections[index] as PromiseFulfilledResult<C>).value.close()
      outcomes.push(skipped(host, `not deployed: ${failed.host} failed before it`))
      continue
    }
    outcomes.push(await deployOne(host, index))
  }
  return outcomes
}

/** A host that failed with a UserError, or whose deploy threw something else (a bug). */
function failedHost(host: string, error: unknown): Outcome {
  if (error instanceof UserError) return { host, result: 'failed', health: {}, error, durationMs: 0 }
  return {
    host,
    result: 'failed',
    health: {},
    error: new UserError(`Unexpected error: ${errorMessage(error)}`, {
      fix: 'This is a bug in gitops-lite: please report it with this log. The state of this host is unknown; rerun the workflow.'
    }),
    unexpected: error,
    durationMs: 0
  }
}

/**
 * What the step fails with, if anything: the one host's error (a crash as itself, so it is
 * reported as unexpected), or one error naming each failed host with its reason and its fix.
 */
export function failureOf(outcomes: readonly Outcome[]): unknown {
  const failures = outcomes.filter((o) => o.error)
  if (failures.length === 0) return undefined
  if (failures.length === 1) return failures[0].unexpected ?? failures[0].error
  return new UserError(
    `The deploy failed on ${failures.length} hosts: ${failures.map((f) => `${f.host}: ${f.error!.message}`).join(' | ')}`,
    {
      fix: failures.map((f) => `${f.host}: ${f.error!.fix ?? 'see its lines in the log above.'}`).join(' ')
    }
  )
}
