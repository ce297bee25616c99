// Checks recorded requests against GitHub's published OpenAPI description (@octokit/openapi):
// the operation exists, path and query parameters are declared, and the JSON body validates
// against the operation's request schema. Only the operations asked for are resolved.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { Ajv, type ValidateFunction } from 'ajv'
import type { RecordedRequest } from '../../packages/sandbox/src/fake-github'

interface Parameter {
  name: string
  in: 'path' | 'query' | 'header'
  required?: boolean
  schema?: Record<string, unknown>
}

interface Operation {
  operationId: string
  parameters?: (Parameter | { $ref: string })[]
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> }
  responses?: Record<string, Response | { $ref: string }>
}

interface Response {
  content?: Record<string, { schema: Record<string, unknown> }>
}

interface Spec {
  paths: Record<string, Record<string, Operation>>
  components: Record<string, Record<string, unknown>>
}

let spec: Spec | undefined

function loadSpec(): Spec {
  // api.github.com.json (13 MB, with $refs) rather than the 70 MB dereferenced variant.
  spec ??= JSON.parse(
    readFileSync(createRequire(import.meta.url).resolve('@octokit/openapi/generated/api.github.com.json'), 'utf8')
  ) as Spec
  return spec
}

function resolveRef<T>(node: T | { $ref: string }): T {
  if (typeof node !== 'object' || node === null || !('$ref' in node)) return node as T
  const parts = node.$ref.replace(/^#\//, '').split('/')
  let value: unknown = loadSpec()
  for (const part of parts) value = (value as Record<string, unknown>)[part]
  return resolveRef(value as T)
}

/**
 * Inlines every `$ref` of a schema (GitHub's schemas have no cycles in the parts used here).
 * `partial` drops `required` lists: the fake answers a subset of a response's fields.
 */
function inline(node: unknown, partial = false): unknown {
  if (Array.isArray(node)) return node.map((item) => inline(item, partial))
  if (typeof node !== 'object' || node === null) return node
  const resolved = resolveRef(node as Record<string, unknown>)
  const inlined = Object.fromEntries(
    Object.entries(resolved)
      .filter(([key, value]) => !(partial && key === 'required' && Array.isArray(value)))
      .map(([key, value]) => [key, inline(value, partial)])
  )
  // OpenAPI 3.0's `nullable` beside allOf/anyOf without a `type` (e.g. a commit's author), which Ajv refuses: null or the rest.
  if (inlined.nullable === true && inlined.type === undefined) {
    const { nullable: _nullable, ...rest } = inlined
    return { anyOf: [{ type: 'null' }, rest] }
  }
  return inlined
}

function templateMatches(template: string, path: string): boolean {
  const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`)
  return pattern.test(path)
}

const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false })
// Query values arrive as strings: coerce them to the declared type, as GitHub does.
const queryAjv = new Ajv({ strict: false, coerceTypes: true, validateFormats: false })
const validators = new Map<string, ValidateFunction>()

/** The problems with one request per GitHub's OpenAPI description; empty when it conforms. */
export function openApiProblems(request: RecordedRequest): string[] {
  const operation = operationFor(request)
  if (!operation) return [`${request.method} ${request.path} is not an operation of GitHub's REST API`]
  const problems: string[] = []
  const parameters = (operation.parameters ?? []).map((p) => resolveRef<Parameter>(p))
  for (const [name, value] of Object.entries(request.query)) {
    const parameter = parameters.find((p) => p.in === 'query' && p.name === name)
    if (!parameter) problems.push(`${operation.operationId}: no query parameter '${name}'`)
    else if (
      parameter.schema &&
      !queryAjv.validate({ type: 'object', properties: { value: parameter.schema } }, { value })
    ) {
      problems.push(`${operation.operationId}: query ${name}=${value} ${queryAjv.errorsText()}`)
    }
  }
  for (const p of parameters.filter((p) => p.in === 'query' && p.required)) {
    if (!(p.name in request.query))
      problems.push(`${operation.operationId}: required query parameter '${p.name}' missing`)
  }
  const bodySchema = operation.requestBody?.content['application/json']?.schema
  if (bodySchema) {
    let validate = validators.get(operation.operationId)
    if (!validate) {
      validate = ajv.compile(inline(bodySchema) as object)
      validators.set(operation.operationId, validate)
    }
    if (!validate(request.body)) {
      problems.push(
        ...(validate.errors ?? []).map((e) => `${operation.operationId}: body${e.instancePath} ${e.message}`)
      )
    }
  } else if (request.rawBody !== '') {
    problems.push(`${operation.operationId} takes no body`)
  }
  return problems
}

/**
 * The problems with the fake's answer to a request, per the response schema GitHub documents for
 * that operation and status (the fields the fake sends must have the documented types).
 */
export function openApiResponseProblems(request: RecordedRequest): string[] {
  const operation = operationFor(request)
  const documented = operation?.responses?.[String(request.status)]
  // A page stands for a proxy or web server answering instead of the API: no schema describes it.
  if (!operation || !documented || request.page !== undefined) return []
  const schema = resolveRef(documented).content?.['application/json']?.schema
  if (!schema)
    return request.response === undefined
      ? []
      : [`${operation.operationId} ${request.status} has no body, the fake sent one`]
  const key = `${operation.operationId} ${request.status}`
  let validate = validators.get(key)
  if (!validate) {
    validate = ajv.compile(inline(schema, true) as object)
    validators.set(key, validate)
  }
  return validate(request.response)
    ? []
    : (validate.errors ?? []).map((e) => `${key}: response${e.instancePath} ${e.message}`)
}

/** The operationId of a request, e.g. `repos/create-dispatch-event`. */
export function operationOf(request: RecordedRequest): string | undefined {
  return operationFor(request)?.operationId
}

function operationFor(request: RecordedRequest): Operation | undefined {
  const paths = loadSpec().paths
  const template = Object.keys(paths).find(
    (t) => templateMatches(t, request.path) && paths[t][request.method.toLowerCase()]
  )
  return template === undefined ? undefined : paths[template][request.method.toLowerCase()]
}
