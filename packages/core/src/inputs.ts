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

/**
 * Typed, validated access to an action's inputs. Every parse error quotes the input's
 * name, the value given and the form expected.
 */
export class Inputs {
  constructor(private readonly source: InputSource = actionInputs) {}

  string(name: string): string {
    return this.source(name).trim()
  }

  required(name: string): string {
    const value = this.string(name)
    if (value === '') {
      throw new UserError(`Input '${name}' is required but was empty`, {
        fix: `Set '${name}' in the step's 'with:' block.`
      })
    }
    return value
  }

  /** Like `string`, but the value is a secret: registered with the runner so logs mask it. */
  secret(name: string): string {
    const value = this.source(name)
    maskSecret(value)
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

  /**
   * A duration such as `90`, `90s`, `15m` or `1h`, in milliseconds (a bare number is seconds),
   * within `range` (in ms): a zero or tiny limit would fail every run, a huge one never fire.
   */
  duration(name: string, fallback: string, range: { min: number; max: number }): number {
    const value = this.string(name) || fallback
    const ms = parseDuration(value)
    if (ms === undefined) throw invalid(name, value, "a duration such as '90s', '15m' or '1h' (a bare number is seconds)")
    if (ms < range.min || ms > range.max) {
      throw new UserError(`Input '${name}' must be from ${formatDuration(range.min)} to ${formatDuration(range.max)}, got ${JSON.stringify(value)}, which is ${formatDuration(ms)}`, {
        fix: `Use e.g. '${fallback}'; a bare number is seconds.`
      })
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
      throw new UserError(`Input '${name}' contains a line break, a space or a control character, which no token has (the value is not shown)`, {
        fix: `Check the secret behind '${name}': it must hold the token alone, on one line, without quotes or a trailing newline.`
      })
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

/** Milliseconds with units, for messages (a bare number would read as seconds or as nothing): '15m', '1h 30m', '1.5s'. */
export function formatDuration(ms: number): string {
  const hours = Math.floor(ms / 3_600_000)
  const minutes = Math.floor((ms % 3_600_000) / 60_000)
  const seconds = (ms % 60_000) / 1000
  const parts = [hours && `${hours}h`, minutes && `${minutes}m`, seconds && `${seconds}s`].filter(Boolean)
  return parts.length > 0 ? parts.join(' ') : '0s'
}
