/**
 * Renders a workflow's `run-name` the way GitHub Actions does for the `${{ ... }}` expressions
 * the templates' run-names use: context property paths (`github.event.client_payload.correlation_id`),
 * object filters (`services.*.service`), `join(array, 'separator')`, string literals in single
 * quotes, and `a || b`.
 */
export function renderRunName(template: string, context: Record<string, unknown>): string {
  return template.replace(/\$\{\{\s*(.*?)\s*\}\}/g, (_, expression: string) => stringify(evaluate(expression, context)))
}

function evaluate(expression: string, context: Record<string, unknown>): unknown {
  for (const alternative of expression.split('||').map((part) => part.trim())) {
    const value = evaluateTerm(alternative, context)
    if (value !== undefined && value !== null && value !== '' && value !== false && value !== 0) return value
  }
  return ''
}

function evaluateTerm(term: string, context: Record<string, unknown>): unknown {
  const literal = /^'((?:[^']|'')*)'$/.exec(term)
  if (literal) return literal[1].replace(/''/g, "'")
  const join = /^join\(\s*(.+?)\s*(?:,\s*('(?:[^']|'')*'))?\s*\)$/.exec(term)
  if (join) {
    const items = evaluateTerm(join[1], context)
    const separator = join[2] === undefined ? ',' : (evaluateTerm(join[2], context) as string)
    return Array.isArray(items) ? items.map(stringify).join(separator) : stringify(items ?? '')
  }
  if (!/^[A-Za-z_][\w-]*(?:\.(?:[\w-]+|\*))*$/.test(term)) {
    throw new Error(
      `renderRunName: the expression '${term}' is not supported (property paths, 'literals', join() and || only)`
    )
  }
  const value = term
    .split('.')
    .reduce<unknown>((value, key) => (key === '*' ? filterAll(value) : property(value, key)), context)
  return value instanceof FilterResult ? value.items : value
}

/** `.key` of a value; applied to an object filter's result, of each of its items. */
function property(value: unknown, key: string): unknown {
  if (value instanceof FilterResult)
    return new FilterResult(value.items.map((item) => property(item, key)).filter((item) => item !== undefined))
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined
}

/** `.*`: every element of an array, or every value of an object. */
function filterAll(value: unknown): FilterResult {
  if (Array.isArray(value)) return new FilterResult(value)
  return new FilterResult(typeof value === 'object' && value !== null ? Object.values(value) : [])
}

/** An object filter's result: an array whose later path segments apply to each item. */
class FilterResult {
  constructor(readonly items: unknown[]) {}
}

function stringify(value: unknown): string {
  if (typeof value === 'string') return value
  if (typeof value === 'object' && value !== null) return JSON.stringify(value)
  return String(value)
}
