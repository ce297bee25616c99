import {
  RUN_NAME_LINE,
  UserError,
  formatDuration,
  runToReport,
  type ListedCommit,
  type WaitResult,
  type WorkflowRun
} from '@gitops-lite/core'
import { lookupFailedSummary, restoredSummary, runNotFoundSummary, runsSummary } from './report'

/**
 * The `conclusion` output when the wait ended without a conclusion from GitHub. None is one of
 * GitHub's own conclusions (which include `timed_out`), so none can be mistaken for one.
 */
export const WAIT_CONCLUSIONS = {
  'timed-out': 'wait-timeout',
  'not-found': 'run-not-found',
  unreadable: 'unknown'
} as const

export interface WaitContext {
  /** The infra repository, `owner/name`. */
  target: string
  eventType: string
  correlationId: string
  waitTimeoutMs: number
  /** How long the first run had to appear, when shorter than `waitTimeoutMs`. */
  findTimeoutMs: number
}

/** What the wait means for the step. */
export interface DeployOutcome {
  /** The `conclusion` output. */
  conclusion: string
  /** The run `run-id` and `run-url` name (see runToReport); none when no run was seen. */
  run?: WorkflowRun
  /** Lines of HTML for the job summary. */
  summary: string[]
  /** Why the step fails; none when every run succeeded. */
  failure?: UserError
}

/** Re-running sends the event again, so a deploy that may still be running should be looked at first. */
const RERUN_NOTE = 're-running this job would send the event again.'

/** `restoredBy`: the commit that put Git back after the failed run's rollback, when one was found. */
export function deployOutcome(result: WaitResult, context: WaitContext, restoredBy?: ListedCommit): DeployOutcome {
  const run = runToReport(result.runs)
  const summary = (stillRunning = '') => runsSummary(result.runs, context.correlationId, stillRunning)
  switch (result.state) {
    case 'not-found':
      return {
        conclusion: WAIT_CONCLUSIONS['not-found'],
        summary: [runNotFoundSummary(context.target, context.correlationId)],
        failure: new UserError(
          `No repository_dispatch run of ${context.target} has '${context.correlationId}' in its name ${findLimit(context)}`,
          {
            fix: `Check that the infra workflow runs on repository_dispatch (types: [${context.eventType}]) and has the line: ${RUN_NAME_LINE}`
          }
        )
      }
    case 'unreadable': {
      const sent = `The '${context.eventType}' event was sent to ${context.target}`
      const [failed, look] = run
        ? [
            `the deploy run ${run.html_url} may still be running, but reading it failed`,
            'See the run for how the deploy ends'
          ]
        : [
            'its deploy run may still be running, but looking for it failed',
            `Look for the run named with ${context.correlationId} in ${context.target}'s Actions tab`
          ]
      return {
        conclusion: WAIT_CONCLUSIONS.unreadable,
        run,
        summary: run
          ? summary(' when reading it failed; it may still be running')
          : [lookupFailedSummary(context.eventType)],
        failure: new UserError(`${sent}, and ${failed}: ${result.error.message}`, {
          fix: [`${look}; ${RERUN_NOTE}`, result.error.fix].filter(Boolean).join(' ')
        })
      }
    }
    // A completed or timed-out wait holds at least one run.
    case 'timed-out':
      return {
        conclusion: WAIT_CONCLUSIONS['timed-out'],
        run,
        summary: summary(` after ${formatDuration(context.waitTimeoutMs)}`),
        failure: new UserError(
          `The deploy run ${run!.html_url} did not complete within ${formatDuration(context.waitTimeoutMs)}; it is still ${run!.status}${among(result.runs, context)}`,
          { fix: "Look at the run; raise 'wait-timeout' if deploys take longer." }
        )
      }
    case 'completed': {
      const { conclusion, html_url: url } = run!
      if (conclusion === 'success') return { conclusion, run, summary: summary(), failure: undefined }
      const putBack = restoredBy
        ? `; the VMs were rolled back and Git was put back to what they run by ${restoredBy.html_url}`
        : ''
      const failure = new UserError(
        `The deploy run ${url} concluded '${conclusion}'${among(result.runs, context)}${putBack}`,
        {
          fix: restoredBy
            ? 'The change did not stay on the VMs: see the run for why it failed, fix the image or configuration and release again.'
            : 'The change did not reach the VMs: see the run in the infra repository.'
        }
      )
      const restoreLine = restoredBy ? [restoredSummary(restoredBy)] : []
      return { conclusion: conclusion ?? '', run, summary: [...summary(), ...restoreLine], failure }
    }
  }
}

/** `within 2s`, or `within 5m of the dispatch` when the find timeout was the shorter limit. */
function findLimit(context: WaitContext): string {
  const limit = Math.min(context.waitTimeoutMs, context.findTimeoutMs)
  return `within ${formatDuration(limit)}${limit === context.waitTimeoutMs ? '' : ' of the dispatch'}`
}

/** Names the other runs, so a failure of one of two runs of the same event is not a mystery. */
function among(runs: WorkflowRun[], context: WaitContext): string {
  return runs.length > 1 ? ` (one of ${runs.length} runs carrying the correlation id ${context.correlationId})` : ''
}
