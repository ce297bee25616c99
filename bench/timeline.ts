// Where a deploy action run spends its time, without touching the action: a --require preload
// timestamps every line the bundle writes to stdout (its log), and a 20 ms poll timestamps the
// lines of the apply log the host writes under <remote-dir>/.gitops-lite/runs/<run>/log.
// Everything runs on one machine, so both sides read the same clock.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const preloadSource = `'use strict'
const { appendFileSync } = require('node:fs')
const file = process.env.BENCH_STDOUT_TIMES
const now = () => performance.timeOrigin + performance.now()
appendFileSync(file, performance.timeOrigin + ' @process-start\\n')
const write = process.stdout.write.bind(process.stdout)
let pending = ''
process.stdout.write = (chunk, ...rest) => {
  pending += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString()
  const lines = pending.split('\\n')
  pending = lines.pop()
  if (lines.length > 0) appendFileSync(file, lines.map((line) => now() + ' ' + line + '\\n').join(''))
  return write(chunk, ...rest)
}
process.on('exit', () => appendFileSync(file, now() + ' @exit\\n'))
`

export interface TimedLine {
  /** Wall-clock milliseconds (Date.now() scale). */
  t: number
  line: string
}

/** Timestamps one action process's stdout lines: pass env() to runAction, then read(). */
export class StdoutClock {
  private readonly preload: string
  private readonly file: string

  constructor(dir: string, name: string) {
    this.preload = join(dir, `${name}-preload.cjs`)
    this.file = join(dir, `${name}-stdout-times.txt`)
    writeFileSync(this.preload, preloadSource)
  }

  /** Environment for the action's process (runAction's `env`); starts a fresh record. */
  env(): Record<string, string> {
    writeFileSync(this.file, '')
    return { NODE_OPTIONS: `--require ${this.preload}`, BENCH_STDOUT_TIMES: this.file }
  }

  read(): TimedLine[] {
    return readFileSync(this.file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((text) => {
        const space = text.indexOf(' ')
        return { t: Number(text.slice(0, space)), line: text.slice(space + 1) }
      })
  }
}

/** Polls the host's run directories for the apply of a new run and timestamps its log lines. */
export class ApplyLogWatcher {
  private readonly runsDir: string
  private readonly known: Set<string>
  private readonly lines: TimedLine[] = []
  private runDir?: string
  private seen = 0
  private timer?: NodeJS.Timeout
  /** mtime of apply.sh: the moment the upload of the apply script finished. */
  scriptWritten?: number

  constructor(remoteDir: string, intervalMs = 20) {
    this.runsDir = join(remoteDir, '.gitops-lite', 'runs')
    this.known = new Set(existsSync(this.runsDir) ? readdirSync(this.runsDir) : [])
    this.timer = setInterval(() => this.poll(), intervalMs)
  }

  private poll(): void {
    const now = Date.now()
    if (!this.runDir) {
      if (!existsSync(this.runsDir)) return
      const fresh = readdirSync(this.runsDir).find((name) => !this.known.has(name))
      if (!fresh) return
      this.runDir = join(this.runsDir, fresh)
    }
    const script = join(this.runDir, 'apply.sh')
    if (this.scriptWritten === undefined && existsSync(script)) this.scriptWritten = statSync(script).mtimeMs
    const log = join(this.runDir, 'log')
    if (!existsSync(log)) return
    const complete = readFileSync(log, 'utf8').split('\n').slice(0, -1)
    for (const line of complete.slice(this.seen)) this.lines.push({ t: now, line })
    this.seen = complete.length
  }

  stop(): TimedLine[] {
    this.poll()
    clearInterval(this.timer)
    this.timer = undefined
    return this.lines
  }
}

/** Phases of one ssh-surgical-deploy run, in the order they happen. */
export const phaseNames = [
  'process start + bundle load + inputs',
  'SSH connect (host key verified, authenticated)',
  'inspect + plan (1st round trip: the files uploaded to a temp dir with the script, compose config, containers)',
  'send the apply script (2nd command on the same SSH connection)',
  'tool check + lock (the engine and compose are not asked again)',
  'stage files',
  'pull',
  'swap files',
  'up (recreate)',
  'health wait',
  'record + audit log',
  'stream back + close (host log polled every 0.1 s)'
] as const

export type PhaseName = (typeof phaseNames)[number]

/** The milliseconds of each phase, from the moments the runs' logs show. Undefined when a mark is missing. */
export function phasesOf(
  spawnedAt: number,
  stdout: TimedLine[],
  apply: TimedLine[],
  scriptWritten: number | undefined
): Record<PhaseName, number> | undefined {
  const out = (pattern: RegExp) => stdout.find((l) => pattern.test(l.line))?.t
  const event = (name: string) => apply.find((l) => new RegExp(`^@@gitops-lite-[0-9a-f]+ ${name}\\b`).test(l.line))?.t
  const marks = [
    spawnedAt,
    out(/^Connecting to /),
    out(/^Connected to /),
    out(/^Plan for /),
    scriptWritten,
    event('phase locked'),
    event('phase pull'),
    event('phase swap'),
    event('phase up'),
    event('phase health'),
    event('phase healthy'),
    event('result'),
    out(/^@exit$/)
  ]
  if (marks.some((m) => m === undefined)) return undefined
  const times = marks as number[]
  return Object.fromEntries(phaseNames.map((name, i) => [name, Math.max(0, times[i + 1] - times[i])])) as Record<
    PhaseName,
    number
  >
}

/**
 * The moments the engine reported a container of `project` healthy (docker events, engine clock =
 * this machine's): how long after the last of them the host's health wait said "healthy" is how
 * fast the wait reacts.
 */
export class HealthEventWatcher {
  private readonly events: ChildProcess
  private output = ''

  constructor(project: string) {
    const format = '{{.TimeNano}} {{.Status}}'
    this.events = spawn('docker', [
      'events',
      '--filter',
      `label=com.docker.compose.project=${project}`,
      '--filter',
      'event=health_status',
      '--format',
      format
    ])
    this.events.stdout?.on('data', (chunk: Buffer) => (this.output += chunk.toString()))
  }

  /** Date.now()-scale times of the "healthy" events seen so far; stops watching. */
  stop(): number[] {
    this.events.kill()
    return this.output
      .split('\n')
      .filter((line) => / health_status: healthy$/.test(line))
      .map((line) => Number(BigInt(line.split(' ')[0]) / 1_000_000n))
  }
}
