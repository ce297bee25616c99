import { posix } from 'node:path'
import { ShellScript, shellCommand } from '../shell'
import {
  ATTACHED_BOOTSTRAP,
  DETACHED_BOOTSTRAP,
  exitCodeVariables,
  REMOTE_LIBRARY,
  STACKS_LIBRARY,
  SWARM_LIBRARY
} from './remote'
import type { HostPlan } from './plan'
import type { StackFile } from './stack-files'

export type ComposeCommand = 'auto' | 'docker compose' | 'docker-compose'

/** Where the stack lives on a host and how compose is run there. */
export interface StackTarget {
  /** Absolute, or relative to the login's home directory. */
  remoteDir: string
  /** Compose files relative to remoteDir, in compose's order. */
  composeFiles: readonly string[]
  /** Empty: compose's default for remoteDir. */
  projectName: string
  composeCommand: ComposeCommand
}

/** Credentials the pull logs in to a registry with; they reach the host only on stdin. */
export interface RegistryLogin {
  /** host[:port], as in image names. */
  registry: string
  username: string
  password: string
}

/**
 * What the apply reads before its script: one line per registry (its host, then the base64 of
 * the username and of the password), then an empty line. The detached bootstrap hands these
 * lines to the apply on a pipe, so credentials are never in the saved script or its log.
 */
export function registryLoginLines(registries: readonly RegistryLogin[]): string {
  const base64 = (text: string) => Buffer.from(text).toString('base64')
  return (
    registries
      .map((r) => {
        if (!/^[A-Za-z0-9.:-]+$/.test(r.registry)) throw new Error(`'${r.registry}' is not a registry host`)
        return `${r.registry} ${base64(r.username)} ${base64(r.password)}\n`
      })
      .join('') + '\n'
  )
}

export interface ScriptLimits {
  lockTimeoutSeconds: number
  commandTimeoutSeconds: number
  healthTimeoutSeconds: number
}

const wordPattern = /^[A-Za-z0-9._/-]+$/

/** A space-separated list the remote library splits into words; each item must be one safe word. */
export function words(items: readonly string[]): string {
  for (const item of items)
    if (!wordPattern.test(item)) throw new Error(`'${item}' cannot be passed to the host as one word`)
  return items.join(' ')
}

export function base64Lines(content: Buffer | string): string {
  return (Buffer.isBuffer(content) ? content : Buffer.from(content)).toString('base64').replace(/.{1,76}/g, '$&\n')
}

/**
 * The variables every remote function may read (`extra` adds to or overrides them), then the
 * library: the one place that lists what the library is given (its unit tests start here too).
 */
export function libraryScript(
  stack: StackTarget,
  mark: string,
  limits: ScriptLimits,
  files: readonly string[],
  extra: Record<string, string> = {}
): ShellScript {
  const variables: Record<string, string> = {
    ...exitCodeVariables(),
    GL_MARK: mark,
    GL_DIR: stack.remoteDir,
    GL_PROJECT: stack.projectName,
    GL_COMPOSE_PREF: stack.composeCommand,
    GL_COMPOSE_FILES: words(stack.composeFiles),
    GL_FILES: words(files),
    GL_LOCK_TIMEOUT: String(limits.lockTimeoutSeconds),
    GL_COMMAND_TIMEOUT: String(limits.commandTimeoutSeconds),
    GL_HEALTH_TIMEOUT: String(limits.healthTimeoutSeconds),
    ...extra
  }
  const script = new ShellScript()
  for (const [name, value] of Object.entries(variables)) script.assign(name, value)
  return script.code(REMOTE_LIBRARY)
}

/** The command line that runs a script sent on stdin (inspection and digests). */
export const attachedCommand = shellCommand(['sh', '-c', ATTACHED_BOOTSTRAP])

/** The command line that runs the apply script detached in `runDir` and streams its log. */
export function detachedCommand(runDir: string): string {
  return shellCommand(['sh', '-c', DETACHED_BOOTSTRAP, 'gitops-lite', runDir])
}

export function runDirOf(remoteDir: string, runId: string): string {
  return posix.join(remoteDir, '.gitops-lite', 'runs', runId)
}

/**
 * Round trip 1, read-only: refuses links where the deploy would write, stages the files in a
 * temporary directory, prints the VM's env files (for masking), then reports the compose
 * variant, the project, the resolved config and hashes of the new files, the project's
 * containers (on a swarm: its services), the last deploy's record and the digests of the files
 * now in remote-dir.
 */
export function inspectScript(
  stack: StackTarget,
  files: readonly StackFile[],
  mark: string,
  limits: ScriptLimits,
  envFiles: ReadonlyMap<string, readonly string[]> = new Map(),
  orchestrator: 'compose' | 'swarm' = 'compose'
): string {
  const library = libraryScript(
    stack,
    mark,
    limits,
    files.map((f) => f.path)
  )
  if (orchestrator === 'swarm') library.code(SWARM_LIBRARY)
  const script = stagedFilesScript(library.code('gl_inspect_begin'), files)
  // The env_file paths: the host prints those files (and .env, .<service>.env) for masking.
  const envPaths = [...new Set([...envFiles.values()].flat())]
  const report = orchestrator === 'swarm' ? 'gl_swarm_inspect_report' : 'gl_inspect_report'
  return script.command([report, ...envPaths]).toString()
}

