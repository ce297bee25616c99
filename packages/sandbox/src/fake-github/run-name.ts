/**
 * Renders a workflow's `run-name` the way GitHub Actions does for the `${{ ... }}` expressions
 * a run-name uses here: context property paths (`github.event.client_payload.correlation_id`),
 * string literals in single quotes, and `a || b`.
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
  if (!/^[A-Za-z_][\w-]*(?:\.[\w-]+)*$/.test(term)) {
    throw new Error(`renderRunName: the expression '${term}' is not supported (property paths, 'literals' and || only)`)
  }
  let value: unknown = context
  for (const key of term.split('.')) {
    value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined
  }
  return value
}

function stringify(value: unknown): string {
  if (typeof value === 'string') return value
  if (typeof value === 'object' && value !== null) return JSON.stringify(value)
  return String(value)
}
