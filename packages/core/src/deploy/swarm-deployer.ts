import { UserError } from '../errors'
import type { ShellScript } from '../shell'
import { ConnectionLostError, type RemoteShell } from '../ssh/client'
import { remoteError } from './apply-result'
import {
  hostDigestsOf,
  inspectUnlessLost,
  isUnrecordedRestore,
  lostWhileDeploying,
  newMark,
  outcomeOf,
  runDetachedApply,
  type DeployLog,
  type DeployOptions,
  type HostOutcome
} from './deployer'
import { describeOwner, EventReader, preDeployOf } from './events'
import { formatPlan } from './format'
import { jsonPrefix, RECORD_SCHEMA } from './record'
import { auditPrefix } from './record-lines'
import { ExitCode, SWARM_LIBRARY } from './remote'
import { hostSecrets } from './secrets'
import {
  attachedCommand,
  base64Lines,
  inspectScript,
  libraryScript,
  runDirOf,
  stagedFilesScript,
  words,
  type StackTarget
} from './scripts'
import {
  computeSwarmPlan,
  parseSwarmInspection,
  swarmOverride,
  swarmPathsToDigest,
  swarmPreDeployJobs,
  type SwarmPlan,
  type SwarmPreDeployJob,
  type SwarmRecordedService,
  type SwarmRecordHeader,
  type SwarmReport
} from './swarm-plan'

export interface SwarmDeployOptions extends DeployOptions {
  /** Remove live services gone from the files (else they are reported and kept). */
  prune: boolean
}

/** The engine of the host is not a manager: the caller may try the next host listed. */
export class NotAManagerError extends UserError {}

/** The Swarm path always renders with Compose v2 on the manager. */
function swarmStack(stack: StackTarget): StackTarget {
  return { ...stack, composeCommand: 'docker compose' }
}

