import { setTimeout as sleep } from 'node:timers/promises'
import { UserError } from '../errors'
import type { RepositoryName } from '../names'
import type { GitHubClient } from './client'
import { explainRequestError } from './errors'

/** The fields of a workflow run (GET /repos/{owner}/{repo}/actions/runs/{id}) this module reads. */
export interface WorkflowRun {
  id: number
  name?: string | null
  display_title?: string
  status: string | null
  conclusion: string | null
  html_url: string
  created_at: string
}

/** The token permission listing and reading workflow runs needs. */
export const WORKFLOW_RUNS_PERMISSION = 'Actions: read'

/**
 * The line an infra workflow needs so dispatch-to-infra can find the run its event started:
 * the run's title then carries the correlation id.
 */
export const RUN_NAME_LINE = 'run-name: deploy ${{ github.event.client_payload.correlation_id }}'

/** How far before the dispatch to look for its run, for clock skew between the runner and GitHub. */
export const CLOCK_SKEW_MS = 2 * 60_000

/** Whether the run's title (its `run-name`) or name carries the correlation id. */
export function runCarries(run: Pick<WorkflowRun, 'display_title' | 'name'>, correlationId: string): boolean {
  return Boolean(run.display_title?.includes(correlationId) || run.name?.includes(correlationId))
}

/** The `created` query of GET .../actions/runs for runs created at or after `since` (GitHub's search date syntax). */
export function createdSince(since: Date): string {
  return `>=${since.toISOString().replace(/\.\d{3}Z$/, 'Z')}`
}

/** Where the wait loop reads runs from: GitHub's REST API in the action, a fake in unit tests. */
export interface WorkflowRunSource {
  /**
   * Every run carrying the correlation id that GitHub lists now, in any order: usually one,
   * two when a retried dispatch request was delivered twice.
   */
  find(): Promise<WorkflowRun[]>
  /** One run by id, for a run the listing no longer shows. */
  get(runId: number): Promise<WorkflowRun>
}

export interface RunLookup {
  repository: RepositoryName
  correlationId: string
  /** When the dispatch was sent; runs created well before it are not looked at. */
  dispatchedAt: Date
}

export function githubWorkflowRuns(client: GitHubClient, lookup: RunLookup): WorkflowRunSource {
  const { owner, repo } = lookup.repository
  const purpose = (action: string) => ({ action, repository: `${owner}/${repo}`, permission: WORKFLOW_RUNS_PERMISSION })
  return {
    async find() {
      try {
        const { data } = await client.rest.actions.listWorkflowRunsForRepo({
          owner,
          repo,
          event: 'repository_dispatch',
          created: createdSince(new Date(lookup.dispatchedAt.getTime() - CLOCK_SKEW_MS)),
          per_page: 100
        })
        return data.workflow_runs.filter((run) => runCarries(run, lookup.correlationId))
      } catch (error) {
        throw explainRequestError(error, purpose(`list the repository_dispatch workflow runs of ${owner}/${repo}`))
      }
    },
    async get(runId) {
      try {
        return (await client.rest.actions.getWorkflowRun({ owner, repo, run_id: runId })).data
      } catch (error) {
        throw explainRequestError(error, purpose(`read workflow run ${runId} of ${owner}/${repo}`))
      }
    }
  }
}

/**
 * Lists one repository_dispatch run of the repository, to learn before dispatching whether the
 * token may read its workflow runs (Actions: read): without it, wait mode would start the deploy
 * and then fail the sender's job. A refusal becomes a UserError naming the permission.
 */
export async function checkWorkflowRunsReadable(
  client: GitHubClient,
  repository: RepositoryName,
  workflowToken?: boolean
): Promise<void> {
  const { owner, repo } = repository
  try {
    await client.rest.actions.listWorkflowRunsForRepo({ owner, repo, event: 'repository_dispatch', per_page: 1 })
  } catch (error) {
    throw explainRequestError(error, {
      action: `list the workflow runs of ${owner}/${repo}, which 'wait: true' needs (checked before dispatching, so nothing was sent)`,
      repository: `${owner}/${repo}`,
      permission: WORKFLOW_RUNS_PERMISSION,
      workflowToken
    })
  }
}

export interface Clock {
  now(): number
  sleep(ms: number): Promise<void>
}

export const realClock: Clock = { now: () => Date.now(), sleep: (ms) => sleep(ms) }

/** Polling backoff: 1 s, then 1.5 times longer each time, at most 20 s apart. */
export const POLL_BACKOFF = { initialMs: 1000, factor: 1.5, maxMs: 20_000 } as const