/** Adds the commands that stage each file (after gl_inspect_begin or gl_apply_begin). */
export function stagedFilesScript(script: ShellScript, files: readonly StackFile[]): ShellScript {
  for (const file of files) script.commandWithInput(['gl_stage_file', file.path], base64Lines(file.content))
  return script
}

/** Round trip 2 (only when services read files that are not uploaded): one digest line per path. */
export function digestScript(stack: StackTarget, paths: readonly string[], mark: string, limits: ScriptLimits): string {
  return libraryScript(stack, mark, limits, [])
    .command(['gl_digest', ...paths])
    .toString()
}

export interface ApplyScriptInput {
  stack: StackTarget
  mark: string
  limits: ScriptLimits
  runId: string
  plan: HostPlan
  /** Every uploaded file (pull reads the new compose files); only changed ones are swapped in. */
  files: readonly StackFile[]
  pull: boolean
  rollback: boolean
  /** JSON line shown to runs that wait for the lock. */
  owner: string
  /** JSON lines: the record header and the unchanged services' lines. */
  recordHead: string
  /** Per deployed service, its record line without configHash, containerHash and the closing brace. */
  servicePrefixes: ReadonlyMap<string, string>
  /** The audit line without result, durationSeconds and the closing brace. */
  audit: string
}

/** Round trip 3: lock, generation check, pull, swap, up, health wait, record or rollback. */
export function applyScript(input: ApplyScriptInput): string {
  const { plan } = input
  const changed = plan.files.filter((f) => f.change !== 'same').map((f) => f.path)
  const prefixes = plan.deploy.map((service) => {
    const prefix = input.servicePrefixes.get(service)
    if (prefix === undefined || prefix.includes('\n'))
      throw new Error(`No single-line record prefix for service '${service}'`)
    return `${service} ${prefix}\n`
  })
  const script = libraryScript(input.stack, input.mark, input.limits, changed, {
    // The apply uses what the inspection found, so both run the same compose on the same project.
    GL_PROJECT: plan.project,
    GL_COMPOSE_PREF: plan.compose === 'v2' ? 'docker compose' : 'docker-compose',
    GL_RUN_ID: words([input.runId]),
    GL_EXPECT_GENERATION: plan.generation,
    GL_DEPLOY: words(plan.deploy),
    GL_RECREATE: words(plan.recreate),
    // Sextuples: service, replicas, parallelism, delay, monitor, stop grace (seconds).
    GL_START_FIRST: words(
      plan.startFirst.flatMap((s) => [
        s.service,
        ...[s.replicas, s.parallelism, s.delaySeconds, s.monitorSeconds, s.stopGraceSeconds].map(String)
      ])
    ),
    // Pairs: service, container id (a failed removal names the service).
    GL_REMOVE: words(plan.removed.flatMap((s) => s.containers.flatMap((id) => [s.service, id]))),
    GL_NEW_SERVICES: words(plan.newServices),
    // A rollback recreates these; start-first services are rolled back start-first.
    GL_PREVIOUS: words(plan.previous.filter((service) => plan.recreate.includes(service))),
    GL_FULL: plan.full ? '1' : '0',
    GL_PULL: input.pull ? '1' : '0',
    GL_ROLLBACK: input.rollback ? '1' : '0',
    GL_OWNER: input.owner,
    GL_AUDIT: input.audit
  }).code('gl_apply_begin')
  stagedFilesScript(script, input.files)
  // The pre-deploy commands, in service order; gl_pre_deploy stops the deploy when one fails.
  script.code('gl_pre_deploy_commands() {\n  :')
  for (const service of plan.services)
    if (service.deploy && service.preDeploy) script.command(['gl_pre_deploy', service.service, ...service.preDeploy])
  script.code('}')
  return script
    .commandWithInput(['gl_put', 'record.head'], base64Lines(input.recordHead))
    .commandWithInput(['gl_put', 'record.services'], base64Lines(prefixes.join('')))
    .code('gl_apply_main')
    .toString()
}

export interface RemoveScriptInput {
  /** projectName must be set: a removal never guesses which project to take down. */
  stack: StackTarget
  mark: string
  limits: ScriptLimits
  dryRun: boolean
  removeVolumes: boolean
  /** JSON line shown to runs that wait for the lock. */
  owner: string
  /** The audit line without result, durationSeconds and the closing brace. */
  audit: string
}

/** One round trip: lock, check that remote-dir holds this project, then list and (unless a dry run) remove it. */
export function removeScript(input: RemoveScriptInput): string {
  if (input.stack.projectName === '') throw new Error('removeScript needs the project name')
  return libraryScript(input.stack, input.mark, input.limits, [], {
    GL_DRY_RUN: input.dryRun ? '1' : '0',
    GL_REMOVE_VOLUMES: input.removeVolumes ? '1' : '0',
    GL_OWNER: input.owner,
    GL_AUDIT: input.audit
  })
    .code(STACKS_LIBRARY)
    .code('gl_remove_main')
    .toString()
}

/** Read-only: the record header of each stack in a folder directly under remote-dir. */
export function listScript(stack: StackTarget, mark: string, limits: ScriptLimits): string {
  return libraryScript(stack, mark, limits, []).code(STACKS_LIBRARY).code('gl_list_main').toString()
}
