import { randomBytes } from 'node:crypto'
import { UserError } from '../errors'
import { ConnectionLostError, type ExecResult, type RemoteShell } from '../ssh/client'
import { applyVerdict, refusedLinkError, remoteError } from './apply-result'
import { describeOwner, EventReader, preDeployOf } from './events'
import { formatPlan } from './format'
import { computePlan, pathsToDigest, trustedRecord, type HostPlan } from './plan'
import { auditPrefix, recordHead, servicePrefixes } from './record-lines'
import type { ListedStack, Removal } from './stacks'
import { ExitCode } from './remote'
import { parseInspection, type HostReport } from './report'
import { hostSecrets } from './secrets'
import { rolledBackServices, type RolledBackService } from './rollback'
import {
  applyScript,
  attachedCommand,
  detachedCommand,
  digestScript,
  inspectScript,
  registryLoginLines,
  runDirOf,
  type RegistryLogin,
  type ScriptLimits,
  type StackTarget
} from './scripts'
import type { StackFile } from './stack-files'

// One host's deploy: inspect, plan, apply, and plan again when another run deployed in between.
// What the apply's exit code means is in apply-result.ts, its streamed events in events.ts, the
// record and audit lines it writes in record-lines.ts.

/** The workflow run doing the deploy, for the lock, the record and the audit log. */
export interface RunInfo {
  /** Unique per deploy attempt; letters, digits and `-`. */
  id: string
  url: string
  actor: string
  sha: string
  /** The failed commit whose images this commit writes back (its Rolled-Back-Commit trailer), if it does. */
  restores?: string
}

export interface DeployOptions {
  stack: StackTarget
  files: readonly StackFile[]
  /** env_file entries per service, read from the compose files. */
  envFiles: ReadonlyMap<string, readonly string[]>
  /** Pre-deploy commands per service, from the compose files. */
  preDeploy?: ReadonlyMap<string, readonly string[]>
  /** Registries the pull logs in to. */
  registries?: readonly RegistryLogin[]
  mode: 'surgical' | 'full'
  services?: readonly string[]
  pull: boolean
  rollback: boolean
  dryRun: boolean
  limits: ScriptLimits
  run: RunInfo
}

/** Where the deploy reports progress; remote output is kept apart so it can be fenced. */
export interface DeployLog {
  info(message: string): void
  warning(message: string): void
  /** Lines the host printed (compose output, container logs): shown, never interpreted. */
  remote(lines: readonly string[]): void
  /** Values the log must never show (the runner masks them); given before any line from the VM is shown. */
  mask(values: readonly string[]): void
}

export type HostResult = 'deployed' | 'removed' | 'listed' | 'unchanged' | 'dry-run' | 'rolled-back' | 'failed'

export interface HostOutcome {
  host: string
  result: HostResult
  plan?: HostPlan
  /** Last health state seen per service (healthy, running, unhealthy, ...). */
  health: Record<string, string>
  /** Why it failed, for a failed or rolled-back host; or what went wrong on a deployed one (the step fails either way). */
  error?: UserError
  /** Services gone from the files whose containers could not be removed. */
  removeFailed?: string[]
  /** For a rolled-back host: what went back, and the commit of the last good deploy (empty when unknown). */
  rollback?: { services: RolledBackService[]; restoredCommit: string }
  /** mode: remove: what was (or would be) taken down. */
  removal?: Removal
  /** mode: list: the stacks whose records are in the folders under remote-dir. */
  stacks?: ListedStack[]
  durationMs: number
}

/** How often a plan is made again because another run deployed between inspection and apply. */
const maxPlanAttempts = 3

export function newMark(): string {
  return `@@gitops-lite-${randomBytes(6).toString('hex')}`
}

/**
 * One host's outcome in the making: the health states and removal failures the apply's events
 * fill in, and `done`, which ends it with a result (timed from this call).
 */
export function outcomeOf(host: string) {
  const started = Date.now()
  const health: Record<string, string> = {}
  const removeFailed: string[] = []
  const done = (result: HostResult, plan?: HostPlan, error?: UserError): HostOutcome => ({
    host,
    result,
    plan,
    health,
    error,
    ...(removeFailed.length > 0 && { removeFailed }),
    durationMs: Date.now() - started
  })
  return { health, removeFailed, done }
}

