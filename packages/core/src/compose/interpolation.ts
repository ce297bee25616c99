/**
 * Compose variable interpolation (compose-spec "Interpolation"): `$VAR`, `${VAR}`,
 * `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `${VAR:+alt}`,
 * `${VAR+alt}`, and `$$` for a literal `$`. Offsets index the raw string, so a part can be
 * spliced in place.
 */
export type Operator = ':-' | '-' | ':?' | '?' | ':+' | '+'

export interface TextPart {
  kind: 'text'
  /** The literal text, `$$` already reduced to `$`. */
  text: string
  start: number
  end: number
}

export interface VariablePart {
  kind: 'variable'
  name: string
  operator?: Operator
  /** The raw text after the operator (a default, error message or alternative). */
  argument?: string
  argumentStart?: number
  start: number
  end: number
}

export type TemplatePart = TextPart | VariablePart

const namePattern = /^[A-Za-z_][A-Za-z0-9_]*/
const operators: readonly Operator[] = [':-', ':?', ':+', '-', '?', '+']

/** Splits a value into text and variables; undefined when the syntax is invalid (as compose would reject it). */
export function parseTemplate(raw: string): TemplatePart[] | undefined {
  const parts: TemplatePart[] = []
  let text = ''
  let textStart = 0
  const flushText = (end: number): void => {
    if (text !== '') parts.push({ kind: 'text', text, start: textStart, end })
    text = ''
  }
  let i = 0
  while (i < raw.length) {
    if (raw[i] !== '$') {
      if (text === '') textStart = i
      text += raw[i++]
      continue
    }
    if (raw[i + 1] === '$') {
      if (text === '') textStart = i
      text += '$'
      i += 2
      continue
    }
    if (raw[i + 1] === '{') {
      const close = matchingBrace(raw, i + 1)
      if (close === undefined) return undefined
      const body = raw.slice(i + 2, close)
      const name = namePattern.exec(body)?.[0]
      if (name === undefined) return undefined
      const rest = body.slice(name.length)
      const variable: VariablePart = { kind: 'variable', name, start: i, end: close + 1 }
      if (rest !== '') {
        const operator = operators.find((op) => rest.startsWith(op))
        if (operator === undefined) return undefined
        variable.operator = operator
        variable.argument = rest.slice(operator.length)
        variable.argumentStart = i + 2 + name.length + operator.length
      }
      flushText(i)
      parts.push(variable)
      i = close + 1
      continue
    }
    const name = namePattern.exec(raw.slice(i + 1))?.[0]
    if (name === undefined) return undefined
    flushText(i)
    parts.push({ kind: 'variable', name, start: i, end: i + 1 + name.length })
    i += 1 + name.length
  }
  flushText(raw.length)
  return parts
}

function matchingBrace(raw: string, open: number): number | undefined {
  let depth = 0
  for (let i = open; i < raw.length; i++) {
    if (raw[i] === '{') depth++
    else if (raw[i] === '}' && --depth === 0) return i
  }
  return undefined
}

/** Every variable a value refers to, including those inside defaults. */
export function variablesIn(raw: string): string[] {
  const names: string[] = []
  for (const part of parseTemplate(raw) ?? []) {
    if (part.kind !== 'variable') continue
    names.push(part.name)
    if (part.argument !== undefined) names.push(...variablesIn(part.argument))
  }
  return names
}

export type VariableLookup = (name: string) => string | undefined

export interface Resolved {
  value: string
  /** Variables with no value and no default: their place holds `placeholder`. */
  unresolved: string[]
}

/** Interpolates like compose does; variables nobody defines become `placeholder`. */
export function resolveTemplate(parts: readonly TemplatePart[], lookup: VariableLookup, placeholder = ''): Resolved {
  const unresolved: string[] = []
  const resolveRaw = (raw: string): string => {
    const nested = parseTemplate(raw)
    if (nested === undefined) return raw
    const result = resolveTemplate(nested, lookup, placeholder)
    unresolved.push(...result.unresolved)
    return result.value
  }
  let value = ''
  for (const part of parts) {
    if (part.kind === 'text') {
      value += part.text
      continue
    }
    const current = lookup(part.name)
    const argument = part.argument ?? ''
    switch (part.operator) {
      case ':-':
        value += current ? current : resolveRaw(argument)
        break
      case '-':
        value += current !== undefined ? current : resolveRaw(argument)
        break
      case ':+':
        value += current ? resolveRaw(argument) : ''
        break
      case '+':
        value += current !== undefined ? resolveRaw(argument) : ''
        break
      default:
        if (current === undefined) {
          unresolved.push(part.name)
          value += placeholder
        } else {
          value += current
        }
    }
  }
  return { value, unresolved }
}
