import * as core from '@actions/core'
import { UserError } from './errors'
import { hasControlCharacter, maskSecret } from './log'

/** Reads one raw input by its action.yml name; the runner passes it as INPUT_<NAME>. */
export type InputSource = (name: string) => string

export const actionInputs: InputSource = (name) => core.getInput(name)

function invalid(name: string, value: string, expected: string): UserError {
  return new UserError(`Input '${name}' must be ${expected}, got ${JSON.stringify(value)}`, {
    fix: `Set '${name}' in the step's 'with:' block to ${expected}.`
  })
}

function empty(name: string, fix = `Set '${name}' in the step's 'with:' block.`): UserError {
  return new UserError(`Input '${name}' is required but was empty`, { fix })
}

/**
 * Typed, validated access to an action's inputs. Every parse error quotes the input's
 * name, the value given and the form expected.
 */
export class Inputs {
  /** `mask` registers a secret with the runner, which then masks it in the log. */
  constructor(
    private readonly source: InputSource = actionInputs,
    private readonly mask: (secret: string) => void = maskSecret
  ) {}

  string(name: string): string {
    return this.source(name).trim()
  }

  /** Like `string`, but refuses an empty value; `fix` says what to set (by default: set it in 'with:'). */
  required(name: string, fix?: string): string {
    const value = this.string(name)
    if (value === '') throw empty(name, fix)
    return value
  }

  /** Like `secret`, but refuses an empty value as `required` does. */
  requiredSecret(name: string, fix?: string): string {
    const value = this.secret(name)
    if (value === '') throw empty(name, fix)
    return value
  }

  /** Like `string`, but the value is a secret: registered with the runner so logs mask it. */
  secret(name: string): string {
    const value = this.source(name)
    if (value.trim() !== '') {
      this.mask(value)
      for (const line of value.split(/\r?\n/)) if (line.trim().length >= 4) this.mask(line.trim())
    }
    return value.trim() === '' ? '' : value
  }

  boolean(name: string, fallback = false): boolean {
    const value = this.string(name)
    if (value === '') return fallback
    if (/^(true|True|TRUE)$/.test(value)) return true
    if (/^(false|False|FALSE)$/.test(value)) return false
    throw invalid(name, value, "'true' or 'false'")
  }

  integer(name: string, range: { min: number; max: number; fallback: number }): number {
    const value = this.string(name)
    if (value === '') return range.fallback
    const parsed = /^\d+$/.test(value) ? Number(value) : NaN
    if (!Number.isSafeInteger(parsed) || parsed < range.min || parsed > range.max) {
      throw invalid(name, value, `a whole number from ${range.min} to ${range.max}`)
    }
    return parsed
  }

  /** A list given one item per line or comma-separated; blank items are dropped. */
  list(name: string): string[] {
    return parseList(this.source(name))
  }

  /** Lines of a multi-line input, trimmed; blank lines and `#` comments are dropped. */
  lines(name: string): string[] {
    return this.source(name)
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'))
  }

  /** Like `lines`, but refuses an input with no line left, as `required` does. */
  requiredLines(name: string, fix?: string): string[] {
    const lines = this.lines(name)
    if (lines.length === 0) throw empty(name, fix)
    return lines
  }

  /**
   * A duration such as `90`, `90s`, `15m` or `1h`, in milliseconds (a bare number is seconds),
   * within `range` (in ms): a zero or tiny limit would fail every run, a huge one never fire.
   */
  duration(name: string, fallback: string, range: { min: number; max: number }): number {
    const value = this.string(name) || fallback
    const ms = parseDuration(value)
    if (ms === undefined)
      throw invalid(name, value, "a duration such as '90s', '15m' or '1h' (a bare number is seconds)")
    if (ms < range.min || ms > range.max) {
      throw new UserError(
        `Input '${name}' must be from ${formatDuration(range.min)} to ${formatDuration(range.max)}, got ${JSON.stringify(value)}, which is ${formatDuration(ms)}`,
        {
          fix: `Use e.g. '${fallback}'; a bare number is seconds.`
        }
      )
    }
    return ms
  }

  /**
   * A token for an HTTP header: a secret, and refused when it holds white space or a control
   * character (a line break pasted with it), which no token has and no header can carry.
   */
  token(name: string): string {
    const value = this.secret(name).trim()
    if (/\s/.test(value) || hasControlCharacter(value)) {
      throw new UserError(
        `Input '${name}' contains a line break, a space or a control character, which no token has (the value is not shown)`,
        {
          fix: `Check the secret behind '${name}': it must hold the token alone, on one line, without quotes or a trailing newline.`
        }
      )
    }
    return value
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.string(name)
    if (value === '') return fallback
    if ((allowed as readonly string[]).includes(value)) return value as T
    throw invalid(name, value, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`)
  }
}

export function parseList(raw: string): string[] {
  return raw
    .split(/[\n,]/)
    .map((item) => item.trim())
    .filter((item) => item !== '')
}

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(text.trim())
  if (!match) return undefined
  const ms = Number(match[1]) * durationUnits[match[2] ?? 's']
  return Number.isFinite(ms) ? Math.round(ms) : undefined
}

/**
 * Milliseconds with units, for messages and logs (a bare number would read as seconds or as
 * nothing): '850ms', '1.5s', '1m 30s', '1h 30m'; a tenth of a second below a minute, whole seconds above.
 */
export function formatDuration(ms: number): string {
  if (ms > 0 && ms < 1000) return `${Math.round(ms)}ms`
  const rounded = ms < 60_000 ? Math.round(ms / 100) * 100 : Math.round(ms / 1000) * 1000
  const hours = Math.floor(rounded / 3_600_000)
  const minutes = Math.floor((rounded % 3_600_000) / 60_000)
  const seconds = (rounded % 60_000) / 1000
  const parts = [hours && `${hours}h`, minutes && `${minutes}m`, seconds && `${seconds}s`].filter(Boolean)
  return parts.length > 0 ? parts.join(' ') : '0s'
}
