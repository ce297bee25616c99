import { randomBytes } from 'node:crypto'
import { posix } from 'node:path'
import * as core from '@actions/core'
import {
  GitCommandManager,
  Inputs,
  ROLLBACK_TRAILERS,
  SshSession,
  UserError,
  createGitHubClient,
  deployHosts,
  deployToHost,
  escapeHtml,
  failureOf,
  formatRemoval,
  formatTarget,
  imageChange,
  imageFileOf,
  listStacks,
  log,
  maskSecret,
  readRunnerContext,
  removeFromHost,
  runAction,
  startDeployment,
  strategyText,
  type DeployLog,
  type DeploymentState,
  type HostOutcome,
  type Outcome,
  type RolledBackImage,
  type RunInfo,
  type RunnerContext,
  type SshTarget,
  type StartedDeployment
} from '@gitops-lite/core'
import { readSettings, type DeploymentReport, type Settings } from './input-helper'

export async function run(): Promise<void> {
  await runAction(async () => {
    const runner = readRunnerContext()
    const settings = readSettings(new Inputs(), runner)
    if (settings.hostKeys.insecure) {
      log.warning('insecure-skip-host-key-check is true: the host keys of VMs that known-hosts and fingerprint do not cover are NOT verified, so anyone between the runner and such a VM can impersonate it and read the deploy key. Set known-hosts or fingerprint instead.')
    }
    const run = await runInfo(runner)
    // Before any host is touched: a token that may not create deployments fails here.
    const deployment = settings.deployment && !settings.dryRun ? await startDeploymentOf(settings.deployment, run) : undefined
    let outcomes: Outcome[]
    try {
      outcomes = await deployHosts(settings.hosts, settings.parallel, {
        nameOf: formatTarget,
        connect: (host) => connectTo(host, settings),
        deploy: (host, session, index) => deployTo(host, session, index, settings, run)
      })
    } catch (error) {
      await deployment?.finish('error', 'The deploy stopped on an unexpected error; see the run log')
      throw error
    }
    await deployment?.finish(...deploymentResult(outcomes))
    for (const outcome of outcomes) if (outcome.result === 'skipped') log.info(`${outcome.host}: skipped, ${outcome.reason}`)
    await report(outcomes, settings, run)
    const failure = failureOf(outcomes)
    if (failure !== undefined) {
      // Several hosts failed, one of them by a bug: keep its stack for the debug log.
      for (const o of outcomes) if (o.unexpected instanceof Error && o.unexpected !== failure && o.unexpected.stack) log.debug(o.unexpected.stack)
      throw failure
    }
  })
}

/** Creates the GitHub deployment of the commit and marks it in progress. */
function startDeploymentOf(report: DeploymentReport, run: RunInfo): Promise<StartedDeployment> {
  const client = createGitHubClient({ token: report.token, apiUrl: report.apiUrl })
  return startDeployment(client, report.target, { sha: run.sha, description: `ssh-surgical-deploy by ${run.actor}`, logUrl: run.url, environmentUrl: report.environmentUrl })
}

/** success when every host is deployed or unchanged, failure when a host was rolled back, error otherwise. */
function deploymentResult(outcomes: readonly Outcome[]): [DeploymentState, string] {
  const hosts = (result: string) => outcomes.filter((o) => o.result === result).map((o) => o.host)
  if (outcomes.every((o) => o.result === 'deployed' || o.result === 'unchanged')) {
    const deployed = [...new Set(outcomes.flatMap((o) => (o.result === 'deployed' ? (o.plan?.deploy ?? []) : [])))].sort()
    return ['success', deployed.length > 0 ? `Deployed ${deployed.join(', ')}` : 'Nothing to change']
  }
  const failed = hosts('failed')
  if (failed.length > 0) return ['error', `The deploy to ${failed.join(', ')} failed; see the run log`]
  return ['failure', `Rolled back on ${hosts('rolled-back').join(', ')}: the new version did not become healthy`]
}

function hostLogFor(target: SshTarget, settings: Settings): DeployLog {
  return hostLog(settings.hosts.length > 1 ? `[${formatTarget(target)}] ` : '')
}

async function connectTo(target: SshTarget, settings: Settings): Promise<SshSession> {
  const log = hostLogFor(target, settings)
  log.info(`Connecting to ${formatTarget(target)}`)
  const session = await SshSession.connect({
    target,
    privateKey: settings.privateKey,
    passphrase: settings.passphrase,
    hostKeys: settings.hostKeys,
    proxy: settings.proxy,
    connectTimeoutMs: settings.connectTimeoutMs,
    log: (message) => log.warning(message)
  })
  log.info(`Connected to ${formatTarget(target)}`)
  return session
}

