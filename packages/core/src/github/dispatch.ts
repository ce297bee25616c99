import { checkDispatchLimits } from '../payload'
import type { RepositoryName } from '../names'
import type { GitHubClient } from './client'
import { explainRequestError } from './errors'

export interface RepositoryDispatch {
  repository: RepositoryName
  eventType: string
  clientPayload: Record<string, unknown>
  /** Set when the token looks like the workflow's GITHUB_TOKEN, so a refusal can say why. */
  workflowToken?: boolean
}

/** The token permission `POST /repos/{owner}/{repo}/dispatches` needs. */
export const DISPATCH_PERMISSION = 'Contents: write'

/** Sends a repository_dispatch event (GitHub answers 204 with no body); failures become UserErrors. */
export async function sendRepositoryDispatch(client: GitHubClient, dispatch: RepositoryDispatch): Promise<void> {
  checkDispatchLimits(dispatch.eventType, dispatch.clientPayload)
  const { owner, repo } = dispatch.repository
  try {
    await client.rest.repos.createDispatchEvent({
      owner,
      repo,
      event_type: dispatch.eventType,
      client_payload: dispatch.clientPayload
    })
  } catch (error) {
    throw explainRequestError(error, {
      action: `send the '${dispatch.eventType}' repository_dispatch event to ${owner}/${repo}`,
      repository: `${owner}/${repo}`,
      permission: DISPATCH_PERMISSION,
      workflowToken: dispatch.workflowToken
    })
  }
}
