import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parse } from 'yaml'

/** The gitops-lite checkout this module belongs to; bundles are read from its dist/. */
export const repoRoot = resolve(import.meta.dirname, '..', '..', '..')

export type ActionName = 'bump-image-tag' | 'dispatch-to-infra' | 'ssh-surgical-deploy'

export interface RunActionOptions {
  /** Inputs as written under `with:`; inputs left out get action.yml's default, as on the runner. */
  inputs?: Record<string, string>
  /** GITHUB_WORKSPACE and the working directory of the process; a fresh temp dir by default. */
  workspace?: string
  /** The triggering event: GITHUB_EVENT_NAME and the JSON written to GITHUB_EVENT_PATH. */
  event?: { name: string; payload: unknown }
  /** Extra environment (GITHUB_REPOSITORY, GITHUB_SHA, ...); merged over the defaults. */
  env?: Record<string, string>
  /** Value of `${{ github.token }}` in action.yml defaults. */
  githubToken?: string
  timeoutMs?: number
}

export interface Annotation {
  level: 'error' | 'warning' | 'notice'
  properties: Record<string, string>
  message: string
}

export interface ActionRun {
  exitCode: number | null
  outputs: Record<string, string>
  summary: string
  stdout: string
  stderr: string
  annotations: Annotation[]
  /** Inputs as the process received them, after defaults. */
  inputs: Record<string, string>
}

interface ActionMetadata {
  inputs?: Record<string, { default?: string; required?: boolean }>
  runs: { using: string; main: string }
}

export async function readActionMetadata(action: ActionName): Promise<ActionMetadata> {
  return parse(await readFile(join(repoRoot, 'actions', action, 'action.yml'), 'utf8')) as ActionMetadata
}

function resolveDefault(value: string, githubToken: string): string {
  return value.replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_, expression: string) => {
    if (expression === 'github.token') return githubToken
    throw new Error(`run-action: cannot evaluate the default expression '${expression}'`)
  })
}

/** Parses the runner's file-command format: `name=value` lines and `name<<DELIM` heredocs. */
export function parseFileCommands(text: string): Record<string, string> {
  const values: Record<string, string> = {}
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    if (line === '') continue
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line)
    if (heredoc) {
      const [, name, delimiter] = heredoc
      const body: string[] = []
      for (i++; i < lines.length && lines[i] !== delimiter; i++) body.push(lines[i])
      values[name] = body.join('\n')
    } else {
      const eq = line.indexOf('=')
      values[line.slice(0, eq)] = line.slice(eq + 1)
    }
  }
  return values
}

function parseAnnotations(stdout: string): Annotation[] {
  const annotations: Annotation[] = []
  for (const line of stdout.split('\n')) {
    const match = /^::(error|warning|notice)(?: ([^:]*))?::(.*)$/.exec(line)
    if (!match) continue
    const properties: Record<string, string> = {}
    for (const pair of (match[2] ?? '').split(',').filter(Boolean)) {
      const eq = pair.indexOf('=')
      properties[pair.slice(0, eq)] = decodeURIComponent(pair.slice(eq + 1).replace(/%2C/g, ','))
    }
    annotations.push({
      level: match[1] as Annotation['level'],
      properties,
      message: match[3].replace(/%0A/g, '\n').replace(/%0D/g, '\r').replace(/%25/g, '%')
    })
  }
  return annotations
}

/**
 * Runs the committed bundle dist/<action>/index.js the way the GitHub runner does:
 * INPUT_<NAME> variables (upper case, spaces to underscores, hyphens kept) with action.yml
 * defaults, and the GITHUB_OUTPUT / GITHUB_STEP_SUMMARY / GITHUB_EVENT_PATH files.
 */
export async function runAction(action: ActionName, options: RunActionOptions = {}): Promise<ActionRun> {
  const metadata = await readActionMetadata(action)
  const scratch = await mkdtemp(join(tmpdir(), `run-${action}-`))
  const ownWorkspace = options.workspace === undefined
  const workspace = options.workspace ?? (await mkdtemp(join(tmpdir(), 'workspace-')))
  try {
    return await runInScratch(action, metadata, options, scratch, workspace)
  } finally {
    // The runner files, RUNNER_TEMP and a workspace made here are read above and useless after.
    await rm(scratch, { recursive: true, force: true })
    if (ownWorkspace) await rm(workspace, { recursive: true, force: true })
  }
}

async function runInScratch(
  action: ActionName,
  metadata: ActionMetadata,
  options: RunActionOptions,
  scratch: string,
  workspace: string
): Promise<ActionRun> {
  const files = {
    output: join(scratch, 'output'),
    summary: join(scratch, 'summary'),
    event: join(scratch, 'event.json'),
    state: join(scratch, 'state'),
    env: join(scratch, 'env'),
    path: join(scratch, 'path')
  }
  await Promise.all([
    ...[files.output, files.summary, files.state, files.env, files.path].map((file) => writeFile(file, '')),
    writeFile(files.event, JSON.stringify(options.event?.payload ?? {}))
  ])

  const given = options.inputs ?? {}
  for (const name of Object.keys(given)) {
    if (!metadata.inputs || !(name in metadata.inputs)) throw new Error(`run-action: ${action} has no input '${name}'`)
  }
  const inputs: Record<string, string> = {}
  for (const [name, spec] of Object.entries(metadata.inputs ?? {})) {
    const value =
      given[name] ?? (spec.default === undefined ? '' : resolveDefault(String(spec.default), options.githubToken ?? ''))
    inputs[name] = value
  }

  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_ACTION: action,
    GITHUB_WORKSPACE: workspace,
    GITHUB_OUTPUT: files.output,
    GITHUB_STEP_SUMMARY: files.summary,
    GITHUB_EVENT_PATH: files.event,
    GITHUB_EVENT_NAME: options.event?.name ?? 'workflow_dispatch',
    GITHUB_STATE: files.state,
    GITHUB_ENV: files.env,
    GITHUB_PATH: files.path,
    GITHUB_REPOSITORY: 'acme/infra',
    GITHUB_REPOSITORY_OWNER: 'acme',
    GITHUB_SHA: '0000000000000000000000000000000000000000',
    GITHUB_REF: 'refs/heads/main',
    GITHUB_RUN_ID: '1',
    GITHUB_RUN_NUMBER: '1',
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_ACTOR: 'octocat',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_API_URL: 'https://api.github.com',
    RUNNER_TEMP: scratch,
    RUNNER_OS: 'Linux',
    ...options.env
  }
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value

  const main = join(repoRoot, 'actions', action, metadata.runs.main)
  const child = spawn(process.execPath, [main], { cwd: workspace, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const timeoutMs = options.timeoutMs ?? 120_000
  const exitCode = await new Promise<number | null>((resolveExit, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`run-action: ${action} did not finish within ${timeoutMs} ms\n${stdout}\n${stderr}`))
    }, timeoutMs)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolveExit(code)
    })
  })
  return {
    exitCode,
    outputs: parseFileCommands(await readFile(files.output, 'utf8')),
    summary: await readFile(files.summary, 'utf8'),
    stdout,
    stderr,
    annotations: parseAnnotations(stdout),
    inputs
  }
}
