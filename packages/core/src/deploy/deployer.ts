import { randomBytes } from 'node:crypto'
import { UserError } from '../errors'
import { ConnectionLostError, type ExecResult, type RemoteShell } from '../ssh/client'
import { formatPlan } from './format'
import { computePlan, pathsToDigest, trustedRecord, type HostPlan } from './plan'
import { jsonPrefix, RECORD_SCHEMA, type AuditEntry, type RecordedService, type RecordHeader } from './record'
import { ExitCode, type ApplyPhase, type RemoteEvent } from './remote'
import type { ListedStack, Removal } from './stacks'
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

function newMark(): string {
  return `@@gitops-lite-${randomBytes(6).toString('hex')}`
}

function describeOwner(json: string): string {
  try {
    const owner = JSON.parse(json) as { runUrl?: string; actor?: string; since?: string }
    return `run ${owner.runUrl ?? '?'} (by ${owner.actor ?? '?'}, since ${owner.since ?? '?'})`
  } catch {
    return 'another run'
  }
}

function refusedLinkError(host: string, path: string): UserError {
  return new UserError(`On ${host}, ${path} is a symbolic link, and the deploy never writes through one`, {
    fix:
      'Nothing was changed on the host. Whoever can write in remote-dir (a container with a read-write bind mount of it, another user) could point a link anywhere: ' +
      'replace it with the real file or folder (or remove it), then rerun.'
  })
}

/**
 * Turns a failed round trip into a message saying what to do. It never quotes what the host
 * printed (compose output, container logs): that goes to the log, fenced, and the message,
 * which also reaches the job summary, the plan output and the annotation, points there.
 */
export function remoteError(host: string, step: string, result: ExecResult, limits: ScriptLimits, log: DeployLog, apply?: { runDir: string }): UserError {
  if (result.code === ExitCode.lockTimeout) {
    const owner = /lock-timeout (.*)$/m.exec(result.stdout)?.[1] ?? ''
    return new UserError(`The deploy lock on ${host} was still held after ${limits.lockTimeoutSeconds} s, by ${describeOwner(owner)}`, {
      fix: "Wait for that run to finish (or cancel it) and rerun; raise 'lock-timeout' if deploys often queue."
    })
  }
  // stdout was streamed (apply) or must not be shown (the inspection's holds the resolved config); stderr is shown here.
  const stderr = result.stderr.trimEnd()
  if (stderr !== '') log.remote(stderr.split('\n'))
  const fixes: Record<number, string> = {
    [ExitCode.invalidFiles]: "Fix the compose files (the message above is compose's); an env_file a service names must exist on the host, next to the compose file.",
    [ExitCode.missingTool]: 'Install what is missing on the host (Docker with Compose v2 or docker-compose, and util-linux for flock), or set compose-command.'
  }
  const code = result.code ?? -1
  // The inspection only reads; the apply exits 65/69/70 only before it changes anything.
  const nothingChanged = !apply || ([ExitCode.invalidFiles, ExitCode.missingTool, ExitCode.hostError, ExitCode.refusedLink] as number[]).includes(code)
  const fallback = nothingChanged
    ? 'Nothing was changed on the host. Check the message above, then rerun.'
    : `The state of the host is unknown: the deploy stopped part-way (killed, or an unexpected error), so files or containers may have changed. Its log is ${apply.runDir}/log on the host. ` +
      'Rerun the workflow: it plans against what the host runs now and converges.'
  return new UserError(`The ${step} on ${host} failed (${result.code === null ? `signal ${result.signal ?? 'unknown'}` : `exit code ${result.code}`}); see the host's output above in the log`, {
    fix: fixes[code] ?? fallback
  })
}

