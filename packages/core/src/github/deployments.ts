import type { RepositoryName } from '../names'
import type { GitHubClient } from './client'
import { explainRequestError } from './errors'

/** The token permission creating deployments and their statuses needs. */
export const DEPLOYMENTS_PERMISSION = 'Deployments: write'

/** The states a deploy reports: running, done, rolled back (failure) or broken (error). */
export type DeploymentState = 'in_progress' | 'success' | 'failure' | 'error'

export interface DeploymentTarget {
  repository: RepositoryName
  /** The environment's name, shown on the repository's Environments page. */
  environment: string
}

export interface DeploymentStatus {
  state: DeploymentState
  /** At most 140 characters (GitHub's limit); longer text is cut. */
  description: string
  /** The workflow run. */
  logUrl: string
  /** Where the environment can be seen, e.g. https://staging.example.com. */
  environmentUrl?: string
}

/** GitHub's limit on a deployment's or status's description. */
const DESCRIPTION_LIMIT = 140

function shorten(text: string): string {
  return text.length > DESCRIPTION_LIMIT ? `${text.slice(0, DESCRIPTION_LIMIT - 3)}...` : text
}

function purpose(target: DeploymentTarget, action: string) {
  const { owner, repo } = target.repository
  return { action, repository: `${owner}/${repo}`, permission: DEPLOYMENTS_PERMISSION }
}

/**
 * Creates a deployment of `sha` to the environment and returns its id. It deploys the commit as
 * it is: no merge of the default branch, no wait for commit statuses.
 */
export async function createDeployment(client: GitHubClient, target: DeploymentTarget, sha: string, description: string): Promise<number> {
  const { owner, repo } = target.repository
  try {
    const { data } = await client.rest.repos.createDeployment({
      owner,
      repo,
      ref: sha,
      environment: target.environment,
      description: shorten(description),
      auto_merge: false,
      required_contexts: []
    })
    // 202 (a merge instead of a deployment) only happens with auto_merge.
    if (!('id' in data)) throw new Error(`GitHub created no deployment: ${data.message ?? 'no message'}`)
    return data.id
  } catch (error) {
    throw explainRequestError(error, purpose(target, `create a deployment of ${sha.slice(0, 12)} to the '${target.environment}' environment of ${owner}/${repo}`))
  }
}

/**
 * Adds a status to the deployment. A success marks the environment's earlier successful
 * deployments inactive (auto_inactive), so the Environments page shows what runs now.
 */
export async function setDeploymentStatus(client: GitHubClient, target: DeploymentTarget, id: number, status: DeploymentStatus): Promise<void> {
  const { owner, repo } = target.repository
  try {
    await client.rest.repos.createDeploymentStatus({
      owner,
      repo,
      deployment_id: id,
      state: status.state,
      description: shorten(status.description),
      log_url: status.logUrl,
      ...(status.environmentUrl && { environment_url: status.environmentUrl }),
      auto_inactive: true
    })
  } catch (error) {
    throw explainRequestError(error, purpose(target, `set the status of deployment ${id} of ${owner}/${repo} to '${status.state}'`))
  }
}
