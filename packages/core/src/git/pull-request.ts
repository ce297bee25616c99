import type { RepositoryName } from '../names'
import type { GitHubClient } from '../github/client'
import { explainRequestError } from '../github/errors'

export interface PullRequestRequest {
  repository: RepositoryName
  /** The branch with the change. */
  head: string
  /** The branch to merge into. */
  base: string
  title: string
  body: string
  workflowToken?: boolean
}

export interface PullRequest {
  number: number
  url: string
}

/** The token permission `POST /repos/{owner}/{repo}/pulls` needs. */
export const PULL_REQUEST_PERMISSION = 'Pull requests: write'

/** Opens a pull request from a pushed branch; failures become UserErrors saying what to do. */
export async function openPullRequest(client: GitHubClient, request: PullRequestRequest): Promise<PullRequest> {
  const { owner, repo } = request.repository
  try {
    const { data } = await client.rest.pulls.create({
      owner,
      repo,
      head: request.head,
      base: request.base,
      title: request.title,
      body: request.body
    })
    return { number: data.number, url: data.html_url }
  } catch (error) {
    throw explainRequestError(error, {
      action: `open a pull request from '${request.head}' into '${request.base}' of ${owner}/${repo} (the branch is pushed, so it can also be opened by hand)`,
      repository: `${owner}/${repo}`,
      permission: PULL_REQUEST_PERMISSION,
      workflowToken: request.workflowToken
    })
  }
}