async function deployTo(target: SshTarget, connected: SshSession, index: number, settings: Settings, run: RunInfo): Promise<HostOutcome> {
  const started = Date.now()
  let session = connected
  try {
    // One at a time, a host's connection waits while the hosts before it deploy; it may have dropped.
    if (!session.isOpen) session = await connectTo(target, settings)
    const limits = {
      lockTimeoutSeconds: Math.ceil(settings.lockTimeoutMs / 1000),
      commandTimeoutSeconds: Math.ceil(settings.commandTimeoutMs / 1000),
      healthTimeoutSeconds: Math.ceil(settings.healthTimeoutMs / 1000)
    }
    if (settings.mode === 'remove') {
      const options = { stack: settings.stack, removeVolumes: settings.removeVolumes, dryRun: settings.dryRun, limits, run }
      return await removeFromHost(session, options, hostLogFor(target, settings))
    }
    if (settings.mode === 'list') return await listStacks(session, { stack: settings.stack, limits }, hostLogFor(target, settings))
    return await deployToHost(
      session,
      {
        stack: settings.stack,
        files: settings.files,
        envFiles: settings.envFiles,
        preDeploy: settings.preDeploy,
        registries: settings.registries,
        mode: settings.mode,
        services: settings.services,
        pull: settings.pull,
        rollback: settings.rollback,
        dryRun: settings.dryRun,
        limits,
        // Per host, so two hosts that share a disk never share a run folder.
        run: { ...run, id: `${run.id}-${index}` }
      },
      hostLogFor(target, settings)
    )
  } catch (error) {
    if (!(error instanceof UserError)) throw error
    return { host: formatTarget(target), result: 'failed', health: {}, error, durationMs: Date.now() - started }
  } finally {
    if (session !== connected) session.close()
  }
}

/**
 * Progress lines, prefixed with the host when there are several. Host output is fenced with
 * ::stop-commands:: so nothing a container logs can act as a workflow command.
 */
function hostLog(prefix: string): DeployLog {
  return {
    info: (message) => log.info(`${prefix}${message}`),
    warning: (message) => log.warning(`${prefix}${message}`),
    remote: (lines) => log.fenced(lines, `${prefix}  `),
    mask: (values) => values.forEach(maskSecret)
  }
}

/**
 * The run, and the commit whose files are deployed: the checkout's HEAD (it may be newer than
 * GITHUB_SHA), with the failed commit it writes back when it is the commit of a rollback.
 */
async function runInfo(runner: RunnerContext): Promise<RunInfo> {
  const git = new GitCommandManager(runner.workspace)
  const head = await git.exec(['rev-parse', 'HEAD'], { allowFailure: true }).catch(() => undefined)
  const trailer = await git
    .exec(['log', '-1', `--format=%(trailers:key=${ROLLBACK_TRAILERS.commit},valueonly,separator=%x20)`], { allowFailure: true })
    .catch(() => undefined)
  const restores = trailer?.exitCode === 0 ? /^[0-9a-f]{7,64}$/.exec(trailer.stdout.trim().split(' ')[0] ?? '')?.[0] : undefined
  const runId = runner.runId || '0'
  const attempt = runner.runAttempt || '1'
  const url = `${runner.serverUrl}/${runner.repository || 'unknown/unknown'}/actions/runs/${runId}/attempts/${attempt}`
  return {
    id: `${runId}-${attempt}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`.replace(/[^A-Za-z0-9-]/g, ''),
    url,
    actor: runner.actor || 'unknown',
    sha: head?.exitCode === 0 ? head.stdout.trim() : runner.sha,
    ...(restores && { restores })
  }
}

function union(outcomes: readonly Outcome[], pick: (o: HostOutcome) => string[]): string {
  const names = new Set<string>()
  for (const outcome of outcomes) if (outcome.result !== 'skipped') for (const name of pick(outcome)) names.add(name)
  return JSON.stringify([...names].sort())
}

/** Per rolled-back host, the services whose image went back: the `rolled-back-images` output. */
function rolledBackImages(outcomes: readonly Outcome[], settings: Settings, run: RunInfo): RolledBackImage[] {
  const composeFiles = settings.files
    .filter((f) => f.compose)
    .map((f) => ({ path: posix.join(settings.filesFolder, f.path), text: f.content.toString('utf8') }))
  return outcomes.flatMap((o) =>
    o.result === 'rolled-back' && o.rollback
      ? o.rollback.services.map((s) => ({
          host: o.host,
          file: imageFileOf(s.service, composeFiles),
          ...s,
          failedCommit: run.sha,
          restoredCommit: o.rollback!.restoredCommit,
          run: run.url
        }))
      : []
  )
}

