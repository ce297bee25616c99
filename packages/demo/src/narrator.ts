import { formatDuration } from '@gitops-lite/core'

/** Where the narrative goes: a line at a time (console.log in the CLI, an array in tests). */
export type LineSink = (line: string) => void

export interface StepRecord {
  number: number
  title: string
  ok: boolean
  durationMs: number
  detail?: string
}

export interface Step {
  readonly number: number
  /** An indented line under the step, e.g. an output value or an excerpt of a log. */
  note(line: string): void
  /** Ends the step: a ✓ line with its duration and `detail`. */
  done(detail?: string): StepRecord
  /** Ends the step as failed (expected failures too, e.g. the rollback release): a ✗ line. */
  fail(detail?: string): StepRecord
}

/**
 * The sandbox's story on stdout: numbered steps, each opened by a line and closed by a ✓/✗
 * line with its duration. Steps can overlap (the dispatch waits while the infra workflow
 * runs): a closing line names its step number when other output came in between.
 */
export class Narrator {
  readonly steps: StepRecord[] = []
  private counter = 0
  private lastOpened = 0
  private readonly startedAt = Date.now()
  private muted = false

  constructor(private readonly output: LineSink = (line) => console.log(line)) {}

  private sink(line: string): void {
    if (!this.muted) this.output(line)
  }

  /** Stops the story (after Ctrl-C: what still finishes in the background is not news). */
  mute(): void {
    this.muted = true
  }

  /** Milliseconds since the narrator was made. */
  elapsedMs(): number {
    return Date.now() - this.startedAt
  }

  heading(text: string): void {
    this.sink('')
    this.sink(`== ${text}`)
  }

  line(text = ''): void {
    this.sink(text)
  }

  step(title: string): Step {
    const number = ++this.counter
    const startedAt = Date.now()
    const clock = formatDuration(this.elapsedMs()).padStart(7)
    this.sink(`${clock}  ${String(number).padStart(2)}. ${title}`)
    this.lastOpened = number
    let ended = false
    const end = (ok: boolean, detail?: string): StepRecord => {
      const record: StepRecord = { number, title, ok, durationMs: Date.now() - startedAt, detail }
      if (ended) return record
      ended = true
      this.steps.push(record)
      const which = this.lastOpened === number ? '' : `${number}. `
      this.sink(
        `${' '.repeat(13)}${ok ? '✓' : '✗'} ${which}${formatDuration(record.durationMs)}${detail ? `  ${detail}` : ''}`
      )
      this.lastOpened = 0
      return record
    }
    return {
      number,
      note: (line) => {
        for (const part of line.split('\n')) this.sink(`${' '.repeat(15)}${part}`)
      },
      done: (detail) => end(true, detail),
      fail: (detail) => end(false, detail)
    }
  }

  /** Runs `work` as a step: done with the detail it returns, failed (and rethrown) when it throws. */
  async run<T>(title: string, work: (step: Step) => Promise<T>, detail?: (value: T) => string | undefined): Promise<T> {
    const step = this.step(title)
    try {
      const value = await work(step)
      step.done(detail?.(value))
      return value
    } catch (error) {
      step.fail(firstLine((error as Error).message))
      throw error
    }
  }
}

export function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .find((line) => line.trim() !== '')
      ?.trim() ?? ''
  )
}

/** A plain text table: columns padded to their widest cell. */
export function renderTable(header: string[], rows: string[][]): string[] {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)))
  const render = (cells: string[]) =>
    cells
      .map((cell, i) => (cell ?? '').padEnd(widths[i]))
      .join('  ')
      .trimEnd()
  return [render(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(render)]
}
