import { randomBytes } from 'node:crypto'
import * as core from '@actions/core'

// The one way text reaches the job log. The runner acts on any line that starts (after
// whitespace) with `::`, or holds `##[`, as a workflow command; text from outside (the VM,
// compose files, API replies, inputs) must never be able to write such a line. The lint rule
// in eslint.config.js keeps every other module from printing by itself.

const secrets = new Set<string>()

/**
 * Registers a value the log must never show: the runner masks it in everything it prints, and
 * `printable` masks it too (in messages built before the runner sees them, and in tests).
 * Inputs.secret registers each line of a multi-line value as well.
 */
export function maskSecret(value: string): void {
  if (value.trim() === '') return
  core.setSecret(value)
  secrets.add(value)
}

/** `text` with every registered secret replaced by `***`, the longest first. */
function masked(text: string): string {
  let result = text
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) result = result.split(secret).join('***')
  return result
}

const zeroWidthSpace = '\u200b'

// Matching control characters is the point here.
// eslint-disable-next-line no-control-regex
const controlCharacters = /[\0-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]/g

/** Whether `text` holds a line break or another control character (a tab is not one). */
export function hasControlCharacter(text: string): boolean {
  return text.search(controlCharacters) >= 0
}

/**
 * One log line that cannot act as a workflow command: secrets masked, line breaks and other
 * control characters written as escapes (`\n`, `\u001b`), a leading `::` and any `##[` broken
 * by a zero-width space, which the runner does not trim.
 */
export function printable(text: string): string {
  const escaped = masked(text).replace(controlCharacters, (char) => {
    if (char === '\n') return '\\n'
    if (char === '\r') return '\\r'
    return `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`
  })
  const unfenced = escaped.replace(/##\[/g, `#${zeroWidthSpace}#[`)
  return /^\s*::/.test(unfenced) ? `${zeroWidthSpace}${unfenced}` : unfenced
}

/** Escapes text for HTML in the job summary (element content and quoted attributes). */
export function escapeHtml(text: string): string {
  return masked(text).replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`)
}

export interface AnnotationPlace {
  title?: string
  file?: string
  startLine?: number
  startColumn?: number
}

function printableProperties(properties: AnnotationPlace | undefined): AnnotationPlace | undefined {
  if (!properties) return undefined
  return {
    ...properties,
    ...(properties.title !== undefined && { title: printable(properties.title) }),
    ...(properties.file !== undefined && { file: printable(properties.file) })
  }
}

export const log = {
  info(text: string): void {
    core.info(printable(text))
  },
  warning(text: string, properties?: AnnotationPlace): void {
    core.warning(printable(text), printableProperties(properties))
  },
  error(text: string, properties?: AnnotationPlace): void {
    core.error(printable(text), printableProperties(properties))
  },
  /** For stack traces: line breaks are kept (the runner's ::debug:: escaping carries them). */
  debug(text: string): void {
    core.debug(masked(text))
  },
  /**
   * Lines shown as they are (a compose diff, a container's log), each after `prefix`, inside a
   * ::stop-commands:: fence whose token nobody can guess, so no line can act as a command.
   */
  fenced(lines: readonly string[], prefix = ''): void {
    if (lines.length === 0) return
    const token = randomBytes(16).toString('hex')
    const body = lines.map((line) => `${prefix}${masked(line)}\n`).join('')
    process.stdout.write(`::stop-commands::${token}\n${body}::${token}::\n`)
  }
}