async function report(outcomes: readonly Outcome[], settings: Settings, run: RunInfo): Promise<void> {
  const deployedServices = (o: HostOutcome) => (o.result === 'deployed' ? (o.plan?.deploy ?? []) : [])
  core.setOutput('deployed', union(outcomes, deployedServices))
  core.setOutput('drifted', union(outcomes, (o) => (o.plan?.services ?? []).filter((s) => s.change === 'drifted').map((s) => s.service)))
  core.setOutput(
    'removed',
    union(outcomes, (o) => {
      if (o.result === 'removed') return (o.removal?.containers ?? []).map((c) => c.service)
      return o.result === 'deployed' ? (o.plan?.removed ?? []).map((s) => s.service).filter((s) => !o.removeFailed?.includes(s)) : []
    })
  )
  core.setOutput(
    'stacks',
    JSON.stringify(outcomes.flatMap((o) => (o.stacks ?? []).map((stack) => ({ host: o.host, ...stack }))))
  )
  core.setOutput('rolled-back', String(outcomes.some((o) => o.result === 'rolled-back')))
  core.setOutput('rolled-back-images', JSON.stringify(rolledBackImages(outcomes, settings, run)))
  core.setOutput(
    'plan',
    JSON.stringify(
      Object.fromEntries(
        outcomes.map((o) => [
          o.host,
          {
            result: o.result,
            ...(o.plan && {
              project: o.plan.project,
              compose: o.plan.compose,
              mode: o.plan.full ? 'full' : 'surgical',
              ...(o.plan.fullReason && { fullReason: o.plan.fullReason }),
              services: o.plan.services.map((s) => ({
                service: s.service,
                change: s.change,
                deploy: s.deploy,
                ...(s.deploy && s.strategy && { strategy: s.strategy }),
                reasons: s.reasons,
                ...(s.oldImage && { oldImage: s.oldImage }),
                ...(s.newImage && { newImage: s.newImage }),
                ...(s.preDeploy && { preDeploy: s.preDeploy })
              })),
              files: o.plan.files.map((f) => ({ path: f.path, change: f.change }))
            }),
            ...(o.removal && { removal: o.removal }),
            ...(o.error && { error: o.error.message }),
            ...(o.result === 'skipped' && { reason: o.reason })
          }
        ])
      )
    )
  )
  await writeSummary(outcomes, settings)
}

async function writeSummary(outcomes: readonly Outcome[], settings: Settings): Promise<void> {
  const summary = core.summary.addHeading(`ssh-surgical-deploy${settings.dryRun ? ' (dry run)' : ''}`, 2)
  for (const outcome of outcomes) {
    const seconds = `${(outcome.durationMs / 1000).toFixed(1)} s`
    summary.addHeading(escapeHtml(`${outcome.host}: ${outcome.result} in ${seconds}`), 3)
    if (outcome.error) summary.addRaw(`<p>${escapeHtml(outcome.error.describe())}</p>`, true)
    if (outcome.result === 'skipped') summary.addRaw(`<p>Skipped: ${escapeHtml(outcome.reason)}.</p>`, true)
    const wentBack = outcome.result === 'rolled-back' ? (outcome.rollback?.services ?? []) : []
    if (wentBack.length > 0) {
      const images = wentBack.map((s) => `${s.service} ${s.restoredImage} (${s.failedImage} ${s.failed ? 'failed' : 'went back with it'})`)
      summary.addRaw(`<p>Running again: ${escapeHtml(images.join('; '))}. Output rolled-back-images lists them for bump-image-tag's restore.</p>`, true)
    }
    if (outcome.removal) summary.addCodeBlock(escapeHtml(formatRemoval(outcome.host, outcome.removal, settings.dryRun).join('\n')))
    if (outcome.stacks) {
      const lines = outcome.stacks.map((s) => `${s.project}  ${s.remoteDir}  deployed ${s.time} (${s.sha.slice(0, 7)}) by ${s.actor}`)
      summary.addCodeBlock(escapeHtml(lines.join('\n') || 'No stacks.'))
    }
    const services = outcome.plan?.services ?? []
    if (services.length === 0) continue
    summary.addTable([
      [
        { data: 'Service', header: true },
        { data: 'Image', header: true },
        { data: 'Change', header: true },
        { data: 'Strategy', header: true },
        { data: 'Result', header: true }
      ],
      ...services.map((s) => [
        escapeHtml(s.service),
        escapeHtml(imageChange(s)),
        escapeHtml(s.reasons.length > 0 ? `${s.change} (${s.reasons.join('; ')})` : s.change),
        escapeHtml(strategyText(s) || '-'),
        escapeHtml(serviceResult(outcome, s.service, s.deploy, s.change === 'removed'))
      ])
    ])
  }
  await summary.write()
}

function serviceResult(outcome: Outcome, service: string, deploy: boolean, removed: boolean): string {
  if (outcome.result === 'skipped' || outcome.result === 'dry-run') return outcome.result
  if (removed) return outcome.result !== 'deployed' ? 'kept' : outcome.removeFailed?.includes(service) ? 'removal failed' : 'removed'
  if (!deploy) return 'untouched'
  const health = outcome.health[service]
  if (outcome.result === 'deployed') return health ? `deployed (${health})` : 'deployed'
  return health ? `${outcome.result} (${health})` : outcome.result
}

