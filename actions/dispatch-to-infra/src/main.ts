import * as core from '@actions/core'
import { randomUUID } from 'node:crypto'
import {
  Inputs,
  RUN_NAME_LINE,
  UserError,
  checkDispatchLimits,
  checkWorkflowRunsReadable,
  createDeployPayload,
  createGitHubClient,
  formatDuration,
  githubWorkflowRuns,
  looksLikeWorkflowToken,
  runAction,
  sendRepositoryDispatch,
  waitForWorkflowRun,
  type WorkflowRun
} from '@gitops-lite/core'
import { readSettings, type Settings } from './input-helper'

/**
 * The `conclusion` output when the wait itself ended without a conclusion from GitHub. Hyphenated,
 * so neither can be mistaken for one of GitHub's own conclusions (which include `timed_out`).
 */
export const WAIT_CONCLUSIONS = { timedOut: 'wait-timeout', notFound: 'run-not-found' } as const

/** GitHub shows a dispatched run within seconds; one missing after this is not coming (wrong run-name, no workflow). */
const FIND_TIMEOUT_MS = 5 * 60_000

export async function run(): Promise<void> {
  await runAction(async () => {
    const settings = readSettings(new Inputs(), process.env)
    const target = `${settings.repository.owner}/${settings.repository.repo}`
    // No warning for ghs_: GitHub App tokens, which the README recommends, start with it too. A 403/404 says what to check.
    const workflowToken = looksLikeWorkflowToken(settings.token) && target !== process.env.GITHUB_REPOSITORY

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
    const dispatchedAt = new Date()
    await sendRepositoryDispatch(client, {
      repository: settings.repository,
      eventType: settings.eventType,
      clientPayload: payload as unknown as Record<string, unknown>,
      workflowToken
    })
    const images = settings.updates.map((u) => `${u.service}=${u.image}:${u.tag}${u.digest ? `@${u.digest}` : ''}`).join(', ')
    core.info(`Sent '${settings.eventType}' to ${target}: ${images} (correlation id ${correlationId})`)
    core.setOutput('correlation-id', correlationId)
    core.setOutput('payload', JSON.stringify(payload))
    core.summary.addHeading('dispatch-to-infra', 3).addRaw(`Sent <code>${settings.eventType}</code> to <code>${target}</code>: `, false)
    core.summary.addList(settings.updates.map((u) => `<code>${u.service}</code>: <code>${u.image}:${u.tag}</code>`))

    if (settings.wait) await waitForDeploy(settings, target, correlationId, dispatchedAt, client)
    await core.summary.write()
  })
}

async function waitForDeploy(
  settings: Settings,
  target: string,
  correlationId: string,
  dispatchedAt: Date,
  client: ReturnType<typeof createGitHubClient>
): Promise<void> {
  let lastStatus: string | null = null
  const waitTimeout = formatDuration(settings.waitTimeoutMs)
  const found = (run: WorkflowRun) => {
    core.info(`Waiting for ${run.html_url} (up to ${waitTimeout})`)
    core.setOutput('run-id', String(run.id))
    core.setOutput('run-url', run.html_url)
  }
  const result = await waitForWorkflowRun(githubWorkflowRuns(client, { repository: settings.repository, correlationId, dispatchedAt }), {
    timeoutMs: settings.waitTimeoutMs,
    findTimeoutMs: FIND_TIMEOUT_MS,
    onFound: found,
    onProgress: (run) => {
      if (run.status !== lastStatus) core.info(`The run is ${run.status}`)
      lastStatus = run.status
    }
  })

  if (result.state === 'not-found') {
    core.setOutput('conclusion', WAIT_CONCLUSIONS.notFound)
    core.summary.addRaw(`No run of ${target} carried the correlation id <code>${correlationId}</code>.`, true)
    await core.summary.write()
    throw new UserError(`No repository_dispatch run of ${target} has '${correlationId}' in its name ${describeWait(settings)}`, {
      fix: `Check that the infra workflow runs on repository_dispatch (types: [${settings.eventType}]) and has the line: ${RUN_NAME_LINE}`
    })
  }
  const { run } = result
  const link = `<a href="${run.html_url}">run ${run.id}</a>`
  if (result.state === 'timed-out') {
    core.setOutput('conclusion', WAIT_CONCLUSIONS.timedOut)
    core.summary.addRaw(`The deploy ${link} was still <code>${run.status}</code> after ${waitTimeout}.`, true)
    await core.summary.write()
    throw new UserError(`The deploy run ${run.html_url} did not complete within ${waitTimeout}; it is still ${run.status}`, {
      fix: "Look at the run; raise 'wait-timeout' if deploys take longer."
    })
  }
  core.setOutput('conclusion', run.conclusion ?? '')
  core.summary.addRaw(`The deploy ${link} concluded <code>${run.conclusion}</code>.`, true)
  if (run.conclusion !== 'success') {
    await core.summary.write()
    throw new UserError(`The deploy run ${run.html_url} concluded '${run.conclusion}'`, {
      fix: 'The change did not reach the VMs: see the run in the infra repository.'
    })
  }
  core.info(`The deploy succeeded: ${run.html_url}`)
}

function describeWait(settings: Settings): string {
  const limit = Math.min(settings.waitTimeoutMs, FIND_TIMEOUT_MS)
  return `within ${formatDuration(limit)}${limit === settings.waitTimeoutMs ? '' : ' of the dispatch'}`
}
