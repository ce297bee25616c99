import { readFileSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parse } from 'yaml'
import {
  exec,
  type DispatchEvent,
  type FakeGitHub,
  renderRunName,
  type GitRemote,
  repoRoot,
  runAction,
  type ActionName,
  type ActionRun
} from '@gitops-lite/sandbox'
import { firstLine, type Narrator } from './narrator'

/**
 * The infra repository's workflow as templates/infra-repo/.github/workflows/ writes it and GitHub
 * runs it: bump.yml runs on repository_dispatch with its `run-name` (read from the template,
 * carrying `${{ github.event.client_payload.correlation_id }}`); its job `bump`
 * checks out the default branch and runs bump-image-tag (which reads the client_payload); its
 * job `deploy` (needs: bump) calls deploy.yml, which checks out the default branch's newest
 * commit (the one bump pushed) and runs ssh-surgical-deploy. When that deploy rolled back,
 * deploy.yml's job `restore` checks out the default branch again, runs bump-image-tag with
 * `restore` (the deploy's rolled-back-images) and, when it committed, ssh-surgical-deploy on
 * that commit. The jobs are in the one repository_dispatch run (a push made with the workflow
 * token starts no other workflow), so the run's conclusion is the deploy's, and that is what
 * dispatch-to-infra's `wait: true` reports.
 */
export const INFRA_RUN_NAME = (
  parse(readFileSync(join(repoRoot, 'templates', 'infra-repo', '.github', 'workflows', 'bump.yml'), 'utf8')) as {
    'run-name': string
  }
)['run-name']
export const INFRA_WORKFLOW_NAME = 'deploy'

export type JobName = 'bump' | 'deploy' | 'restore'

export interface JobResult {
  job: JobName
  result: 'success' | 'failure' | 'skipped'
  /** The fresh checkout the job's action ran in. */
  checkout?: { dir: string; sha: string }
  /** The first step's action run (exit code, outputs, summary, logs); absent when the job never got to it. */
  run?: ActionRun
  /** Every step's action run, in order (the restore job's bump, then its deploy when it committed). */
  runs?: ActionRun[]
  /** Why the job failed: the action's first error annotation, or what went wrong around it. */
  error?: string
  durationMs: number
}

export interface InfraRunResult {
  runId: number
  displayTitle: string
  correlationId: string
  event: DispatchEvent
  /** The infra repo's main at the dispatch: the run's GITHUB_SHA. */
  headSha: string
  conclusion: 'success' | 'failure'
  bump: JobResult
  deploy: JobResult
  /** deploy.yml's job restore: skipped unless the deploy rolled back. */
  restore: JobResult
  durationMs: number
}

export interface InfraWorkflowOptions {
  github: FakeGitHub
  /** owner/name of the infra repository on the fake GitHub. */
  repository: string
  remote: GitRemote
  /** Checkouts go to <runnerDir>/run-<id>/<job>. */
  runnerDir: string
  /** ssh-surgical-deploy's `with:` (host, key, known-hosts, remote-dir, ...): the repo's vars and secrets. */
  deployInputs: Record<string, string>
  /** The repository variable RESTORE_GIT_AFTER_ROLLBACK: false skips the restore job. Default true. */
  restoreGit?: boolean
  narrator: Narrator
  /** Per action run; the runner kills a step that takes longer. */
  actionTimeoutMs?: number
  /** GITHUB_SERVER_URL of the runs. */
  serverUrl?: string
}

/** The value of `${{ github.token }}` in the infra runs: an installation token, as GitHub's look. */
const WORKFLOW_TOKEN = 'ghs_sandboxWorkflowToken000000000000000'

/**
 * Plays GitHub Actions for the infra repository: each repository_dispatch the fake GitHub API
 * accepts starts a workflow run (visible to dispatch-to-infra through the API, in progress),
 * runs the bump job and then the deploy job on fresh checkouts through the committed bundles,
 * and completes the run with their conclusion. Runs are serialized, like a concurrency group.
 */
export class InfraWorkflow {
  private readonly runs = new Map<string, Promise<InfraRunResult>>()
  private queue: Promise<unknown> = Promise.resolve()
  private beforeJobHook?: (job: JobName, runId: number) => Promise<void>

  constructor(private readonly options: InfraWorkflowOptions) {
    options.github.onDispatch((event) => {
      if (event.repository !== options.repository) return
      const correlationId = String(event.clientPayload.correlation_id ?? `no-correlation-id-${Date.now()}`)
      const run = this.queue.then(() => this.execute(event, correlationId))
      this.queue = run.catch(() => undefined)
      this.runs.set(correlationId, run)
      return run.then(() => undefined)
    })
  }

