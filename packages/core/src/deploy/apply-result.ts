import { UserError } from '../errors'
import type { ExecResult } from '../ssh/client'
import type { DeployLog, HostResult } from './deployer'
import { describeOwner, type EventReader } from './events'
import { ExitCode } from './remote'
import type { ScriptLimits } from './scripts'

export function refusedLinkError(host: string, path: string): UserError {
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
export function remoteError(
  host: string,
  step: string,
  result: ExecResult,
  limits: ScriptLimits,
  log: DeployLog,
  apply?: { runDir: string }
): UserError {
  if (result.code === ExitCode.lockTimeout) {
    const owner = /lock-timeout (.*)$/m.exec(result.stdout)?.[1] ?? ''
    return new UserError(
      `The deploy lock on ${host} was still held after ${limits.lockTimeoutSeconds} s, by ${describeOwner(owner)}`,
      {
        fix: "Wait for that run to finish (or cancel it) and rerun; raise 'lock-timeout' if deploys often queue."
      }
    )
  }
  // stdout was streamed (apply) or must not be shown (the inspection's holds the resolved config); stderr is shown here.
  const stderr = result.stderr.trimEnd()
  if (stderr !== '') log.remote(stderr.split('\n'))
  const fixes: Record<number, string> = {
    [ExitCode.invalidFiles]:
      "Fix the compose files (the message above is compose's); an env_file a service names must exist on the host, next to the compose file.",
    [ExitCode.missingTool]:
      'Install what is missing on the host (Docker with Compose v2 or docker-compose, and util-linux for flock), or set compose-command.',
    [ExitCode.notManager]:
      "List a manager of the swarm first in 'host' (docker node ls on a manager shows them), or run 'docker swarm init' on the host."
  }
  const code = result.code ?? -1
  // The inspection only reads; the apply exits 65/69/70 only before it changes anything.
  const nothingChanged =
    !apply ||
    (
      [
        ExitCode.invalidFiles,
        ExitCode.missingTool,
        ExitCode.hostError,
        ExitCode.refusedLink,
        ExitCode.notManager
      ] as number[]
    ).includes(code)
  const fallback = nothingChanged
    ? 'Nothing was changed on the host. Check the message above, then rerun.'
    : `The state of the host is unknown: the deploy stopped part-way (killed, or an unexpected error), so files or containers may have changed. Its log is ${apply.runDir}/log on the host. ` +
      'Rerun the workflow: it plans against what the host runs now and converges.'
  return new UserError(
    `The ${step} on ${host} failed (${result.code === null ? `signal ${result.signal ?? 'unknown'}` : `exit code ${result.code}`}); see the host's output above in the log`,
    {
      fix: fixes[code] ?? fallback
    }
  )
}

/** What an apply's exit code means for the host: its result and why, or that another run deployed since the plan. */
export type ApplyVerdict = { result: HostResult; error?: UserError } | 'stale-plan'

export interface ApplyContext {
  host: string
  /** The stack's directory on the host, for the record's path. */
  directory: string
  runDir: string
  /** What the apply's events said: the first failure, files not restored. */
  events: EventReader
  /** Services gone from the files whose containers could not be removed. */
  removeFailed: readonly string[]
  limits: ScriptLimits
  log: DeployLog
}

export function applyVerdict(result: ExecResult, context: ApplyContext): ApplyVerdict {
  const { host, events, removeFailed, runDir } = context
  switch (result.code) {
    case ExitCode.ok:
      return { result: 'deployed' }
    case ExitCode.stalePlan:
      return 'stale-plan'
    case ExitCode.rolledBack:
      return {
        result: 'rolled-back',
        error: new UserError(
          `The deploy to ${host} failed: ${events.failure ?? 'a service did not become healthy'}; the previous version was restored and is healthy`,
          {
            fix: 'See the service log lines above, fix the image or configuration in the infra repository, and push again.'
          }
        )
      }
    case ExitCode.rollbackFailed:
      return {
        result: 'failed',
        error:
          events.restoreFailed.length > 0
            ? new UserError(
                `The deploy to ${host} failed (${events.failure ?? 'a step failed'}) and the previous files could not be put back: ${events.restoreFailed.join(', ')}`,
                {
                  fix: `The host needs attention: see the log lines above and ${runDir}/log on the host (the previous files are in ${runDir}/old).`
                }
              )
            : new UserError(
                `The deploy to ${host} failed (${events.failure ?? 'a service did not become healthy'}) and the previous version did not become healthy either`,
                {
                  fix: `The host needs attention: its previous files are back in place; see the log lines above and ${runDir}/log on the host.`
                }
              )
      }
    case ExitCode.refusedLink:
      if (events.refusedLink !== undefined)
        return { result: 'failed', error: refusedLinkError(host, events.refusedLink) }
      return { result: 'failed', error: remoteError(host, 'deploy', result, context.limits, context.log, { runDir }) }
    case ExitCode.failedBeforeChange:
      return {
        result: 'failed',
        error: new UserError(
          `The deploy to ${host} stopped before changing any container: ${events.failure ?? 'a step failed'}`,
          {
            fix: events.failureFix ?? 'See the output above (a failed pull is the usual cause), fix it and rerun.'
          }
        )
      }
    case ExitCode.deployedWithoutRecord:
      return {
        result: 'deployed',
        error: new UserError(
          `The services on ${host} are deployed and healthy, but the deploy record (${context.directory}/.gitops-lite/state) could not be written`,
          {
            fix:
              "See the host's message above (a full disk or lost write permission are the usual causes) and fix it. " +
              'Until a deploy writes the record, the next run compares with the previous one, so it redeploys these services once more; rerun the workflow to write it.' +
              (removeFailed.length > 0
                ? ` The containers of ${removeFailed.join(', ')} (gone from the compose files) could not be removed either.`
                : '')
          }
        )
      }
    case ExitCode.removeFailed:
      return {
        result: 'deployed',
        error: new UserError(
          `The services on ${host} are deployed and healthy, but the containers of ${removeFailed.join(', ') || 'a service'} (gone from the compose files) could not be removed`,
          { fix: "See docker's message above, fix the cause on the host, and rerun: the next run removes them again." }
        )
      }
    case ExitCode.failedNoRollback:
      return {
        result: 'failed',
        error: new UserError(
          `The deploy to ${host} failed: ${events.failure ?? 'a service did not become healthy'}; 'rollback' is false, so it was left as it is`,
          {
            fix: 'See the service log lines above.'
          }
        )
      }
    default:
      return { result: 'failed', error: remoteError(host, 'deploy', result, context.limits, context.log, { runDir }) }
  }
}
