import { randomBytes } from 'node:crypto'
import { UserError } from '../errors'
import { ConnectionLostError, type RemoteShell } from '../ssh/client'
import type { DeployLog, HostOutcome, RunInfo } from './deployer'
import { remoteError } from './apply-result'
import { jsonPrefix, parseRecord, type AuditEntry } from './record'
import { ExitCode, type StackEvent } from './remote'
import { attachedCommand, listScript, removeScript, type ScriptLimits, type StackTarget } from './scripts'

function newMark(): string {
  return `@@gitops-lite-${randomBytes(6).toString('hex')}`
}

/** A stack deployed in a folder under the listed one, from its record's header. */
export interface ListedStack {
  remoteDir: string
  project: string
  /** The infra repository's commit last deployed there, when, by whom and which run. */
  sha: string
  time: string
  actor: string
  runUrl: string
}

/** Reads the record of each stack in a folder directly under remote-dir; changes nothing. */
export async function listStacks(
  shell: RemoteShell,
  options: { stack: StackTarget; limits: ScriptLimits },
  log: DeployLog
): Promise<HostOutcome> {
  const started = Date.now()
  const mark = newMark()
  const done = (result: HostOutcome['result'], extra: Partial<HostOutcome> = {}): HostOutcome => ({
    host: shell.name,
    result,
    health: {},
    durationMs: Date.now() - started,
    ...extra
  })
  let result
  try {
    result = await shell.exec(attachedCommand, {
      stdin: listScript(options.stack, mark, options.limits),
      timeoutMs: options.limits.commandTimeoutSeconds * 1000
    })
  } catch (error) {
    if (!(error instanceof ConnectionLostError)) throw error
    return done('failed', {
      error: new UserError(`${error.message} while listing the stacks`, { fix: 'Rerun the workflow.' })
    })
  }
  if (result.code !== ExitCode.ok)
    return done('failed', { error: remoteError(shell.name, 'listing', result, options.limits, log) })
  const stacks: ListedStack[] = []
  let folder: string | undefined
  for (const line of result.stdout.split('\n')) {
    if (line.startsWith(`${mark} stack `)) {
      folder = line.slice(`${mark} stack `.length)
      continue
    }
    // The line after `stack <folder>` is its record's header; a record that is not ours is skipped.
    const header = folder === undefined ? undefined : parseRecord(line)?.header
    if (folder !== undefined && header) {
      stacks.push({
        remoteDir: folder,
        project: header.project,
        sha: header.sha,
        time: header.time,
        actor: header.actor,
        runUrl: header.runUrl
      })
    }
    folder = undefined
  }
  log.info(
    `Stacks under ${options.stack.remoteDir} on ${shell.name}: ${stacks.map((s) => `${s.project} (${s.remoteDir})`).join(', ') || 'none'}`
  )
  return done('listed', { stacks })
}

export interface RemoveOptions {
  /** projectName is required: the project remote-dir must hold. */
  stack: StackTarget
  removeVolumes: boolean
  dryRun: boolean
  limits: ScriptLimits
  run: RunInfo
}

/** What a removal took down (or, in a dry run, would). */
export interface Removal {
  project: string
  containers: { service: string; name: string }[]
  networks: string[]
  /** Named volumes of the project: removed only with remove-volumes. */
  volumes: { name: string; removed: boolean }[]
  /** Uploaded files, relative to remote-dir. */
  files: string[]
  /** The host's state folder, when there is one (its audit.log stays). */
  state?: string
  /** What could not be removed, e.g. `network pr-7_default` or a file behind a symbolic link. */
  failed: string[]
}

/** The removal as log lines. */
export function formatRemoval(host: string, removal: Removal, dryRun: boolean): string[] {
  const list = (items: string[]): string => items.join(', ') || 'none'
  const volumes = (removed: boolean): string[] =>
    removal.volumes.filter((v) => v.removed === removed).map((v) => v.name)
  return [
    `${dryRun ? 'Would remove' : 'Removing'} project ${removal.project} from ${host}:`,
    `  containers: ${list(removal.containers.map((c) => `${c.service} (${c.name})`))}`,
    `  networks: ${list(removal.networks)}`,
    `  volumes: ${list(volumes(true))}${volumes(false).length > 0 ? `; kept (remove-volumes is false): ${volumes(false).join(', ')}` : ''}`,
    `  uploaded files: ${list(removal.files)}`,
    `  state folder: ${removal.state ? `${removal.state} (its audit.log stays)` : 'none'}`
  ]
}