  /**
   * Runs `hook` before each job's checkout (undefined: none), e.g. to land another commit on the
   * branch between two jobs, as a concurrent run would.
   */
  beforeJob(hook: ((job: JobName, runId: number) => Promise<void>) | undefined): void {
    this.beforeJobHook = hook
  }

  /** The run started by the dispatch carrying `correlationId`; undefined when none arrived. */
  run(correlationId: string): Promise<InfraRunResult> | undefined {
    return this.runs.get(correlationId)
  }

  /** Every run started so far, in order. */
  all(): Promise<InfraRunResult[]> {
    return Promise.all(this.runs.values())
  }

  private env(runId: number, headSha: string, job: JobName, event: DispatchEvent): Record<string, string> {
    const [owner] = this.options.repository.split('/')
    return {
      GITHUB_REPOSITORY: this.options.repository,
      GITHUB_REPOSITORY_OWNER: owner,
      GITHUB_SHA: headSha,
      GITHUB_REF: `refs/heads/${this.options.remote.branch}`,
      GITHUB_REF_NAME: this.options.remote.branch,
      GITHUB_EVENT_NAME: 'repository_dispatch',
      GITHUB_WORKFLOW: INFRA_WORKFLOW_NAME,
      GITHUB_JOB: job,
      GITHUB_RUN_ID: String(runId),
      GITHUB_RUN_NUMBER: String(runId - 999),
      GITHUB_ACTOR: senderOf(event),
      GITHUB_TRIGGERING_ACTOR: senderOf(event),
      GITHUB_SERVER_URL: this.options.serverUrl ?? 'https://github.com',
      GITHUB_API_URL: this.options.github.url
    }
  }

  /** The event GitHub writes to GITHUB_EVENT_PATH for a repository_dispatch. */
  private eventPayload(event: DispatchEvent): Record<string, unknown> {
    const [owner, name] = this.options.repository.split('/')
    return {
      action: event.eventType,
      branch: this.options.remote.branch,
      client_payload: event.clientPayload,
      repository: {
        full_name: this.options.repository,
        name,
        owner: { login: owner },
        default_branch: this.options.remote.branch
      },
      sender: { login: senderOf(event) }
    }
  }

  private async execute(event: DispatchEvent, correlationId: string): Promise<InfraRunResult> {
    const { github, narrator, remote } = this.options
    const started = Date.now()
    // Never throw before the run exists: the sender would wait for a run that never comes.
    const headSha = await remote.head().catch(() => '0'.repeat(40))
    const context = {
      github: {
        event_name: 'repository_dispatch',
        repository: event.repository,
        repository_owner: event.repository.split('/')[0],
        event: this.eventPayload(event)
      }
    }
    const displayTitle = renderRunName(INFRA_RUN_NAME, context)
    const runId = github.createWorkflowRun({
      repository: this.options.repository,
      name: INFRA_WORKFLOW_NAME,
      displayTitle,
      event: 'repository_dispatch',
      headBranch: remote.branch,
      headSha,
      queuedMs: 0,
      inProgressMs: Number.POSITIVE_INFINITY
    })
    const received = narrator.step(
      `[GitHub] repository_dispatch '${event.eventType}' → ${this.options.repository}: workflow run ${runId} "${displayTitle}" in progress`
    )
    received.note(`client_payload: ${describePayload(event.clientPayload)}`)
    received.done()

    const skipped = (job: JobName): JobResult => ({ job, result: 'skipped', durationMs: 0 })
    const deployStep = { action: 'ssh-surgical-deploy' as const, inputs: this.options.deployInputs }
    let bump: JobResult
    let deploy: JobResult | undefined
    let restore: JobResult = skipped('restore')
    try {
      bump = await this.job(runId, 'bump', event, headSha, remote.branch, [{ action: 'bump-image-tag', inputs: {} }])
      // deploy.yml checks out `ref: ${{ github.event.repository.default_branch }}`: main's newest commit.
      deploy =
        bump.result === 'success'
          ? await this.job(runId, 'deploy', event, headSha, remote.branch, [deployStep])
          : skipped('deploy')
      // if: failure() && needs.deploy.outputs.rolled-back == 'true' && vars.RESTORE_GIT_AFTER_ROLLBACK != 'false'
      if (
        deploy.result === 'failure' &&
        deploy.run?.outputs['rolled-back'] === 'true' &&
        this.options.restoreGit !== false
      ) {
        restore = await this.job(runId, 'restore', event, headSha, remote.branch, [
          {
            action: 'bump-image-tag',
            inputs: { files: 'compose.yaml', restore: deploy.run.outputs['rolled-back-images'] ?? '' }
          },
          { ...deployStep, if: (runs) => runs[0]?.outputs.changed === 'true' }
        ])
      }
    } catch (error) {
      // A bug of the stand-in itself: still complete the run, so the waiting sender sees it.
      const message = (error as Error).message
      bump ??= { job: 'bump', result: 'failure', error: message, durationMs: 0 }
      if (deploy === undefined) deploy = { job: 'deploy', result: 'failure', error: message, durationMs: 0 }
      else restore = { job: 'restore', result: 'failure', error: message, durationMs: 0 }
    }
    const conclusion = bump.result === 'success' && deploy.result === 'success' ? 'success' : 'failure'
    github.completeRun(runId, conclusion)
    const durationMs = Date.now() - started
    const restored = restore.result === 'skipped' ? '' : `, restore ${restore.result}`
    narrator
      .step(`[GitHub] workflow run ${runId} completed: ${conclusion}`)
      .done(`bump ${bump.result}, deploy ${deploy.result}${restored}`)
    return { runId, displayTitle, correlationId, event, headSha, conclusion, bump, deploy, restore, durationMs }
  }

