import { ROLLBACK_TRAILERS } from '../deploy/rollback'
import type { RepositoryName } from '../names'
import type { GitHubClient } from './client'
import { explainRequestError } from './errors'
import { CLOCK_SKEW_MS } from './workflow-runs'

/** A commit as GET /repos/{owner}/{repo}/commits lists it (the fields read here). */
export interface ListedCommit {
  sha: string
  html_url: string
  commit: { message: string }
}

/** The token permission listing commits needs. */
export const COMMITS_PERMISSION = 'Contents: read'

/** Whether the message has the trailer naming the run (`run` itself or one of its attempts). */
export function restoresAfterRun(message: string, runUrl: string): boolean {
  const prefix = `${ROLLBACK_TRAILERS.run}: `
  return message.split('\n').some((line) => {
    if (!line.startsWith(prefix)) return false
    const value = line.slice(prefix.length).trim()
    return value === runUrl || value.startsWith(`${runUrl}/`)
  })
}

/**
 * The commit that wrote Git back after the run's automatic rollback: a commit of the default
 * branch made since `since` whose Rolled-Back-Run trailer names the run. Undefined when none.
 */
export async function findRestoringCommit(
  client: GitHubClient,
  lookup: { repository: RepositoryName; runUrl: string; since: Date }
): Promise<ListedCommit | undefined> {
  const { owner, repo } = lookup.repository
  try {
    const { data } = await client.rest.repos.listCommits({
      owner,
      repo,
      since: new Date(lookup.since.getTime() - CLOCK_SKEW_MS).toISOString(),
      per_page: 100
    })
    return data.find((commit) => restoresAfterRun(commit.commit.message, lookup.runUrl))
  } catch (error) {
    throw explainRequestError(error, {
      action: `list the commits of ${owner}/${repo}`,
      repository: `${owner}/${repo}`,
      permission: COMMITS_PERMISSION
    })
  }
}
