import { existsSync, readFileSync } from 'node:fs'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { SANDBOX_LABEL, leaveSwarm, removeLabelledDockerObjects, repoRoot } from '@gitops-lite/sandbox'
import { stackTarget, type Orchestrator } from './target'

/** Where `scripts/sandbox.sh` keeps everything it makes (gitignored). */
export const DEFAULT_SANDBOX_DIR = join(repoRoot, '.sandbox')
/** The compose project (or Swarm stack) the deploy action creates on the sandbox VM. */
export const DEFAULT_PROJECT_NAME = 'gitops-lite-sandbox'

const STATE_FILE = 'state.json'
/** Only a directory holding this file is ever deleted by a teardown. */
const MARKER_FILE = '.gitops-lite-sandbox'

/** A process the sandbox started, and a string its command line must contain (so a reused PID is never killed). */
export interface TrackedProcess {
  name: string
  pid: number
  match: string
}

/** What a later `--down` needs to undo a sandbox, written as things are started. */
export interface SandboxState {
  version: 1
  dir: string
  startedAt: string
  /** The orchestrator process (the CLI or a test). */
  ownerPid: number
  /** Value of SANDBOX_LABEL on the images the sandbox built. */
  label: string
  projectName: string
  /** What runs the stack; compose when absent (states written before --swarm). */
  orchestrator?: Orchestrator
  /** Set when the sandbox made this engine a swarm: then, and only then, the teardown leaves it. */
  initialisedSwarm?: boolean
  processes: TrackedProcess[]
  registry?: string
  vm?: { host: string; port: number; username: string; remoteDir: string }
  urls?: Record<string, string>
  kept?: boolean
}

export async function readState(dir: string): Promise<SandboxState | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, STATE_FILE), 'utf8')) as SandboxState
  } catch {
    return undefined
  }
}

export async function writeState(state: SandboxState): Promise<void> {
  await writeFile(
    join(state.dir, MARKER_FILE),
    'Made by gitops-lite scripts/sandbox.sh; `bash scripts/sandbox.sh --down` removes it.\n'
  )
  await writeFile(join(state.dir, STATE_FILE), JSON.stringify(state, null, 2) + '\n')
}

async function commandLine(pid: number): Promise<string | undefined> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replace(/\0/g, ' ')
  } catch {
    return undefined
  }
}

/** Whether `pid` runs (a zombie waiting for its parent to reap it counts as gone). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}

/** SIGTERM, then SIGKILL after `graceMs`, to a PID whose command line still contains `match`. */
export async function stopTracked(tracked: TrackedProcess, graceMs = 5000): Promise<boolean> {
  const cmdline = await commandLine(tracked.pid)
  if (cmdline === undefined || !cmdline.includes(tracked.match)) return false
  process.kill(tracked.pid, 'SIGTERM')
  const deadline = Date.now() + graceMs
  while (alive(tracked.pid) && Date.now() < deadline) await sleep(100)
  if (alive(tracked.pid)) process.kill(tracked.pid, 'SIGKILL')
  return true
}

/** Whether another process still runs the sandbox in `dir` (a second CLI, a test). */
export async function activeOwner(state: SandboxState | undefined): Promise<number | undefined> {
  if (!state || state.ownerPid === process.pid || !alive(state.ownerPid)) return undefined
  const cmdline = await commandLine(state.ownerPid)
  return cmdline && /node|tsx|jest/.test(cmdline) ? state.ownerPid : undefined
}

/**
 * Undoes a sandbox from its state file, whichever process made it: stops its processes by PID,
 * removes the stack on the VM (and the swarm, when the sandbox made it) and the images it built,
 * deletes the directory.
 * Returns a line per thing done. Safe to call when there is nothing to undo.
 */
export async function teardownSandbox(
  dir: string = DEFAULT_SANDBOX_DIR,
  options: { projectName?: string } = {}
): Promise<string[]> {
  const done: string[] = []
  const absolute = resolve(dir)
  const state = await readState(absolute)
  const owner = await activeOwner(state)
  if (owner !== undefined) {
    throw new Error(
      `A sandbox run (pid ${owner}) is still using ${absolute}; stop it first (Ctrl-C), then run --down again.`
    )
  }
  const failures: string[] = []
  const attempt = async (what: string, work: () => Promise<unknown>) => {
    try {
      const result = await work()
      if (result !== false) done.push(what)
    } catch (error) {
      failures.push(`${what}: ${(error as Error).message}`)
    }
  }
  for (const tracked of [...(state?.processes ?? [])].reverse()) {
    await attempt(`stopped ${tracked.name} (pid ${tracked.pid})`, () => stopTracked(tracked))
  }
  const projectName = state?.projectName ?? options.projectName ?? DEFAULT_PROJECT_NAME
  const target = stackTarget(state?.orchestrator)
  await attempt(`removed the ${target.stackName(`'${projectName}'`)} (${target.removes})`, () =>
    target.remove(projectName)
  )
  if (state?.initialisedSwarm) {
    await attempt('left the swarm the sandbox had made (docker swarm leave --force)', () => leaveSwarm())
  }
  if (state?.label) {
    await attempt(`removed the demo images labelled ${SANDBOX_LABEL}=${state.label}`, () =>
      removeLabelledDockerObjects(SANDBOX_LABEL, state.label)
    )
  }
  if (existsSync(join(absolute, MARKER_FILE))) {
    await attempt(`deleted ${absolute}`, () => rm(absolute, { recursive: true, force: true }))
  } else if (existsSync(absolute) && state === undefined) {
    failures.push(`${absolute} exists but was not made by the sandbox (no ${MARKER_FILE}); left alone`)
  }
  if (failures.length) throw new Error(`The teardown left things behind:\n- ${failures.join('\n- ')}`)
  return done
}
