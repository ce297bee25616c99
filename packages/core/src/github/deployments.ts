import { UserError } from '../errors'
import type { Inputs } from '../inputs'
import { parseRepositoryName, type RepositoryName } from '../names'
import { actionsLog, type GitHubClient, type GitHubLog } from './client'
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

/** What a workflow asks to report: the environment (of the repository running it), its URL, the token. */
export interface DeploymentRequest {
  target: DeploymentTarget
  environmentUrl?: string
  token: string
}

/**
 * Reads the inputs that ask for a deployment report (their names differ per action); undefined
 * when the environment input is empty. `repository` is GITHUB_REPOSITORY, where it is reported.
 */
export function readDeploymentRequest(
  inputs: Inputs,
  names: { environment: string; environmentUrl: string; token: string },
  repository: string
): DeploymentRequest | undefined {
  const environment = inputs.string(names.environment)
  const environmentUrl = inputs.string(names.environmentUrl)
  const token = inputs.secret(names.token)
  if (environment === '') {
    if (environmentUrl === '') return undefined
    throw new UserError(`Input '${names.environmentUrl}' is set but '${names.environment}' is empty`, {
      fix: `Set '${names.environment}' to the GitHub environment the URL belongs to, e.g. staging.`
    })
  }
  if (environment.length > 255 || /\p{Cc}/u.test(environment)) {
    throw new UserError(
      `Input '${names.environment}' ${JSON.stringify(environment)} is not a GitHub environment name`,
      {
        fix: 'Use a name of at most 255 characters on one line, e.g. production or staging.'
      }
    )
  }
  if (environmentUrl !== '' && !/^https?:\/\/\S+$/.test(environmentUrl)) {
    throw new UserError(`Input '${names.environmentUrl}' ${JSON.stringify(environmentUrl)} is not an http(s) URL`, {
      fix: 'Give the address where the environment can be seen, e.g. https://staging.example.com.'
    })
  }
  if (token === '') {
    throw new UserError(
      `Input '${names.token}' is empty, but '${names.environment}' needs it to report the deployment to GitHub`,
      {
        fix: `Leave '${names.token}' at its default (github.token) and give the job 'permissions: deployments: write'.`
      }
    )
  }
  const parsed = parseRepositoryName(repository)
  if (!parsed) {
    throw new UserError(
      `GITHUB_REPOSITORY ${JSON.stringify(repository)} is not owner/name, so the deployment cannot be reported`,
      {
        fix: `Run the action in a GitHub Actions workflow, or leave '${names.environment}' empty.`
      }
    )
  }
  return { target: { repository: parsed, environment }, environmentUrl: environmentUrl || undefined, token }
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
export async function createDeployment(
  client: GitHubClient,
  target: DeploymentTarget,
  sha: string,
  description: string
): Promise<number> {
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
    throw explainRequestError(
      error,
      purpose(
        target,
        `create a deployment of ${sha.slice(0, 12)} to the '${target.environment}' environment of ${owner}/${repo}`
      )
    )
  }
}

/**
 * Adds a status to the deployment. A success marks the environment's earlier successful
 * deployments inactive (auto_inactive), so the Environments page shows what runs now.
 */
export async function setDeploymentStatus(
  client: GitHubClient,
  target: DeploymentTarget,
  id: number,
  status: DeploymentStatus
): Promise<void> {
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
    throw explainRequestError(
      error,
      purpose(target, `set the status of deployment ${id} of ${owner}/${repo} to '${status.state}'`)
    )
  }
}

export interface DeploymentRun {
  /** The commit deployed. */
  sha: string
  /** The deployment's description, e.g. who started it. */
  description: string
  /** The workflow run, linked from every status. */
  logUrl: string
  environmentUrl?: string
  log?: GitHubLog
}

/** A deployment in progress; `finish` sets its final state. */
export interface StartedDeployment {
  id: number
  finish(state: DeploymentState, description: string): Promise<void>
}

/**
 * Creates the deployment and marks it in progress: a token that may not do so fails here, before
 * the deploy changes anything. A final status GitHub refuses is only a warning: by then the
 * deploy has happened (or not) whatever GitHub answers.
 */
export async function startDeployment(
  client: GitHubClient,
  target: DeploymentTarget,
  run: DeploymentRun
): Promise<StartedDeployment> {
  const log = run.log ?? actionsLog
  const status = (state: DeploymentState, description: string): DeploymentStatus => ({
    state,
    description,
    logUrl: run.logUrl,
    environmentUrl: run.environmentUrl
  })
  const id = await createDeployment(client, target, run.sha, run.description)
  await setDeploymentStatus(client, target, id, status('in_progress', 'Deploying'))
  log.info(`Reporting to GitHub as deployment ${id} to the '${target.environment}' environment`)
  return {
    id,
    async finish(state, description) {
      try {
        await setDeploymentStatus(client, target, id, status(state, description))
      } catch (error) {
        if (!(error instanceof UserError)) throw error
        log.warning(error.describe())
      }
    }
  }
}