  /**
   * One job: a fresh checkout (actions/checkout), then its steps' committed bundles, run as the
   * runner runs them, in the same checkout; a step whose `if` is false is skipped.
   */
  private async job(
    runId: number,
    job: JobName,
    event: DispatchEvent,
    headSha: string,
    ref: string,
    steps: JobStep[]
  ): Promise<JobResult> {
    const { narrator, remote } = this.options
    const started = Date.now()
    const dir = join(this.options.runnerDir, `run-${runId}`, job, 'infra')
    const actions = steps.map((s) => s.action).join(', then ')
    const step = narrator.step(
      `[infra run ${runId} · job ${job}] fresh checkout of ${ref}, run ${actions}${steps.some((s) => s.action === 'ssh-surgical-deploy') ? ` → ${this.options.deployInputs.host}` : ''}`
    )
    let checkout: JobResult['checkout']
    try {
      await this.beforeJobHook?.(job, runId)
      await mkdir(join(dir, '..'), { recursive: true })
      await remote.clone(dir)
      await exec('git', ['-C', dir, 'checkout', '-q', ref])
      const sha = (await exec('git', ['-C', dir, 'rev-parse', 'HEAD'])).stdout.trim()
      checkout = { dir, sha }
      step.note(`checked out ${ref} at ${sha.slice(0, 7)}`)
    } catch (error) {
      const message = `checkout failed: ${firstLine((error as Error).message)}`
      step.fail(message)
      return { job, result: 'failure', error: message, durationMs: Date.now() - started }
    }

    const runs: ActionRun[] = []
    const described: string[] = []
    for (const { action, inputs, if: condition } of steps) {
      if (condition && !condition(runs)) continue
      let run: ActionRun
      try {
        run = await runAction(action, {
          workspace: dir,
          inputs,
          event: { name: 'repository_dispatch', payload: this.eventPayload(event) },
          env: this.env(runId, headSha, job, event),
          githubToken: WORKFLOW_TOKEN,
          timeoutMs: this.options.actionTimeoutMs ?? 300_000
        })
      } catch (error) {
        const message = firstLine((error as Error).message)
        step.fail(message)
        return {
          job,
          result: 'failure',
          checkout,
          run: runs[0],
          runs,
          error: message,
          durationMs: Date.now() - started
        }
      }
      runs.push(run)
      // The job's log, as the Actions UI would show it.
      const log = runs.map((r) => `${r.stdout}${r.stderr ? `\n--- stderr\n${r.stderr}` : ''}`).join('\n')
      await writeFile(join(dir, '..', 'log.txt'), log).catch(() => undefined)
      if (action === 'ssh-surgical-deploy') for (const line of planLines(run)) step.note(`│ ${line}`)
      if (run.exitCode !== 0) {
        const error = actionError(run)
        const excerpt = action === 'ssh-surgical-deploy' ? healthLines(run) : []
        for (const line of excerpt.length ? excerpt : logTail(run, 8)) step.note(`│ ${line}`)
        step.fail(`${action} exited ${run.exitCode}: ${error}`)
        step.note(`full log: ${join(dir, '..', 'log.txt')}`)
        return { job, result: 'failure', checkout, run: runs[0], runs, error, durationMs: Date.now() - started }
      }
      if (action === 'ssh-surgical-deploy') for (const line of startFirstLines(run)) step.note(`│ ${line}`)
      described.push(action === 'bump-image-tag' ? describeBump(run) : describeDeploy(run))
    }
    step.done(described.join('; then '))
    return { job, result: 'success', checkout, run: runs[0], runs, durationMs: Date.now() - started }
  }
}

