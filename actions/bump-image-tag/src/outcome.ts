import type { ServiceUpdate } from '@gitops-lite/core'

/** How the run ended: whether the files changed (or would, in a dry run), and where the change went. */
export interface BumpResult {
  changed: boolean
  commitSha?: string
  pullRequestUrl?: string
  /** The unified diff of the change; empty when nothing changed. */
  diff: string
  /** The images came from another environment's compose file ('from-file'). */
  promoted: boolean
}

/** The step's outputs, by name. */
export function bumpOutputs(updates: readonly ServiceUpdate[], result: BumpResult): Record<string, string> {
  const changedUpdates = result.changed ? updates.filter((u) => u.changed) : []
  return {
    changed: String(result.changed),
    services: JSON.stringify(changedUpdates.map((u) => u.service)),
    previous: JSON.stringify(Object.fromEntries(changedUpdates.map((u) => [u.service, u.previous]))),
    image: [...new Set(updates.map((u) => u.image))].join('\n'),
    'commit-sha': result.commitSha ?? '',
    'pull-request-url': result.pullRequestUrl ?? '',
    diff: result.diff,
    promoted: result.promoted
      ? JSON.stringify(Object.fromEntries(changedUpdates.map((u) => [u.service, { from: u.previous, to: u.image }])))
      : ''
  }
}
