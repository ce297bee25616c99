import { shellCommand } from '../shell'
import type { DeployLog } from './deployer'
import type { HostPlan } from './plan'
import type { ApplyPhase, RemoteEvent } from './remote'

/** Who holds the deploy lock, from the owner JSON the lock keeps: for messages. */
export function describeOwner(json: string): string {
  try {
    const owner = JSON.parse(json) as { runUrl?: string; actor?: string; since?: string }
    return `run ${owner.runUrl ?? '?'} (by ${owner.actor ?? '?'}, since ${owner.since ?? '?'})`
  } catch {
    return 'another run'
  }
}

/** The pre-deploy command of each service the plan deploys, for EventReader's messages. */
export function preDeployOf(plan: Pick<HostPlan, 'services'>): Map<string, readonly string[]> {
  return new Map(plan.services.flatMap((s) => (s.preDeploy ? [[s.service, s.preDeploy] as const] : [])))
}

/** Reads the apply's streamed output: event lines update the state, the rest is shown as remote output. */
export class EventReader {
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
    private readonly removeFailed: string[] = [],
    /** The pre-deploy commands, named in the error when one fails. */
    private readonly preDeploy: ReadonlyMap<string, readonly string[]> = new Map()
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
          this.log.info(
            this.rollingBack
              ? `Bringing the previous version of ${state} back, start-first`
              : `Replacing ${state} start-first`
          )
          break
        }
        this.log.info(
          (this.rollingBack ? rollbackMessages[subject] : undefined) ?? phaseMessages[subject] ?? `Step: ${subject}`
        )
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
        // A number is the command's exit code; a Swarm job's task may also end without one (rejected: its image could not be pulled).
        const how =
          state === '124'
            ? `timed out (command-timeout)`
            : /^[0-9]+$/.test(state ?? '')
              ? `exited with code ${state}`
              : state === 'not-created'
                ? "could not be started as a Swarm job (docker's message is above)"
                : `could not run (its task was ${state})`
        const last = this.recent.filter((line) => line.trim() !== '')
        this.failure ??=
          `the pre-deploy command of ${subject} ${how}` +
          (last.length > 0
            ? `; its last lines:\n${last.map((line) => `  | ${line}`).join('\n')}`
            : ' and printed nothing')
        const command = this.preDeploy.get(subject)
        if (this.recent.some((line) => line.includes('No such image')))
          this.failureFix ??= `The node could not pull the new image of ${subject}: if its registry needs a login, give 'registry', 'registry-username' and 'registry-password'; else check the image name and tag. Nothing was deployed.`
        this.failureFix ??= `Fix the command${command ? ` (${shellCommand(command)})` : ''} (x-gitops-lite.pre-deploy of ${subject} in the compose file) or what it needs, and rerun; the files were put back and nothing was deployed.`
        this.log.warning(`${subject}: the pre-deploy command ${how}`)
        break
      }
      case 'setup-failed':
        this.failure ??= `the ${subject} ${state}, which a pre-deploy command uses, could not be created (docker's message is above)`
        break
      case 'pull-failed':
        // Said after the health wait gave up, and more to the point than its 'not converged'.
        this.failure = `${subject} could not start: the nodes could not pull its image (its tasks were rejected with "No such image")`
        this.failureFix = `If its registry needs a login, give 'registry', 'registry-username' and 'registry-password' (the deploy hands the login to the nodes that pull); else check the image name and tag in the compose file.`
        break
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