/** One step of a job: an action with its `with:`, and its `if:` over the runs of the steps before it. */
interface JobStep {
  action: ActionName
  inputs: Record<string, string>
  if?: (runs: readonly ActionRun[]) => boolean
}

/** The payload in one line: schema, each service's image, the source commit. */
export function describePayload(payload: Record<string, unknown>): string {
  type Update = { service?: string; image?: string; tag?: string; digest?: string }
  const updates: Update[] = Array.isArray(payload.services) ? (payload.services as Update[]) : [payload as Update]
  const images = updates.map((u) => `${u.service}=${u.image}:${u.tag}${u.digest ? `@${u.digest.slice(0, 19)}…` : ''}`)
  const source = payload.source as { repository?: string; sha?: string } | undefined
  const form = Array.isArray(payload.services) ? 'services' : 'service'
  return `schema ${payload.schema}, ${form} ${images.join(', ')}${source?.repository ? `, source ${source.repository}@${source.sha?.slice(0, 7)}` : ''}`
}

function senderOf(event: DispatchEvent): string {
  const source = event.clientPayload.source as { actor?: unknown } | undefined
  return typeof source?.actor === 'string' && source.actor ? source.actor : 'sandbox-dev'
}

/** The first error annotation of a failed action run, else the last line it printed. */
export function actionError(run: ActionRun): string {
  const annotation = run.annotations.find((a) => a.level === 'error')
  if (annotation) return firstLine(annotation.message)
  const lines = `${run.stdout}\n${run.stderr}`.split('\n').filter((l) => l.trim() !== '')
  return lines.at(-1)?.trim() ?? `exit code ${run.exitCode}`
}

/** The last `count` log lines of an action run, workflow commands (::group:: etc.) left out. */
export function logTail(run: ActionRun, count: number): string[] {
  return `${run.stdout}\n${run.stderr}`
    .split('\n')
    .filter((line) => line.trim() !== '' && !/^::/.test(line))
    .slice(-count)
}

function logLines(run: ActionRun): string[] {
  return run.stdout.split('\n').filter((line) => line.trim() !== '' && !/^::/.test(line))
}

function shortenDigests(line: string): string {
  return line.replace(/@sha256:([0-9a-f]{12})[0-9a-f]{52}/g, '@sha256:$1…')
}

/** ssh-surgical-deploy's plan, as it printed it: one line per service and the files. */
export function planLines(run: ActionRun): string[] {
  const lines = logLines(run)
  const start = lines.findIndex((line) => /^Plan for /.test(line))
  if (start < 0) return []
  const end = lines.findIndex((line, i) => i > start && !/^\s/.test(line))
  return lines.slice(start, end < 0 ? undefined : end).map(shortenDigests)
}

/** The steps of start-first rollouts: new containers started, healthy beside the old, old ones stopped. */
export function startFirstLines(run: ActionRun): string[] {
  return logLines(run).filter((line) => /^Replacing \S+ start-first$|^ {2}\S+: (started|healthy;|stopped) /.test(line))
}

/** From the health wait to the end (rollback included), without compose's container lines. */
export function healthLines(run: ActionRun): string[] {
  const lines = logLines(run)
  const start = lines.findIndex((line) => /^Waiting for the services/.test(line))
  if (start < 0) return []
  return lines
    .slice(start)
    .filter((line) => !/^\s+Container \S+\s+\w+$/.test(line))
    .map(shortenDigests)
    .slice(0, 20)
}

function jsonOutput<T>(run: ActionRun, name: string, fallback: T): T {
  try {
    return run.outputs[name] ? (JSON.parse(run.outputs[name]) as T) : fallback
  } catch {
    return fallback
  }
}

function describeBump(run: ActionRun): string {
  if (run.outputs.changed !== 'true') return 'nothing to change (already at the target)'
  const services = jsonOutput<string[]>(run, 'services', [])
  const sha = run.outputs['commit-sha']
  return `changed ${services.join(', ') || '?'}${sha ? `, pushed commit ${sha.slice(0, 7)}` : ''}`
}

function describeDeploy(run: ActionRun): string {
  const deployed = jsonOutput<string[]>(run, 'deployed', [])
  const drifted = jsonOutput<string[]>(run, 'drifted', [])
  return (
    `deployed ${deployed.length ? deployed.join(', ') : 'nothing'}` +
    (drifted.length ? `, healed drift of ${drifted.join(', ')}` : '') +
    (run.outputs['rolled-back'] === 'true' ? ', rolled back' : '')
  )
}