/** Plans and, unless it is a dry run, applies the deploy on one host. */
export async function deployToHost(shell: RemoteShell, options: DeployOptions, log: DeployLog): Promise<HostOutcome> {
  const { health, removeFailed, done } = outcomeOf(shell.name)
  const { limits } = options
  for (let attempt = 1; ; attempt++) {
    const inspected = await inspectUnlessLost(() => inspectAndPlan(shell, options, log))
    if (inspected instanceof UserError) return done('failed', undefined, inspected)
    const { report, plan } = inspected
    if (options.dryRun) return done('dry-run', plan)
    if (!plan.needsApply && !isUnrecordedRestore(options.run, trustedRecord(report)?.header.sha, log))
      return done('unchanged', plan)
    const mark = newMark()
    // Each apply gets its own run folder: a stale plan's apply may still be finishing in its own.
    const runId = attempt === 1 ? options.run.id : `${options.run.id}-plan${attempt}`
    const runDir = runDirOf(options.stack.remoteDir, runId)
    const script = applyScript({
      stack: options.stack,
      mark,
      limits,
      runId,
      plan,
      files: options.files,
      pull: options.pull,
      rollback: options.rollback,
      owner: JSON.stringify({
        runUrl: options.run.url,
        actor: options.run.actor,
        sha: options.run.sha,
        since: new Date().toISOString()
      }),
      recordHead: recordHead(report, plan, options),
      servicePrefixes: servicePrefixes(report, plan),
      audit: auditPrefix(shell.name, plan, options)
    })
    const events = new EventReader(mark, log, health, removeFailed, preDeployOf(plan))
    const result = await runDetachedApply(shell, { runDir, script, registries: options.registries, limits, events })
    if (result instanceof ConnectionLostError) return done('failed', plan, lostWhileDeploying(result, runDir, 'host'))
    const verdict = applyVerdict(result, {
      host: shell.name,
      directory: plan.directory,
      runDir,
      events,
      removeFailed,
      limits,
      log
    })
    if (verdict !== 'stale-plan' && verdict.result === 'rolled-back') {
      const record = trustedRecord(report)
      const rollback = {
        services: rolledBackServices(plan, record, events.failedServices),
        restoredCommit: record?.header.sha ?? ''
      }
      return { ...done(verdict.result, plan, verdict.error), rollback }
    }
    if (verdict !== 'stale-plan') return done(verdict.result, plan, verdict.error)
    if (attempt >= maxPlanAttempts) {
      return done(
        'failed',
        plan,
        new UserError(`Other runs kept deploying to ${shell.name}; planned ${attempt} times without applying`, {
          fix: 'Rerun the workflow.'
        })
      )
    }
    log.info(`Another run deployed to ${shell.name} since this run looked; planning again`)
  }
}

async function inspectAndPlan(
  shell: RemoteShell,
  options: DeployOptions,
  log: DeployLog
): Promise<{ report: HostReport; plan: HostPlan }> {
  const { stack, limits, files } = options
  const mark = newMark()
  const inspected = await shell.exec(attachedCommand, {
    stdin: inspectScript(stack, files, mark, limits, options.envFiles),
    timeoutMs: (limits.lockTimeoutSeconds + 2 * limits.commandTimeoutSeconds) * 1000
  })
  // First of all: compose's and docker's messages, container logs and healthcheck output may quote them.
  log.mask(hostSecrets(inspected.stdout, mark))
  const refused = new RegExp(`^${mark} refused-link (.*)$`, 'm').exec(inspected.stdout)
  if (inspected.code === ExitCode.refusedLink && refused) throw refusedLinkError(shell.name, refused[1])
  const waited = new RegExp(`^${mark} lock-wait (.*)$`, 'm').exec(inspected.stdout)
  if (waited) log.info(`Waited for the deploy lock on ${shell.name}, held by ${describeOwner(waited[1])}`)
  if (inspected.code !== 0) throw remoteError(shell.name, 'inspection', inspected, limits, log)
  const report = parseInspection(inspected.stdout, mark, shell.name)
  for (const damage of report.stateDamage) {
    log.warning(
      `The deploy state on ${shell.name} needs repair: ${report.directory}/${damage}. This run plans from what runs and writes it again.`
    )
  }
  const paths = pathsToDigest(report, files, options.envFiles)
  const hostDigests = await hostDigestsOf(shell, stack, paths, limits, log, 'digest of the files services read')
  const plan = computePlan({
    report,
    uploads: files,
    envFiles: options.envFiles,
    hostDigests,
    mode: options.mode,
    services: options.services,
    preDeploy: options.preDeploy
  })
  for (const line of formatPlan(shell.name, plan)) log.info(line)
  return { report, plan }
}

