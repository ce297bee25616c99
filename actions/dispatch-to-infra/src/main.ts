import * as core from '@actions/core'
import { randomUUID } from 'node:crypto'
import {
  Inputs,
  checkDispatchLimits,
  checkWorkflowRunsReadable,
  createDeployPayload,
  createGitHubClient,
  findRestoringCommit,
  formatDuration,
  githubWorkflowRuns,
  looksLikeWorkflowToken,
  readRunnerContext,
  runAction,
  runFailed,
  runToReport,
  sendRepositoryDispatch,
  UserError,
  startDeployment,
  waitForWorkflowRun,
  log,
  type DeploymentRequest,
  type DeploymentState,
  type ListedCommit,
  type RunnerContext,
  type StartedDeployment,
  type WaitResult
} from '@gitops-lite/core'
import { readSettings, type Settings } from './input-helper'
import { WAIT_CONCLUSIONS, deployOutcome } from './outcome'
import { sentSummary } from './report'

/** GitHub shows a dispatched run within seconds; one missing after this is not coming (wrong run-name, no workflow). */
const FIND_TIMEOUT_MS = 5 * 60_000

export async function run(): Promise<void> {
  await runAction(async () => {
    const runner = readRunnerContext()
    const settings = readSettings(new Inputs(), runner)
    const target = `${settings.repository.owner}/${settings.repository.repo}`
    // No warning for ghs_: GitHub App tokens, which the README recommends, start with it too. A 403/404 says what to check.
    const workflowToken = looksLikeWorkflowToken(settings.token) && target !== runner.repository

    const correlationId = randomUUID()
    const payload = createDeployPayload({
      updates: settings.updates,
      multi: settings.multi,
      environment: settings.environment,
      source: settings.source,
      correlationId,
      extra: settings.extra
    })
    // GitHub's limits (event type, properties, size), before any request: invalid input sends nothing.
    checkDispatchLimits(settings.eventType, payload)
    const client = createGitHubClient({ token: settings.token, apiUrl: settings.apiUrl })
    // Before anything is sent: a token that cannot read the runs would start the deploy and then fail this job.
    if (settings.wait) await checkWorkflowRunsReadable(client, settings.repository, workflowToken)
    const images = settings.updates
      .map((u) => `${u.service}=${u.image}:${u.tag}${u.digest ? `@${u.digest}` : ''}`)
      .join(', ')
    // Also before: a token that may not create deployments must not leave a deploy unreported.
    const deployment = settings.deployment
      ? await startDeploymentOf(settings.deployment, settings.apiUrl, runner, images)
      : undefined
    const dispatchedAt = new Date()
    try {
      await sendRepositoryDispatch(client, {
        repository: settings.repository,
        eventType: settings.eventType,
        clientPayload: payload as unknown as Record<string, unknown>,
        workflowToken
      })
    } catch (error) {
      await deployment?.finish('error', `The '${settings.eventType}' event could not be sent to ${target}`)
      throw error
    }
    log.info(`Sent '${settings.eventType}' to ${target}: ${images} (correlation id ${correlationId})`)
    core.setOutput('correlation-id', correlationId)
    core.setOutput('payload', JSON.stringify(payload))
    const sent = sentSummary(settings.eventType, target, settings.updates)
    core.summary.addHeading('dispatch-to-infra', 3).addRaw(sent.line, false).addList(sent.items)

    try {
      if (settings.wait) await waitForDeploy(settings, target, correlationId, dispatchedAt, client, deployment)
    } finally {
      // Whatever the wait found, the summary says it: a failed or lost deploy most of all.
      await core.summary.write()
    }
  })
}

async function waitForDeploy(
  settings: Settings,
  target: string,
  correlationId: string,
  dispatchedAt: Date,
  client: ReturnType<typeof createGitHubClient>,
  deployment: StartedDeployment | undefined
): Promise<void> {
  const waitTimeout = formatDuration(settings.waitTimeoutMs)
  const statuses = new Map<number, string | null>()
  const result = await waitForWorkflowRun(
    githubWorkflowRuns(client, { repository: settings.repository, correlationId, dispatchedAt }),
    {
      timeoutMs: settings.waitTimeoutMs,
      findTimeoutMs: FIND_TIMEOUT_MS,
      onFound: (run, count) =>
        log.info(
          count === 1
            ? `Waiting for ${run.html_url} (up to ${waitTimeout})`
            : `${run.html_url} carries the correlation id too: ${count} runs do (a retried delivery, or several workflows whose run-name carries it); waiting for every run, the step fails if any fails`
        ),
      onProgress: (run) => {
        if (run.status !== statuses.get(run.id)) log.info(`${run.html_url} is ${run.status}`)
        statuses.set(run.id, run.status)
      }
    }
  )

  const restoredBy = await restoringCommit(settings, result, dispatchedAt, client)
  const context = {
    target,
    eventType: settings.eventType,
    correlationId,
    waitTimeoutMs: settings.waitTimeoutMs,
    findTimeoutMs: FIND_TIMEOUT_MS
  }
  const outcome = deployOutcome(result, context, restoredBy)
  core.setOutput('conclusion', outcome.conclusion)
  core.setOutput('restore-commit', restoredBy?.html_url ?? '')
  if (outcome.run) {
    core.setOutput('run-id', String(outcome.run.id))
    core.setOutput('run-url', outcome.run.html_url)
  }
  for (const line of outcome.summary) core.summary.addRaw(line, true)
  await deployment?.finish(...deploymentResult(outcome.conclusion, target))
  if (outcome.failure) throw outcome.failure
  log.info(`The deploy succeeded: ${result.runs.map((run) => run.html_url).join(', ')}`)
}

/** A deployment, in this (the application's) repository, of its commit, whose result is the infra run's. */
function startDeploymentOf(
  request: DeploymentRequest,
  apiUrl: string,
  runner: RunnerContext,
  images: string
): Promise<StartedDeployment> {
  const client = createGitHubClient({ token: request.token, apiUrl })
  const logUrl = `${runner.serverUrl}/${runner.repository}/actions/runs/${runner.runId}`
  return startDeployment(client, request.target, {
    sha: runner.sha,
    description: `Deploy of ${images}`,
    logUrl,
    environmentUrl: request.environmentUrl
  })
}

/** success when the infra run succeeded, failure when it concluded otherwise, error when the wait found no conclusion. */
function deploymentResult(conclusion: string, target: string): [DeploymentState, string] {
  if (conclusion === 'success') return ['success', `Deployed by ${target}`]
  if ((Object.values(WAIT_CONCLUSIONS) as string[]).includes(conclusion))
    return ['error', `The deploy by ${target} could not be followed (${conclusion})`]
  return ['failure', `The deploy run of ${target} ended: ${conclusion}`]
}

/**
 * After a failed run, the commit that put Git back (the infra workflow writes the images its
 * rollback restored back, with a Rolled-Back-Run trailer naming the run). A failed lookup is
 * only a warning: the deploy's outcome is known.
 */
async function restoringCommit(
  settings: Settings,
  result: WaitResult,
  dispatchedAt: Date,
  client: ReturnType<typeof createGitHubClient>
): Promise<ListedCommit | undefined> {
  const run = runToReport(result.runs)
  if (result.state !== 'completed' || !run || !runFailed(run)) return undefined
  try {
    return await findRestoringCommit(client, {
      repository: settings.repository,
      runUrl: run.html_url,
      since: dispatchedAt
    })
  } catch (error) {
    if (!(error instanceof UserError)) throw error
    log.warning(`Could not look for the commit that puts Git back after the failed deploy: ${error.describe()}`)
    return undefined
  }
}
