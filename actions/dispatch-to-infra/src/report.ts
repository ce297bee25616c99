import { escapeHtml, type ImageUpdate, type ListedCommit, type WorkflowRun } from '@gitops-lite/core'

// The job summary's HTML. Names, images and what GitHub's API replies go through escapeHtml.

function code(text: string): string {
  return `<code>${escapeHtml(text)}</code>`
}

/** The summary's opening line, and one list item per service with its new image. */
export function sentSummary(
  eventType: string,
  target: string,
  updates: readonly ImageUpdate[]
): { line: string; items: string[] } {
  return {
    line: `Sent ${code(eventType)} to ${code(target)}: `,
    items: updates.map((u) => `${code(u.service)}: ${code(`${u.image}:${u.tag}`)}`)
  }
}

export function runNotFoundSummary(target: string, correlationId: string): string {
  return `No run of ${escapeHtml(target)} carried the correlation id ${code(correlationId)}.`
}

export function lookupFailedSummary(eventType: string): string {
  return `The ${code(eventType)} event was sent, but looking for its run failed; it may still be running.`
}

/**
 * A note when several runs carry the correlation id, then one line per run; `stillRunning`
 * ends the line of a run that had not completed.
 */
export function runsSummary(runs: readonly WorkflowRun[], correlationId: string, stillRunning = ''): string[] {
  const several =
    runs.length < 2
      ? []
      : [
          `${runs.length} runs carry the correlation id ${code(correlationId)}: a retried delivery, or several workflows ` +
            'whose run-name carries it. The step fails if any of them fails.'
        ]
  return [...several, ...runs.map((run) => runLine(run, stillRunning))]
}

function runLine(run: WorkflowRun, stillRunning: string): string {
  const link = `<a href="${escapeHtml(run.html_url)}">run ${escapeHtml(String(run.id))}</a>`
  return run.status === 'completed'
    ? `The deploy ${link} concluded ${code(String(run.conclusion))}.`
    : `The deploy ${link} was still ${code(String(run.status))}${stillRunning}.`
}

/** The commit that put Git back to what the VMs run after the failed run's rollback. */
export function restoredSummary(commit: ListedCommit): string {
  return `Git was put back to what the VMs run by <a href="${escapeHtml(commit.html_url)}">${escapeHtml(commit.sha.slice(0, 7))}</a>.`
}