export interface DetachedApply {
  runDir: string
  script: string
  registries?: readonly RegistryLogin[]
  limits: ScriptLimits
  events: EventReader
}

/**
 * Runs an apply script detached on the host (see DETACHED_BOOTSTRAP), its events read as they
 * stream back; the registry logins go first on stdin, read by the bootstrap and never saved.
 * A dropped connection is returned, not thrown: the host finishes the apply on its own.
 */
export async function runDetachedApply(
  shell: RemoteShell,
  apply: DetachedApply
): Promise<ExecResult | ConnectionLostError> {
  const { limits, events } = apply
  try {
    const result = await shell.exec(detachedCommand(apply.runDir), {
      stdin: registryLoginLines(apply.registries ?? []) + apply.script,
      timeoutMs:
        (limits.lockTimeoutSeconds + 3 * limits.commandTimeoutSeconds + 2 * limits.healthTimeoutSeconds + 60) * 1000,
      onStdout: (text) => events.push(text)
    })
    events.flush()
    return result
  } catch (error) {
    if (!(error instanceof ConnectionLostError)) throw error
    events.flush()
    return error
  }
}

/**
 * Whether this run is the commit that wrote Git back after a rollback, not yet recorded on the
 * host (`recordedSha`: the commit the host's record names). It changes nothing there, but is
 * recorded once (audit log, record's commit), so the host says which commit it runs, and why.
 */
export function isUnrecordedRestore(run: RunInfo, recordedSha: string | undefined, log: DeployLog): boolean {
  if (run.restores === undefined || recordedSha === run.sha) return false
  log.info(
    `${run.sha.slice(0, 7)} writes back the images of the failed release ${run.restores.slice(0, 7)}; recording it`
  )
  return true
}

/**
 * Digests of files the plan compares but the run does not upload, read on the host ('missing'
 * for one that is not there); `what` names the step in an error.
 */
export async function hostDigestsOf(
  shell: RemoteShell,
  stack: StackTarget,
  paths: readonly string[],
  limits: ScriptLimits,
  log: DeployLog,
  what: string
): Promise<Map<string, string>> {
  const hostDigests = new Map<string, string>()
  if (paths.length === 0) return hostDigests
  const digested = await shell.exec(attachedCommand, {
    stdin: digestScript(stack, paths, newMark(), limits),
    timeoutMs: limits.commandTimeoutSeconds * 1000
  })
  if (digested.code !== 0) throw remoteError(shell.name, what, digested, limits, log)
  const lines = digested.stdout.split('\n').filter(Boolean)
  paths.forEach((path, index) => hostDigests.set(path, lines[index] ?? 'missing'))
  return hostDigests
}

/** The inspection's result, or the error for a connection lost during it (nothing was changed yet). */
export async function inspectUnlessLost<T>(inspect: () => Promise<T>): Promise<T | UserError> {
  try {
    return await inspect()
  } catch (error) {
    if (!(error instanceof ConnectionLostError)) throw error
    return new UserError(`${error.message} while inspecting it`, {
      fix: 'Nothing was changed on the host. Rerun the workflow.'
    })
  }
}

/** The error for a connection lost while the detached apply ran on `where` (the host, the manager). */
export function lostWhileDeploying(error: ConnectionLostError, runDir: string, where: string): UserError {
  return new UserError(`${error.message} while deploying`, {
    fix:
      `The deploy goes on on the ${where}, which finishes it (or rolls it back) and then releases the lock; its log is ${runDir}/log. ` +
      'Rerun the workflow: it waits for the lock and converges.'
  })
}
