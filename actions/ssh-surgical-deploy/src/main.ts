import { randomBytes } from 'node:crypto'
import * as core from '@actions/core'
import {
  GitCommandManager,
  Inputs,
  NotAManagerError,
  ROLLBACK_TRAILERS,
  SshSession,
  UserError,
  createGitHubClient,
  deployHosts,
  deployToHost,
  deployToSwarm,
  failureOf,
  formatTarget,
  listStacks,
  readRunnerContext,
  removeFromHost,
  runAction,
  startDeployment,
  log,
  type DeployOptions,
  type HostOutcome,
  type Outcome,
  type RunInfo,
  type RunnerContext,
  type ScriptLimits,
  type SshTarget,
  type StartedDeployment
} from '@gitops-lite/core'
import { hostLog } from './host-log'
import { readSettings, type DeploymentReport, type Settings } from './input-helper'
import { deploymentResult, deployOutputs, rolledBackImages } from './outcome'
import { writeSummary } from './report'

export async function run(): Promise<void> {
  await runAction(async () => {
    const runner = readRunnerContext()
    const settings = readSettings(new Inputs(), runner)
    if (settings.hostKeys.insecure) {
      log.warning(
        'insecure-skip-host-key-check is true: the host keys of VMs that known-hosts and fingerprint do not cover are NOT verified, so anyone between the runner and such a VM can impersonate it and read the deploy key. Set known-hosts or fingerprint instead.'
      )
    }
    const run = await runInfo(runner)
    // Before any host is touched: a token that may not create deployments fails here.
    const deployment =
      settings.deployment && !settings.dryRun ? await startDeploymentOf(settings.deployment, run) : undefined
    let outcomes: Outcome[]
    try {
      outcomes =
        settings.orchestrator === 'swarm'
          ? [await deployToManager(settings, run)]
          : await deployHosts(settings.hosts, settings.parallel, {
              nameOf: formatTarget,
              connect: (host) => connectTo(host, settings),
              deploy: (host, session, index) => deployTo(host, session, index, settings, run)
            })
    } catch (error) {
      await deployment?.finish('error', 'The deploy stopped on an unexpected error; see the run log')
      throw error
    }
    await deployment?.finish(...deploymentResult(outcomes))
    for (const outcome of outcomes)
      if (outcome.result === 'skipped') log.info(`${outcome.host}: skipped, ${outcome.reason}`)
    for (const [name, value] of Object.entries(deployOutputs(outcomes, rolledBackImages(outcomes, settings, run))))
      core.setOutput(name, value)
    await writeSummary(outcomes, settings.dryRun)
    const failure = failureOf(outcomes)
    if (failure !== undefined) {
      // Several hosts failed, one of them by a bug: keep its stack for the debug log.
      for (const o of outcomes)
        if (o.unexpected instanceof Error && o.unexpected !== failure && o.unexpected.stack)
          log.debug(o.unexpected.stack)
      throw failure
    }
  })
}

/** Creates the GitHub deployment of the commit and marks it in progress. */
function startDeploymentOf(report: DeploymentReport, run: RunInfo): Promise<StartedDeployment> {
  const client = createGitHubClient({ token: report.token, apiUrl: report.apiUrl })
  return startDeployment(client, report.target, {
    sha: run.sha,
    description: `ssh-surgical-deploy by ${run.actor}`,
    logUrl: run.url,
    environmentUrl: report.environmentUrl
  })
}