/** Plans and, unless it is a dry run, deploys the stack through one manager of a swarm. */
export async function deployToSwarm(
  shell: RemoteShell,
  options: SwarmDeployOptions,
  log: DeployLog
): Promise<HostOutcome> {
  const { health, removeFailed, done } = outcomeOf(shell.name)
  const { limits } = options
  const stack = swarmStack(options.stack)
  const inspected = await inspectUnlessLost(() => inspectAndPlan(shell, options, log))
  if (inspected instanceof UserError) return done('failed', undefined, inspected)
  const { report, plan } = inspected
  if (options.dryRun) return done('dry-run', plan)
  const recordedSha = report.record?.header.project === plan.project ? report.record.header.sha : undefined
  if (!plan.needsApply && !isUnrecordedRestore(options.run, recordedSha, log)) return done('unchanged', plan)
  const mark = newMark()
  const runDir = runDirOf(stack.remoteDir, options.run.id)
  const changed = plan.files.filter((f) => f.change !== 'same').map((f) => f.path)
  const script = libraryScript(stack, mark, limits, changed, {
    GL_PROJECT: plan.project,
    GL_RUN_ID: options.run.id,
    GL_EXPECT_GENERATION: plan.generation,
    GL_DEPLOY: words(plan.deploy),
    GL_REMOVE: words(plan.removed.map((s) => s.service)),
    GL_NEW_SERVICES: words(plan.newServices),
    GL_PREVIOUS: words(plan.previous),
    GL_ROLLBACK: options.rollback ? '1' : '0',
    GL_OWNER: JSON.stringify({
      runUrl: options.run.url,
      actor: options.run.actor,
      sha: options.run.sha,
      since: new Date().toISOString()
    }),
    GL_AUDIT: auditPrefix(shell.name, plan, options)
  })
    .code(SWARM_LIBRARY)
    .code('gl_apply_begin')
  const apply = preDeployFunction(stagedFilesScript(script, options.files), swarmPreDeployJobs(report, plan))
    .commandWithInput(['gl_put', 'record.head'], base64Lines(recordHead(report, plan, options)))
    .commandWithInput(
      ['gl_put', 'record.services'],
      base64Lines(plan.deploy.map((service) => `${service} ${servicePrefix(plan, service)}\n`).join(''))
    )
    .commandWithInput(['gl_put', 'override.json'], base64Lines(swarmOverride(plan)))
    .code('gl_swarm_apply_main')
    .toString()
  const events = new EventReader(mark, log, health, removeFailed, preDeployOf(plan))
  const result = await runDetachedApply(shell, {
    runDir,
    script: apply,
    registries: options.registries,
    limits,
    events
  })
  if (result instanceof ConnectionLostError) return done('failed', plan, lostWhileDeploying(result, runDir, 'manager'))
  const failure = events.failure ?? 'a service did not converge'
  switch (result.code) {
    case ExitCode.ok:
      return done('deployed', plan)
    case ExitCode.stalePlan:
      return done(
        'failed',
        plan,
        new UserError(`Another run deployed to ${shell.name} since this run looked`, {
          fix: 'Rerun the workflow: it plans against what the swarm runs now.'
        })
      )
    case ExitCode.rolledBack: {
      const restored =
        plan.previous.length > 0
          ? `${plan.previous.join(', ')} went back to the previous spec and converged`
          : 'nothing ran before'
      const removedNew = plan.newServices.length > 0 ? `, and the new ${plan.newServices.join(', ')} were removed` : ''
      const error = new UserError(`The deploy to ${shell.name} failed: ${failure}; ${restored}${removedNew}`, {
        fix:
          events.failureFix ??
          'See the task errors and log lines above, fix the image or configuration in the infra repository, and push again.'
      })
      // What went back, for the rolled-back-images output (the templates write it back to Git).
      const services = plan.services
        .filter((s) => plan.previous.includes(s.service) && s.oldImage && s.newImage && s.oldImage !== s.newImage)
        .map((s) => ({
          service: s.service,
          failedImage: s.newImage!,
          restoredImage: s.oldImage!,
          failed: events.failedServices.includes(s.service)
        }))
      return {
        ...done('rolled-back', plan, error),
        rollback: { services, restoredCommit: report.record?.header.sha ?? '' }
      }
    }
    case ExitCode.rollbackFailed:
      return done(
        'failed',
        plan,
        new UserError(`The deploy to ${shell.name} failed (${failure}) and the rollback did not converge either`, {
          fix: `The swarm needs attention: see the lines above, 'docker service ps' on the manager and ${runDir}/log.`
        })
      )
    case ExitCode.failedBeforeChange:
      return done(
        'failed',
        plan,
        new UserError(`The deploy to ${shell.name} stopped before changing any service: ${failure}`, {
          fix: events.failureFix ?? 'See the output above, fix it and rerun.'
        })
      )
    case ExitCode.failedNoRollback:
      return done(
        'failed',
        plan,
        new UserError(`The deploy to ${shell.name} failed: ${failure}; 'rollback' is false, so it was left as it is`, {
          fix: events.failureFix ?? 'See the task errors and log lines above.'
        })
      )
    case ExitCode.deployedWithoutRecord:
      return done(
        'deployed',
        plan,
        new UserError(
          `The services on ${shell.name} are deployed, but the record (${plan.directory}/.gitops-lite/swarm-state) could not be written`,
          { fix: "See the host's message above and rerun." }
        )
      )
    case ExitCode.removeFailed:
      return done(
        'deployed',
        plan,
        new UserError(
          `The services on ${shell.name} are deployed, but ${removeFailed.join(', ') || 'a service'} (gone from the compose files) could not be removed`,
          { fix: "See docker's message above and rerun." }
        )
      )
    default:
      return done('failed', plan, remoteError(shell.name, 'deploy', result, limits, log, { runDir }))
  }
}

/**
 * gl_pre_deploy_commands: the stack's missing networks, configs and secrets the jobs use (created
 * as `stack deploy` would, so it adopts them), then each job in service order; gl_swarm_pre_deploy stops the
 * deploy when one fails.
 */