/** Takes the project in remote-dir down completely on one host, or says what would go. */
export async function removeFromHost(shell: RemoteShell, options: RemoveOptions, log: DeployLog): Promise<HostOutcome> {
  const started = Date.now()
  const { stack, limits, run } = options
  const project = stack.projectName
  const removal: Removal = { project, containers: [], networks: [], volumes: [], files: [], failed: [] }
  const done = (result: HostOutcome['result'], error?: UserError): HostOutcome => ({
    host: shell.name,
    result,
    health: {},
    removal,
    error,
    durationMs: Date.now() - started
  })
  const mark = newMark()
  const script = removeScript({
    stack,
    mark,
    limits,
    dryRun: options.dryRun,
    removeVolumes: options.removeVolumes,
    owner: JSON.stringify({ runUrl: run.url, actor: run.actor, sha: run.sha, since: new Date().toISOString() }),
    audit: jsonPrefix({
      time: new Date().toISOString(),
      actor: run.actor,
      runUrl: run.url,
      sha: run.sha,
      host: shell.name,
      project,
      mode: 'remove',
      services: [],
      removed: [],
      removeVolumes: options.removeVolumes
    } satisfies AuditEntry)
  })
  let result
  try {
    result = await shell.exec(attachedCommand, {
      stdin: script,
      timeoutMs: (limits.lockTimeoutSeconds + 4 * limits.commandTimeoutSeconds + 60) * 1000
    })
  } catch (error) {
    if (!(error instanceof ConnectionLostError)) throw error
    return done(
      'failed',
      new UserError(`${error.message} while removing project ${project}`, {
        fix: 'Rerun the workflow: a removal picks up what is left.'
      })
    )
  }
  let refusal: { kind: string; detail: string } | undefined
  let outcome = ''
  const shown: string[] = []
  for (const line of result.stdout.split('\n')) {
    if (!line.startsWith(`${mark} `)) {
      if (line !== '') shown.push(line)
      continue
    }
    const [event, first = '', ...rest] = line.slice(mark.length + 1).split(' ')
    const kind = event as StackEvent
    const second = rest.join(' ')
    switch (kind) {
      case 'container':
        removal.containers.push({ service: first, name: second.replace(/^\//, '') })
        break
      case 'network':
        removal.networks.push(first)
        break
      case 'volume':
        removal.volumes.push({ name: first, removed: second === 'remove' })
        break
      case 'file':
        removal.files.push(first)
        break
      case 'state':
        removal.state = [first, second].filter(Boolean).join(' ')
        break
      case 'refused':
        refusal = { kind: first, detail: second }
        break
      case 'skipped':
        removal.failed.push(`${first} (a folder on its path is a symbolic link)`)
        break
      case 'remove-failed':
        removal.failed.push(second === '-' ? first : `${first} ${second}`)
        break
      case 'result':
        outcome = first
        break
    }
  }
  if (shown.length > 0) log.remote(shown)
  if (refusal) {
    const message =
      refusal.kind === 'project-elsewhere'
        ? `The project '${project}' on ${shell.name} runs from ${refusal.detail}, not from ${stack.remoteDir}`
        : `${stack.remoteDir} on ${shell.name} holds the project '${refusal.detail}', not '${project}'`
    return done(
      'failed',
      new UserError(message, {
        fix: "Nothing was removed. Check 'remote-dir' and 'project-name': a removal takes down only the project that remote-dir holds."
      })
    )
  }
  if (result.code !== ExitCode.ok && result.code !== ExitCode.partlyRemoved)
    return done('failed', remoteError(shell.name, 'removal', result, limits, log))
  if (outcome === 'absent') {
    log.info(`Nothing to remove: ${shell.name} runs no project ${project} and ${stack.remoteDir} holds no record of it`)
    return done('unchanged')
  }
  for (const line of formatRemoval(shell.name, removal, options.dryRun)) log.info(line)
  if (options.dryRun) return done('dry-run')
  if (result.code === ExitCode.partlyRemoved) {
    if (result.stderr.trim() !== '') log.remote(result.stderr.trimEnd().split('\n'))
    return done(
      'failed',
      new UserError(
        `The removal of project ${project} on ${shell.name} could not remove: ${removal.failed.join(', ')}`,
        {
          fix: 'See the messages above, fix the cause on the host and rerun: the record is kept until everything is gone, so the rerun removes the rest.'
        }
      )
    )
  }
  return done('removed')
}