async function connectTo(target: SshTarget, settings: Settings): Promise<SshSession> {
  const log = hostLog(target, settings.hosts.length)
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

/** What a deploy (mode surgical or full) to one host or swarm takes from the settings. */
function deployOptionsOf(settings: Settings, run: RunInfo): DeployOptions {
  return {
    stack: settings.stack,
    files: settings.files,
    envFiles: settings.envFiles,
    preDeploy: settings.preDeploy,
    registries: settings.registries,
    // Called for these two only: remove and list go elsewhere (and readSettings refuses them with swarm).
    mode: settings.mode === 'full' ? 'full' : 'surgical',
    services: settings.services,
    pull: settings.pull,
    rollback: settings.rollback,
    dryRun: settings.dryRun,
    limits: limitsOf(settings),
    run
  }
}

function limitsOf(settings: Settings): ScriptLimits {
  return {
    lockTimeoutSeconds: Math.ceil(settings.lockTimeoutMs / 1000),
    commandTimeoutSeconds: Math.ceil(settings.commandTimeoutMs / 1000),
    healthTimeoutSeconds: Math.ceil(settings.healthTimeoutMs / 1000)
  }
}

/**
 * orchestrator: swarm. The hosts are managers of one swarm: the first that can be reached and is
 * a manager deploys the stack; the others are tried in turn only when one cannot.
 */
async function deployToManager(settings: Settings, run: RunInfo): Promise<HostOutcome> {
  const tried: string[] = []
  for (const target of settings.hosts) {
    const name = formatTarget(target)
    const log = hostLog(target, settings.hosts.length)
    let session: SshSession
    try {
      session = await connectTo(target, settings)
    } catch (error) {
      if (!(error instanceof UserError)) throw error
      log.warning(`${name}: ${error.message}; trying the next manager`)
      tried.push(`${name} (${error.message})`)
      continue
    }
    const started = Date.now()
    try {
      return await deployToSwarm(session, { ...deployOptionsOf(settings, run), prune: settings.prune }, log)
    } catch (error) {
      if (error instanceof NotAManagerError && target !== settings.hosts.at(-1)) {
        log.warning(`${error.message}; trying the next host`)
        tried.push(`${name} (not a manager)`)
        continue
      }
      if (!(error instanceof UserError)) throw error
      return { host: name, result: 'failed', health: {}, error, durationMs: Date.now() - started }
    } finally {
      session.close()
    }
  }
  return {
    host: settings.hosts.map(formatTarget).join(', '),
    result: 'failed',
    health: {},
    error: new UserError(`No manager of the swarm could be reached: ${tried.join('; ')}`, {
      fix: "Check that the managers listed in 'host' are up and that their host keys and the deploy key are right; nothing was changed."
    }),
    durationMs: 0
  }
}

async function deployTo(
  target: SshTarget,
  connected: SshSession,
  index: number,
  settings: Settings,
  run: RunInfo
): Promise<HostOutcome> {
  const started = Date.now()
  let session = connected
  try {
    // One at a time, a host's connection waits while the hosts before it deploy; it may have dropped.
    if (!session.isOpen) session = await connectTo(target, settings)
    const limits = limitsOf(settings)
    if (settings.mode === 'remove') {
      const options = {
        stack: settings.stack,
        removeVolumes: settings.removeVolumes,
        dryRun: settings.dryRun,
        limits,
        run
      }
      return await removeFromHost(session, options, hostLog(target, settings.hosts.length))
    }
    if (settings.mode === 'list')
      return await listStacks(session, { stack: settings.stack, limits }, hostLog(target, settings.hosts.length))
    // Per host, so two hosts that share a disk never share a run folder.
    const options = deployOptionsOf(settings, { ...run, id: `${run.id}-${index}` })
    return await deployToHost(session, options, hostLog(target, settings.hosts.length))
  } catch (error) {
    if (!(error instanceof UserError)) throw error
    return { host: formatTarget(target), result: 'failed', health: {}, error, durationMs: Date.now() - started }
  } finally {
    if (session !== connected) session.close()
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
    .exec(['log', '-1', `--format=%(trailers:key=${ROLLBACK_TRAILERS.commit},valueonly,separator=%x20)`], {
      allowFailure: true
    })
    .catch(() => undefined)
  const restores =
    trailer?.exitCode === 0 ? /^[0-9a-f]{7,64}$/.exec(trailer.stdout.trim().split(' ')[0] ?? '')?.[0] : undefined
  const runId = runner.runId || '0'
  const attempt = runner.runAttempt || '1'
  const url = `${runner.serverUrl}/${runner.repository || 'unknown/unknown'}/actions/runs/${runId}/attempts/${attempt}`
  return {
    id: `${runId}-${attempt}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`.replace(
      /[^A-Za-z0-9-]/g,
      ''
    ),
    url,
    actor: runner.actor || 'unknown',
    sha: head?.exitCode === 0 ? head.stdout.trim() : runner.sha,
    ...(restores && { restores })
  }
}