function preDeployFunction(script: ShellScript, jobs: readonly SwarmPreDeployJob[]): ShellScript {
  script.code('gl_pre_deploy_commands() {\n  :')
  const networks = new Map(jobs.flatMap((job) => job.networks.map((network) => [network.name, network])))
  for (const network of networks.values())
    if (!network.external) script.command(['gl_swarm_network', network.name, ...network.options])
  const objects = new Map(jobs.flatMap((job) => job.objects.map((object) => [`${object.kind} ${object.name}`, object])))
  for (const object of objects.values())
    if (object.file) script.command(['gl_swarm_object', object.kind, object.name, object.file])
  for (const job of jobs)
    script.command(['gl_swarm_pre_deploy', job.service, ...job.options, '--', job.image, ...job.command])
  return script.code('}')
}

function servicePrefix(plan: SwarmPlan, service: string): string {
  return jsonPrefix({
    kind: 'service',
    service,
    hash: plan.desired.get(service)?.hash ?? '',
    image: plan.services.find((s) => s.service === service)?.newImage
  })
}

async function inspectAndPlan(
  shell: RemoteShell,
  options: SwarmDeployOptions,
  log: DeployLog
): Promise<{ report: SwarmReport; plan: SwarmPlan }> {
  const { limits, files } = options
  const stack = swarmStack(options.stack)
  const mark = newMark()
  const inspected = await shell.exec(attachedCommand, {
    stdin: inspectScript(stack, files, mark, limits, options.envFiles, 'swarm'),
    timeoutMs: (limits.lockTimeoutSeconds + 2 * limits.commandTimeoutSeconds) * 1000
  })
  // First of all: docker's messages and service logs may quote them.
  log.mask(hostSecrets(inspected.stdout, mark))
  const waited = new RegExp(`^${mark} lock-wait (.*)$`, 'm').exec(inspected.stdout)
  if (waited) log.info(`Waited for the deploy lock on ${shell.name}, held by ${describeOwner(waited[1])}`)
  if (inspected.code === ExitCode.notManager) {
    const stderr = inspected.stderr.trimEnd()
    throw new NotAManagerError(
      `${shell.name} is not a manager of a swarm${stderr ? ` (${stderr.replace(/^gitops-lite: /, '')})` : ''}`,
      {
        fix: "List a manager first in 'host' ('docker node ls' on a manager shows them), or run 'docker swarm init' there. Nothing was changed."
      }
    )
  }
  if (inspected.code !== 0) throw remoteError(shell.name, 'inspection', inspected, limits, log)
  const report = parseSwarmInspection(inspected.stdout, mark, shell.name)
  const paths = swarmPathsToDigest(report, files)
  const hostDigests = await hostDigestsOf(shell, stack, paths, limits, log, 'digest of the config and secret files')
  const plan = computeSwarmPlan({
    report,
    uploads: files,
    hostDigests,
    mode: options.mode,
    services: options.services,
    prune: options.prune,
    preDeploy: options.preDeploy
  })
  for (const line of formatPlan(shell.name, plan)) log.info(line)
  return { report, plan }
}

/** The record header and the lines of the services this run leaves alone. */
function recordHead(report: SwarmReport, plan: SwarmPlan, options: SwarmDeployOptions): string {
  const header: SwarmRecordHeader = {
    kind: 'deploy',
    schema: RECORD_SCHEMA,
    orchestrator: 'swarm',
    sha: options.run.sha,
    time: new Date().toISOString(),
    runUrl: options.run.url,
    actor: options.run.actor,
    project: plan.project,
    files: Object.fromEntries(options.files.map((f) => [f.path, f.digest]))
  }
  const trusted = report.record?.header.project === plan.project ? report.record : undefined
  const kept: SwarmRecordedService[] = []
  for (const service of plan.services) {
    if (service.deploy || (service.change === 'removed' && !plan.kept.includes(service.service))) continue
    const previous = trusted?.services.get(service.service)
    const live = report.live.find((l) => l.service === service.service)
    if (previous) kept.push(previous)
    else if (live && service.change === 'unchanged')
      kept.push({
        kind: 'service',
        service: service.service,
        hash: live.hash,
        image: service.newImage,
        specHash: live.specHash
      })
  }
  return [header, ...kept].map((line) => JSON.stringify(line)).join('\n') + '\n'
}
