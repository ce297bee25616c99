import { parse } from 'yaml'
import type { InspectionSection } from './remote'
import { splitSections } from './report'

/**
 * Values shorter than this are not masked: masking "1", "on" or "yes" would blank them in every
 * log line. The action's README says so.
 */
export const minSecretLength = 4

/** Compose's own settings (COMPOSE_PROJECT_NAME, ...) name things the log must show; they are no secret. */
const composeSetting = /^(COMPOSE|DOCKER)_/

/**
 * Every value the host's inspection read that a log line from the VM may quote: each value in
 * the VM's env files (`.env`, `.<service>.env`, env_file; compose's and docker's errors quote
 * them, even from a file compose cannot parse) and each resolved environment value of a service.
 * Multi-line values come line by line too, as the runner shows them split. Values shorter than
 * minSecretLength are left out. Works on a partial inspection (one that failed) too.
 */
export function hostSecrets(stdout: string, mark: string): string[] {
  const sections = splitSections(stdout, mark)
  const section = (name: InspectionSection) => sections.get(name)
  const values: string[] = []
  for (const line of (section('envfiles') ?? '').split('\n')) {
    if (line.trim() !== '') values.push(...envFileValues(Buffer.from(line.trim(), 'base64').toString('utf8')))
  }
  const compose = (section('compose') ?? '').trim().split('\n')[0]
  const config = section('config')
  if (config !== undefined && (compose === 'v2' || compose === 'v1')) values.push(...environmentValues(config, compose))
  const masked = new Set<string>()
  for (const value of values) {
    for (const part of [value, ...value.split(/\r?\n/)].map((v) => v.trim()))
      if (part.length >= minSecretLength) masked.add(part)
  }
  return [...masked]
}

/**
 * The values of an env file, as written and unquoted; an unterminated quoted value (which
 * compose refuses, quoting it) with its continuation lines; comments and keys left out.
 */
export function envFileValues(text: string): string[] {
  const values: string[] = []
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim().replace(/^export\s+/, '')
    const eq = line.indexOf('=')
    if (line.startsWith('#') || eq <= 0) continue
    if (composeSetting.test(line.slice(0, eq).trim())) continue
    const raw = line.slice(eq + 1).trim()
    values.push(raw)
    const quote = raw[0]
    if (quote !== '"' && quote !== "'") {
      values.push(raw.replace(/\s+#.*$/, ''))
      continue
    }
    const close = raw.indexOf(quote, 1)
    if (close > 0) {
      values.push(raw.slice(1, close))
      continue
    }
    // Unterminated on this line: a multi-line value, or a broken one; each line is a value.
    values.push(raw.slice(1))
    for (i++; i < lines.length; i++) {
      const end = lines[i].indexOf(quote)
      values.push(end >= 0 ? lines[i].slice(0, end) : lines[i])
      if (end >= 0) break
    }
  }
  return values
}

/** The resolved `environment` values of every service in `compose config` output (v2: JSON, v1: YAML). */
export function environmentValues(config: string, compose: 'v1' | 'v2'): string[] {
  let parsed: unknown
  try {
    parsed = compose === 'v2' ? JSON.parse(config) : parse(config, { prettyErrors: false })
  } catch {
    return []
  }
  const services = field(parsed, 'services')
  if (services === undefined) return []
  const values: string[] = []
  for (const service of Object.values(services)) {
    const environment = field(service, 'environment')
    if (environment === undefined) continue
    for (const [name, value] of Object.entries(environment)) {
      if (typeof value === 'string' && !composeSetting.test(name)) values.push(value)
    }
  }
  return values
}

function field(value: unknown, name: string): Record<string, unknown> | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined
  const inner = (value as Record<string, unknown>)[name]
  return inner !== null && typeof inner === 'object' && !Array.isArray(inner)
    ? (inner as Record<string, unknown>)
    : undefined
}