/** Plans and, unless it is a dry run, applies the deploy on one host. */
export async function deployToHost(shell: RemoteShell, options: DeployOptions, log: DeployLog): Promise<HostOutcome> {
  const started = Date.now()
  const health: Record<string, string> = {}
  const removeFailed: string[] = []
  const done = (result: HostResult, plan?: HostPlan, error?: UserError): HostOutcome => ({
    host: shell.name,
    result,
    plan,
    health,
    error,
    ...(removeFailed.length > 0 && { removeFailed }),
    durationMs: Date.now() - started
  })
  const { limits } = options
  for (let attempt = 1; ; attempt++) {
    let inspected: { report: HostReport; plan: HostPlan }
    try {
      inspected = await inspectAndPlan(shell, options, log)
    } catch (error) {
      if (!(error instanceof ConnectionLostError)) throw error
      return done('failed', undefined, new UserError(`${error.message} while inspecting it`, { fix: 'Nothing was changed on the host. Rerun the workflow.' }))
    }
    const { report, plan } = inspected
    if (options.dryRun) return done('dry-run', plan)
    // The commit that writes Git back after a rollback changes nothing on the host, but is recorded
    // once (audit log, record's commit): the host then says which commit it runs, and why.
    const unrecordedRestore = options.run.restores !== undefined && trustedRecord(report)?.header.sha !== options.run.sha
    if (!plan.needsApply && !unrecordedRestore) return done('unchanged', plan)
    if (unrecordedRestore) log.info(`${options.run.sha.slice(0, 7)} writes back the images of the failed release ${options.run.restores!.slice(0, 7)}; recording it`)
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
      owner: JSON.stringify({ runUrl: options.run.url, actor: options.run.actor, sha: options.run.sha, since: new Date().toISOString() }),
      recordHead: recordHead(report, plan, options),
      servicePrefixes: new Map(
        plan.services
          .filter((s) => s.deploy)
          // The hash the inspection computed: the next run's inspection computes it the same way.
          .map((s) => [s.service, jsonPrefix({ kind: 'service', service: s.service, image: s.newImage, inputs: s.inputs, configHash: report.hashes.get(s.service) ?? '' })])
      ),
      audit: jsonPrefix({
        time: new Date().toISOString(),
        actor: options.run.actor,
        runUrl: options.run.url,
        sha: options.run.sha,
        host: shell.name,
        project: plan.project,
        mode: plan.full ? 'full' : 'surgical',
        services: plan.deploy,
        removed: plan.removed.map((s) => s.service),
        ...(options.run.restores && { restores: options.run.restores })
      } satisfies AuditEntry)
    })
    const events = new EventReader(mark, log, health, removeFailed)
    let result: ExecResult
    try {
      result = await shell.exec(detachedCommand(runDir), {
        stdin: registryLoginLines(options.registries ?? []) + script,
        timeoutMs: (limits.lockTimeoutSeconds + 3 * limits.commandTimeoutSeconds + 2 * limits.healthTimeoutSeconds + 60) * 1000,
        onStdout: (text) => events.push(text)
      })
    } catch (error) {
      if (!(error instanceof ConnectionLostError)) throw error
      events.flush()
      return done(
        'failed',
        plan,
        new UserError(`${error.message} while deploying`, {
          fix:
            `The deploy goes on on the host, which finishes it (or rolls it back) and then releases the lock; its log is ${runDir}/log. ` +
            'Rerun the workflow: it waits for the lock and converges.'
        })
      )
    }
    events.flush()
    switch (result.code) {
      case ExitCode.ok:
        return done('deployed', plan)
      case ExitCode.stalePlan:
        if (attempt >= maxPlanAttempts) {
          return done('failed', plan, new UserError(`Other runs kept deploying to ${shell.name}; planned ${attempt} times without applying`, { fix: 'Rerun the workflow.' }))
        }
        log.info(`Another run deployed to ${shell.name} since this run looked; planning again`)
        continue
      case ExitCode.rolledBack: {
        const record = trustedRecord(report)
        const error = new UserError(`The deploy to ${shell.name} failed: ${events.failure ?? 'a service did not become healthy'}; the previous version was restored and is healthy`, {
          fix: 'See the service log lines above, fix the image or configuration in the infra repository, and push again.'
        })
        return {
          ...done('rolled-back', plan, error),
          rollback: { services: rolledBackServices(plan, record, events.failedServices), restoredCommit: record?.header.sha ?? '' }
        }
      }
      case ExitCode.rollbackFailed:
        return done(
          'failed',
          plan,
          events.restoreFailed.length > 0
            ? new UserError(`The deploy to ${shell.name} failed (${events.failure ?? 'a step failed'}) and the previous files could not be put back: ${events.restoreFailed.join(', ')}`, {
                fix: `The host needs attention: see the log lines above and ${runDir}/log on the host (the previous files are in ${runDir}/old).`
              })
            : new UserError(`The deploy to ${shell.name} failed (${events.failure ?? 'a service did not become healthy'}) and the previous version did not become healthy either`, {
                fix: `The host needs attention: its previous files are back in place; see the log lines above and ${runDir}/log on the host.`
              })
        )
      case ExitCode.refusedLink:
        if (events.refusedLink !== undefined) return done('failed', plan, refusedLinkError(shell.name, events.refusedLink))
        return done('failed', plan, remoteError(shell.name, 'deploy', result, limits, log, { runDir }))
      case ExitCode.failedBeforeChange:
        return done(
          'failed',
          plan,
          new UserError(`The deploy to ${shell.name} stopped before changing any container: ${events.failure ?? 'a step failed'}`, {
            fix: events.failureFix ?? 'See the output above (a failed pull is the usual cause), fix it and rerun.'
          })
        )
      case ExitCode.deployedWithoutRecord:
        return done(
          'deployed',
          plan,
          new UserError(`The services on ${shell.name} are deployed and healthy, but the deploy record (${plan.directory}/.gitops-lite/state) could not be written`, {
            fix:
              "See the host's message above (a full disk or lost write permission are the usual causes) and fix it. " +
              'Until a deploy writes the record, the next run compares with the previous one, so it redeploys these services once more; rerun the workflow to write it.' +
              (removeFailed.length > 0 ? ` The containers of ${removeFailed.join(', ')} (gone from the compose files) could not be removed either.` : '')
          })
        )
      case ExitCode.removeFailed:
        return done(
          'deployed',
          plan,
          new UserError(
            `The services on ${shell.name} are deployed and healthy, but the containers of ${removeFailed.join(', ') || 'a service'} (gone from the compose files) could not be removed`,
            { fix: "See docker's message above, fix the cause on the host, and rerun: the next run removes them again." }
          )
        )
      case ExitCode.failedNoRollback:
        return done('failed', plan, new UserError(`The deploy to ${shell.name} failed: ${events.failure ?? 'a service did not become healthy'}; 'rollback' is false, so it was left as it is`, { fix: 'See the service log lines above.' }))
      default:
        return done('failed', plan, remoteError(shell.name, 'deploy', result, limits, log, { runDir }))
    }
  }
}

