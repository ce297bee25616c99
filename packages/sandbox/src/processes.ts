import { spawn } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { exec } from './exec'

/** Docker label on every container, image and volume the sandbox creates for a ProcessGroup. */
export const SANDBOX_LABEL = 'io.gitops-lite.sandbox'

export interface StartProcessOptions {
  cwd?: string
  /** Merged over process.env. */
  env?: Record<string, string | undefined>
  /** stdout and stderr are appended here; discarded when left out. */
  logFile?: string
}

/** A long-running child (sshd, registry) that is stopped by its PID, never by name. */
export interface ManagedProcess {
  readonly name: string
  readonly pid: number
  /** Resolves with the exit code (null after a signal) once the process has ended. */
  readonly exited: Promise<number | null>
  isRunning(): boolean
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>
}

/** process.kill that tolerates a process which has just exited on its own. */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error
  }
}

export function startProcess(
  name: string,
  command: string,
  args: readonly string[],
  options: StartProcessOptions = {}
): ManagedProcess {
  // The child writes straight to the log file: no pipes that keep the parent's event loop busy.
  const logFd = options.logFile === undefined ? undefined : openSync(options.logFile, 'a')
  const output = logFd ?? 'ignore'
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', output, output]
  })
  if (logFd !== undefined) closeSync(logFd)

  let running = true
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('exit', (code) => {
      running = false
      resolve(code)
    })
    child.once('error', (error) => {
      running = false
      reject(
        new Error(`Could not start ${name} ('${command}'): ${error.message}; run scripts/install-prereqs.sh as root`)
      )
    })
  })
  // Callers that never await `exited` must not see an unhandled rejection.
  exited.catch(() => {})
  if (child.pid === undefined) {
    return { name, pid: -1, exited, isRunning: () => false, stop: async () => {} }
  }
  const pid = child.pid

  return {
    name,
    pid,
    exited,
    isRunning: () => running,
    async stop(graceMs = 5000) {
      if (!running) return
      signal(pid, 'SIGTERM')
      const escalation = setTimeout(() => running && signal(pid, 'SIGKILL'), graceMs)
      await exited.catch(() => {})
      clearTimeout(escalation)
    }
  }
}

/** `docker compose -p NAME down -v --remove-orphans` without a grace period; works without the compose file. */
export async function removeComposeProject(projectName: string): Promise<void> {
  // cwd '/' so a compose file in the current directory is never picked up by mistake.
  await exec('docker', ['compose', '-p', projectName, 'down', '-v', '--remove-orphans', '--timeout', '0'], { cwd: '/' })
}

/** Removes containers, volumes, networks and images carrying the label `key=value`. */
export async function removeLabelledDockerObjects(key: string, value: string): Promise<void> {
  const filter = `label=${key}=${value}`
  const ids = async (args: string[]) => [...new Set((await exec('docker', args)).stdout.split('\n').filter(Boolean))]

  const containers = await ids(['ps', '-aq', '--filter', filter])
  if (containers.length) await exec('docker', ['rm', '-f', '-v', ...containers])
  const volumes = await ids(['volume', 'ls', '-q', '--filter', filter])
  if (volumes.length) await exec('docker', ['volume', 'rm', '-f', ...volumes])
  const networks = await ids(['network', 'ls', '-q', '--filter', filter])
  if (networks.length) await exec('docker', ['network', 'rm', ...networks])
  const images = await ids(['images', '-q', '--filter', filter])
  if (images.length) await exec('docker', ['image', 'rm', '-f', ...images])
}

type CleanupStep = { description: string; run: () => Promise<void> }

/**
 * Everything one test file (or one sandbox run) started, so `cleanup()` in afterAll can
 * undo it: processes by PID, compose projects, and Docker objects labelled with `labelValue`.
 * Each group has its own label value, so parallel test files never remove each other's things.
 */
export class ProcessGroup {
  /** Value of SANDBOX_LABEL on Docker objects that belong to this group. */
  readonly labelValue: string
  private steps: CleanupStep[] = []

  constructor(name = 'test') {
    this.labelValue = `${name}-${process.pid}-${Date.now().toString(36)}`
  }

  /** `--label` argument for `docker run` / `docker build`: `io.gitops-lite.sandbox=<labelValue>`. */
  get label(): string {
    return `${SANDBOX_LABEL}=${this.labelValue}`
  }

  /** Starts a child process that cleanup() stops by its PID. */
  start(name: string, command: string, args: readonly string[], options: StartProcessOptions = {}): ManagedProcess {
    const managed = startProcess(name, command, args, options)
    this.defer(`stop ${name} (pid ${managed.pid})`, () => managed.stop())
    return managed
  }

  /** A compose project to take down (with its volumes) on cleanup. */
  trackComposeProject(projectName: string): void {
    this.defer(`remove compose project ${projectName}`, () => removeComposeProject(projectName))
  }

  /** An image (by reference or ID) to remove on cleanup, e.g. one pulled under a registry name. */
  trackImage(reference: string): void {
    this.defer(`remove image ${reference}`, async () => {
      await exec('docker', ['image', 'rm', '-f', reference], { allowFailure: true })
    })
  }

  /** Any other undo step; steps run last-in, first-out. */
  defer(description: string, run: () => Promise<void> | void): void {
    this.steps.push({ description, run: async () => run() })
  }

  /**
   * Runs every step (newest first), then removes Docker objects labelled for this group.
   * Tries every step even when some fail, then throws one error listing the failures.
   */
  async cleanup(): Promise<void> {
    const failures: string[] = []
    const steps = this.steps.reverse()
    this.steps = []
    for (const step of steps) {
      try {
        await step.run()
      } catch (error) {
        failures.push(`${step.description}: ${(error as Error).message}`)
      }
    }
    try {
      await removeLabelledDockerObjects(SANDBOX_LABEL, this.labelValue)
    } catch (error) {
      failures.push(`remove Docker objects labelled ${this.label}: ${(error as Error).message}`)
    }
    if (failures.length) throw new Error(`Sandbox cleanup left things behind:\n- ${failures.join('\n- ')}`)
  }
}
