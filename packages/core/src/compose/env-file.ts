import { isDeepStrictEqual } from 'node:util'
import { UserError } from '../errors'

/**
 * The compose `.env` file: `NAME=value` lines, optionally `export NAME=value`, values bare
 * (a ` #` starts a comment), 'single-quoted' or "double-quoted". Only what is needed to
 * read a variable and rewrite its value in place, byte for byte.
 */
export interface EnvAssignment {
  name: string
  value: string
  /** 1-based line of the assignment. */
  line: number
  /** Offsets of the value's text in the file, inside the quotes when quoted. */
  valueStart: number
  valueEnd: number
  quote: '' | "'" | '"'
  /** The value spans lines or uses escapes, so it cannot be rewritten in place. */
  complex: boolean
}

const assignmentPattern = /^([ \t]*(?:export[ \t]+)?)([A-Za-z_][A-Za-z0-9_.-]*)([ \t]*=[ \t]*)/

export function parseEnvFile(text: string): EnvAssignment[] {
  const assignments: EnvAssignment[] = []
  let offset = 0
  let lineNumber = 1
  while (offset < text.length) {
    const lineEnd = endOfLine(text, offset)
    const line = text.slice(offset, lineEnd).replace(/\r$/, '')
    const match = assignmentPattern.exec(line)
    let next = lineEnd + 1
    if (match) {
      const start = offset + match[0].length
      const first = text[start]
      if (first === "'" || first === '"') {
        const close = closingQuote(text, start + 1, first)
        const end = close ?? text.length
        const raw = text.slice(start + 1, end)
        const multiLine = raw.includes('\n')
        assignments.push({
          name: match[2],
          value: raw,
          line: lineNumber,
          valueStart: start + 1,
          valueEnd: end,
          quote: first,
          complex: close === undefined || multiLine || (first === '"' && raw.includes('\\'))
        })
        if (multiLine) {
          lineNumber += raw.split('\n').length - 1
          next = endOfLine(text, end) + 1
        }
      } else {
        const rest = line.slice(match[0].length)
        const comment = /(^|[ \t])#/.exec(rest)
        const value = (comment ? rest.slice(0, comment.index) : rest).replace(/[ \t]+$/, '')
        assignments.push({
          name: match[2],
          value,
          line: lineNumber,
          valueStart: start,
          valueEnd: start + value.length,
          quote: '',
          complex: false
        })
      }
    }
    offset = next
    lineNumber++
  }
  return assignments
}

function endOfLine(text: string, from: number): number {
  const newline = text.indexOf('\n', from)
  return newline < 0 ? text.length : newline
}

function closingQuote(text: string, from: number, quote: string): number | undefined {
  for (let i = from; i < text.length; i++) {
    if (quote === '"' && text[i] === '\\') i++
    else if (text[i] === quote) return i
  }
  return undefined
}

/** The variables an env file defines, the last assignment of a name winning as in compose. */
export function envValues(text: string): Map<string, string> {
  return new Map(parseEnvFile(text).map((a) => [a.name, a.value]))
}

/** The one assignment of `name`; refuses when it is defined twice or cannot be edited in place. */
export function findEnvAssignment(text: string, file: string, name: string): EnvAssignment | undefined {
  const found = parseEnvFile(text).filter((a) => a.name === name)
  if (found.length > 1) {
    throw new UserError(
      `${name} is defined ${found.length} times in ${file} (lines ${found.map((a) => a.line).join(', ')})`,
      {
        fix: `Keep one '${name}=' line in ${file}.`,
        location: { file, line: found[found.length - 1].line }
      }
    )
  }
  const assignment = found[0]
  if (assignment && (assignment.complex || assignment.value.includes('$'))) {
    throw new UserError(`The value of ${name} in ${file} spans lines, uses escapes or refers to other variables`, {
      fix: `Write ${name} as a plain value on one line, e.g. ${name}=v1.2.3.`,
      location: { file, line: assignment.line }
    })
  }
  return assignment
}

/**
 * Rewrites the value of `name` in place, keeping its quotes, comment and every other byte,
 * and checks that no other variable changed.
 */
export function setEnvValue(text: string, file: string, name: string, value: string): string {
  const assignment = findEnvAssignment(text, file, name)
  if (!assignment) throw new Error(`setEnvValue: ${name} is not defined in ${file}`)
  const updated = text.slice(0, assignment.valueStart) + value + text.slice(assignment.valueEnd)
  const expected = envValues(text).set(name, value)
  if (!isDeepStrictEqual(envValues(updated), expected)) {
    throw new UserError(`Could not change ${name} in ${file} without changing other variables`, {
      fix: `Set ${name}=${value} in ${file} by hand.`,
      location: { file, line: assignment.line }
    })
  }
  return updated
}