async function inspectAndPlan(shell: RemoteShell, options: DeployOptions, log: DeployLog): Promise<{ report: HostReport; plan: HostPlan }> {
  const { stack, limits, files } = options
  const mark = newMark()
  const envFiles = [...new Set([...options.envFiles.values()].flat())]
  const inspected = await shell.exec(attachedCommand, {
    stdin: inspectScript(stack, files, mark, limits, envFiles),
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
    log.warning(`The deploy state on ${shell.name} needs repair: ${report.directory}/${damage}. This run plans from what runs and writes it again.`)
  }
  const paths = pathsToDigest(report, files, options.envFiles)
  const hostDigests = new Map<string, string>()
  if (paths.length > 0) {
    const digestMark = newMark()
    const digested = await shell.exec(attachedCommand, { stdin: digestScript(stack, paths, digestMark, limits), timeoutMs: limits.commandTimeoutSeconds * 1000 })
    if (digested.code !== 0) throw remoteError(shell.name, 'digest of the files services read', digested, limits, log)
    const lines = digested.stdout.split('\n').filter(Boolean)
    paths.forEach((path, index) => hostDigests.set(path, lines[index] ?? 'missing'))
  }
  const plan = computePlan({ report, uploads: files, envFiles: options.envFiles, hostDigests, mode: options.mode, services: options.services, preDeploy: options.preDeploy })
  for (const line of formatPlan(shell.name, plan)) log.info(line)
  return { report, plan }
}

/** The record header and the lines of services this run does not touch. */
function recordHead(report: HostReport, plan: HostPlan, options: DeployOptions): string {
  const header: RecordHeader = {
    kind: 'deploy',
    schema: RECORD_SCHEMA,
    sha: options.run.sha,
    time: new Date().toISOString(),
    runUrl: options.run.url,
    actor: options.run.actor,
    project: plan.project,
    compose: plan.compose,
    files: Object.fromEntries(options.files.map((f) => [f.path, f.digest])),
    topLevel: report.model.topLevel
  }
  const trusted = report.record?.header.project === plan.project && report.record.header.compose === plan.compose ? report.record : undefined
  const kept: RecordedService[] = []
  for (const service of plan.services) {
    if (service.deploy || service.change === 'removed') continue
    const previous = trusted?.services.get(service.service)
    if (previous) kept.push(previous)
    else if (service.change === 'unchanged') {
      const container = report.containers.find((c) => c.service === service.service && !c.oneoff)
      kept.push({
        kind: 'service',
        service: service.service,
        image: service.newImage,
        inputs: service.inputs,
        configHash: report.hashes.get(service.service) ?? '',
        containerHash: container?.configHash ?? ''
      })
    }
  }
  return [header, ...kept].map((line) => JSON.stringify(line)).join('\n') + '\n'
}

/** Reads the apply's streamed output: event lines update the state, the rest is shown as remote output. */
class EventReader {
  failure?: string
  /** A symbolic link the host refused to write through. */
  refusedLink?: string
  /** What to do about `failure`, when the event that set it says. */
  failureFix?: string
  /** Services whose health wait failed before the rollback began. */
  readonly failedServices: string[] = []
  /** Files the rollback could not put back. */
  readonly restoreFailed: string[] = []
  private buffer = ''
  private rollingBack = false
  /** The last lines the host printed since the last event: a failed pre-deploy command's output. */
  private recent: string[] = []

  constructor(
    private readonly mark: string,
    private readonly log: DeployLog,
    private readonly health: Record<string, string>,
    private readonly removeFailed: string[] = []
  ) {}

  push(text: string): void {
    this.buffer += text
    const lines = this.buffer.split('\n')
    this.buffer = lines.pop() ?? ''
    this.handle(lines)
  }

  flush(): void {
    if (this.buffer !== '') this.handle([this.buffer])
    this.buffer = ''
  }

  private handle(lines: string[]): void {
    const plain: string[] = []
    for (const line of lines) {
      if (!line.startsWith(`${this.mark} `)) {
        plain.push(line)
        this.recent = [...this.recent, line].slice(-recentLines)
        continue
      }
      if (plain.length > 0) this.log.remote(plain.splice(0))
      this.event(line.slice(this.mark.length + 1))
      this.recent = []
    }
    if (plain.length > 0) this.log.remote(plain)
  }

  private event(text: string): void {
    const [kind, ...rest] = text.split(' ')
    const [subject, state] = rest
    // Typed so that every case is an event lib.sh prints; anything else goes to the default.
    switch (kind as RemoteEvent) {
      case 'phase':
        if (subject === 'rollback') this.rollingBack = true
        if (subject === 'start-first') {
          this.log.info(this.rollingBack ? `Bringing the previous version of ${state} back, start-first` : `Replacing ${state} start-first`)
          break
        }
        this.log.info((this.rollingBack ? rollbackMessages[subject] : undefined) ?? phaseMessages[subject] ?? `Step: ${subject}`)
        break
      case 'health':
        this.health[subject] = state
        this.log.info(`  ${subject}: ${state}`)
        break
      case 'failed':
        if (!this.rollingBack) this.failedServices.push(subject)
        this.health[subject] = state
        this.failure ??= `${subject} is ${state.replace(/-/g, ' ')}`
        this.log.warning(`${subject} failed: ${state.replace(/-/g, ' ')}`)
        break
      case 'start-first':
        this.log.info(`  ${subject}: ${startFirstMessage(rest.slice(1))}`)
        break
      case 'restore-failed':
        this.restoreFailed.push(subject)
        this.log.warning(`${subject}: could not be put back from the backup`)
        break
      case 'remove-failed':
        if (!this.removeFailed.includes(subject)) this.removeFailed.push(subject)
        this.log.warning(`${subject}: removing its container failed`)
        break
      case 'pre-deploy':
        this.log.info(`Running the pre-deploy command of ${subject} with its new image`)
        break
      case 'pre-deploy-failed': {
        const how = state === '124' ? `timed out (command-timeout)` : `exited with code ${state}`
        const last = this.recent.filter((line) => line.trim() !== '')
        this.failure ??=
          `the pre-deploy command of ${subject} ${how}` +
          (last.length > 0 ? `; its last lines:\n${last.map((line) => `  | ${line}`).join('\n')}` : ' and printed nothing')
        this.failureFix ??= `Fix the command (x-gitops-lite.pre-deploy of ${subject} in the compose file) or what it needs, and rerun; the files were put back and no container was changed.`
        this.log.warning(`${subject}: the pre-deploy command ${how}`)
        break
      }
      case 'login-failed':
        this.failure ??= `the login to the registry ${subject} failed (docker's message is above)`
        this.failureFix ??= `Check the 'registry-username' and 'registry-password' lines given for ${subject}, and that the account may pull from it.`
        break
      case 'swap-failed':
        this.failure ??= `the new ${subject} could not be put in place (the host's message is above)`
        break
      case 'refused-link':
        this.refusedLink ??= rest.join(' ')
        this.log.warning(`${rest.join(' ')} is a symbolic link: the deploy does not write through it`)
        break
      case 'up-failed':
        this.failure ??= 'compose could not recreate the services (its message is above)'
        break
      case 'lock-wait':
        this.log.info(`Waiting for the deploy lock, held by ${describeOwner(rest.join(' '))}`)
        break
      case 'stale':
      case 'result':
        break
      default:
        this.log.info(text)
    }
  }
}

/** How many lines of a failed pre-deploy command's output its error quotes. */
const recentLines = 10

/** A start-first rollout's progress: `started N`, `serving MONITOR`, `retired N GRACE`. */
function startFirstMessage([step, count, grace]: string[]): string {
  switch (step) {
    case 'started':
      return `started ${count} new container(s) beside the old one(s), kept off the service name until healthy`
    case 'serving':
      return `healthy; new and old containers serve side by side for ${count} s`
    case 'retired':
      return `stopped ${count} old container(s) (stop grace period ${grace} s) and removed them`
    default:
      return step
  }
}

const rollbackMessages: Record<string, string> = {
  up: 'Bringing the previous version back',
  health: 'Waiting for the previous version to be healthy',
  healthy: 'The previous version is healthy'
} satisfies Partial<Record<ApplyPhase, string>>

const phaseMessages: Record<string, string> = {
  locked: 'Took the deploy lock',
  login: 'Logging in to the registries (a Docker config only this deploy uses)',
  pull: 'Pulling the new images',
  swap: 'Putting the new files in place',
  // Named with its service by the event reader.
  'start-first': 'Replacing a service start-first',
  up: 'Recreating the services',
  health: 'Waiting for the services to be healthy',
  healthy: 'All deployed services are healthy',
  remove: 'Removing the services gone from the compose files',
  rollback: 'Rolling back: restoring the previous files and services',
  restore: 'Restoring the previous files'
} satisfies Record<ApplyPhase, string>