export function nextPollDelay(previousMs: number | undefined): number {
  if (previousMs === undefined) return POLL_BACKOFF.initialMs
  return Math.min(Math.round(previousMs * POLL_BACKOFF.factor), POLL_BACKOFF.maxMs)
}

export interface WaitOptions {
  /** The whole wait, from the call: finding the runs and their completion. */
  timeoutMs: number
  /** How long the first run may take to appear; GitHub creates it within seconds of the dispatch. */
  findTimeoutMs: number
  /** Called once per run when it is first seen, with how many have been seen so far, e.g. to log its URL. */
  onFound?: (run: WorkflowRun, count: number) => void
  /** Called at each poll for each unfinished run. */
  onProgress?: (run: WorkflowRun) => void
  clock?: Clock
}

/** The runs in each result are oldest first, as last seen. */
export type WaitResult =
  /** Every run completed, or one ended without success (waiting longer would not change the outcome). */
  | { state: 'completed'; runs: WorkflowRun[] }
  /** Some run had not completed in time, and none had failed. */
  | { state: 'timed-out'; runs: WorkflowRun[] }
  /** No run carried the correlation id in time. */
  | { state: 'not-found'; runs: [] }
  /** GitHub's API failed (after its retries) during the wait; `runs` may be empty or still running. */
  | { state: 'unreadable'; runs: WorkflowRun[]; error: UserError }

/** Whether a run ended without success (failure, cancelled, timed_out, ...). */
export function runFailed(run: WorkflowRun): boolean {
  return run.status === 'completed' && run.conclusion !== 'success'
}

/** By creation, then id: GitHub's run ids grow, and created_at has whole seconds only. */
export function oldestFirst(runs: WorkflowRun[]): WorkflowRun[] {
  return [...runs].sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id - b.id)
}

/**
 * The one run to report when several carry the correlation id: the oldest that failed, else
 * the oldest still running, else the oldest. Undefined when there are none.
 */
export function runToReport(runs: WorkflowRun[]): WorkflowRun | undefined {
  return runs.find(runFailed) ?? runs.find((run) => run.status !== 'completed') ?? runs[0]
}

/** The runs now: a fresh listing, plus any earlier run it no longer shows (a page of newer runs pushed it off), read by id. */
async function refresh(source: WorkflowRunSource, known: WorkflowRun[]): Promise<WorkflowRun[]> {
  const listed = await source.find()
  const dropped = known.filter((run) => !listed.some((l) => l.id === run.id))
  const reread = await Promise.all(dropped.map((run) => (run.status === 'completed' ? run : source.get(run.id))))
  return oldestFirst([...listed, ...reread])
}

/**
 * Finds the dispatched runs and polls them with backoff until all complete, one fails, or time
 * runs out. Polling lists the runs again, so a second run of the same event (a retried dispatch)
 * is waited for too. A UserError from the source (GitHub's API failing) ends the wait with what
 * was seen: the event was sent, and its run must not be lost.
 */
export async function waitForWorkflowRun(source: WorkflowRunSource, options: WaitOptions): Promise<WaitResult> {
  const clock = options.clock ?? realClock
  const start = clock.now()
  const deadline = start + options.timeoutMs
  const findDeadline = start + Math.min(options.findTimeoutMs, options.timeoutMs)
  let delay: number | undefined
  const pause = async (until: number): Promise<boolean> => {
    const left = until - clock.now()
    if (left <= 0) return false
    delay = nextPollDelay(delay)
    await clock.sleep(Math.min(delay, left))
    return true
  }

  let runs: WorkflowRun[] = []
  const seen = new Set<number>()
  const look = async () => {
    runs = await refresh(source, runs)
    for (const run of runs.filter((r) => !seen.has(r.id))) {
      seen.add(run.id)
      options.onFound?.(run, seen.size)
    }
  }
  const unfinished = () => runs.filter((run) => run.status !== 'completed')

  try {
    await look()
    while (runs.length === 0) {
      if (!(await pause(findDeadline))) return { state: 'not-found', runs: [] }
      await look()
    }
    delay = undefined
    while (unfinished().length > 0 && !runs.some(runFailed)) {
      unfinished().forEach((run) => options.onProgress?.(run))
      if (!(await pause(deadline))) return { state: 'timed-out', runs }
      await look()
    }
    return { state: 'completed', runs }
  } catch (error) {
    if (error instanceof UserError) return { state: 'unreadable', runs, error }
    throw error
  }
}
