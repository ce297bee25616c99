import { posix } from 'node:path'
import { LineCounter, Scalar, isMap, isScalar, parseDocument, visit, type Document, type Range } from 'yaml'
import { UserError } from '../errors'
import { isValidServiceName } from '../names'

/** A compose file as text, named by its path relative to the workspace (as annotations want it). */
export interface ComposeSource {
  path: string
  text: string
}

export type DataPath = readonly (string | number)[]

/** A text scalar read from the source, so its offsets there are known. */
export type SourceScalar = Scalar<string> & { range: Range }

export interface ComposeService {
  name: string
  /** 1-based line of the service's key. */
  line: number
  /** The scalar the service's resolved `image` comes from, possibly through an alias or merge key. */
  image?: SourceScalar
  /** The service's resolved `image` is there but is not a string (a map, a list, a number). */
  imageIsNotText: boolean
  hasBuild: boolean
  hasExtends: boolean
  /** The service it extends when that one is in this same file (`extends: name`, or no other `file:`). */
  extendsInFile?: string
}

/**
 * One parsed compose file. `data` is what compose reads (merge keys and aliases resolved);
 * `occurrences` says, for each scalar in the source, every place in `data` where it appears.
 */
export interface ComposeFile {
  path: string
  text: string
  doc: Document.Parsed
  data: unknown
  services: ComposeService[]
  occurrences: Map<number, DataPath[]>
  /** 1-based line of the `services:` key (1 when there is none). */
  servicesLine: number
  /** The nearest anchor over each scalar (its own or an enclosing collection's), by source offset. */
  anchors: Map<number, string>
  lineOf(offset: number): number
}

const parseOptions = { merge: true, prettyErrors: true } as const
// yaml refuses by default once count x size of alias expansions passes 100, which a stack of a
// hundred services sharing one `&logging` anchor already does; this keeps the guard against
// exponential expansion (billion laughs) at a size no real compose file reaches.
const maxAliasExpansion = 100_000

/** The data compose reads from a document: aliases and merge keys resolved. */
export function documentData(doc: Document): unknown {
  return doc.toJS({ maxAliasCount: maxAliasExpansion })
}
const marker = '\u0000gitops-lite-scalar@'

/** Far above any real compose file; a bigger one is a mistake, and parsing it would hold the job for minutes. */
export const MAX_COMPOSE_FILE_BYTES = 2 * 1024 * 1024

export function parseCompose(source: ComposeSource): ComposeFile {
  const size = Buffer.byteLength(source.text)
  if (size > MAX_COMPOSE_FILE_BYTES) {
    throw new UserError(
      `${source.path} is ${(size / 1024 / 1024).toFixed(1)} MB; compose files over ${MAX_COMPOSE_FILE_BYTES / 1024 / 1024} MB are refused`,
      {
        fix: 'Check that the right file is named (a compose file is a few kilobytes); nothing was changed.',
        location: { file: source.path }
      }
    )
  }
  const lineCounter = new LineCounter()
  const doc = parseDocument(source.text, { ...parseOptions, lineCounter })
  const lineOf = (offset: number): number => lineCounter.linePos(offset).line
  const problem = doc.errors[0]
  if (problem) {
    throw new UserError(`${source.path} is not valid YAML: ${problem.message.split('\n')[0]}`, {
      fix: 'Fix the YAML syntax first (docker compose config shows the same error).',
      location: { file: source.path, line: problem.linePos?.[0].line ?? lineOf(problem.pos[0]) }
    })
  }
  if (!isMap(doc.contents)) {
    const empty = doc.contents === null
    throw new UserError(
      `${source.path} ${empty ? 'is empty' : 'is not a mapping of top-level keys (services:, volumes:, ...)'}`,
      {
        fix: 'Check that the right file is named; a compose file starts with keys such as "services:".',
        location: { file: source.path, line: 1 }
      }
    )
  }
  const data = documentData(doc)
  const scalars = new Map<number, RangedScalar>()
  const anchors = new Map<number, string>()
  visit(doc, {
    Scalar(key, node, path) {
      if (key === 'key' || !hasRange(node)) return
      scalars.set(node.range[0], node)
      const anchored = [node, ...[...path].reverse()].find((n) => (n as { anchor?: string }).anchor)
      if (anchored) anchors.set(node.range[0], (anchored as { anchor: string }).anchor)
    }
  })
  const occurrences = locateScalars(source.text)
  const services = readServices(source.path, doc, data, occurrences, scalars, lineOf)
  const servicesKey = isMap(doc.contents)
    ? doc.contents.items.find((pair) => isScalar(pair.key) && pair.key.value === 'services')?.key
    : undefined
  const servicesLine = isScalar(servicesKey) && servicesKey.range ? lineOf(servicesKey.range[0]) : 1
  return { path: source.path, text: source.text, doc, data, services, occurrences, anchors, servicesLine, lineOf }
}

/** Re-parses edited text to its data, for verification. */
export function composeData(path: string, text: string): unknown {
  const doc = parseDocument(text, parseOptions)
  if (doc.errors.length > 0) throw new Error(`${path}: the edited file does not parse: ${doc.errors[0].message}`)
  return documentData(doc)
}

/**
 * Finds where each value scalar ends up once aliases and merge keys are resolved: a second
 * parse has every value scalar replaced by a marker naming its source offset, so the YAML
 * library's own resolution tells us which places share a node.
 */
function locateScalars(text: string): Map<number, DataPath[]> {
  const marked = parseDocument(text, parseOptions)
  visit(marked, {
    Scalar(key, node) {
      if (key !== 'key' && node.range) node.value = `${marker}${node.range[0]}`
    }
  })
  const occurrences = new Map<number, DataPath[]>()
  const walk = (value: unknown, at: DataPath): void => {
    if (typeof value === 'string' && value.startsWith(marker)) {
      const offset = Number(value.slice(marker.length))
      occurrences.set(offset, [...(occurrences.get(offset) ?? []), at])
    } else if (Array.isArray(value)) {
      value.forEach((item, index) => walk(item, [...at, index]))
    } else if (typeof value === 'object' && value !== null) {
      for (const [key, item] of Object.entries(value)) walk(item, [...at, key])
    }
  }
  walk(documentData(marked), [])
  return occurrences
}

function readServices(
  file: string,
  doc: Document.Parsed,
  data: unknown,
  occurrences: Map<number, DataPath[]>,
  scalars: Map<number, RangedScalar>,
  lineOf: (offset: number) => number
): ComposeService[] {
  const servicesNode = isMap(doc.contents) ? doc.contents.get('services', true) : undefined
  if (servicesNode === undefined || servicesNode === null) return []
  if (!isMap(servicesNode)) {
    throw new UserError(`'services' in ${file} is not a mapping of service names to definitions`, {
      fix: 'Write services as "services:" followed by one indented key per service.',
      location: { file, line: lineOf(servicesNode.range?.[0] ?? 0) }
    })
  }
  const resolved = (data as { services?: Record<string, unknown> }).services ?? {}
  const byImagePath = new Map<string, number>()
  for (const [offset, paths] of occurrences) {
    for (const path of paths) {
      if (path.length === 3 && path[0] === 'services' && path[2] === 'image') byImagePath.set(String(path[1]), offset)
    }
  }
  return servicesNode.items.map((pair) => {
    const name = String(isScalar(pair.key) ? pair.key.value : pair.key)
    if (!isValidServiceName(name)) {
      // A name such as --remove-orphans would reach compose's command line as an option.
      throw new UserError(
        `${file} defines the service ${JSON.stringify(name)}, which is not a valid compose service name`,
        {
          fix: 'Rename it: a service name is 1 to 63 letters, digits, _ . and -, starting with a letter or digit.',
          location: { file, line: lineOf((isScalar(pair.key) ? pair.key.range?.[0] : undefined) ?? 0) }
        }
      )
    }
    const definition = resolved[name]
    const fields = typeof definition === 'object' && definition !== null ? (definition as Record<string, unknown>) : {}
    const offset = byImagePath.get(name)
    const image = offset === undefined ? undefined : scalars.get(offset)
    return {
      name,
      line: lineOf((isScalar(pair.key) ? pair.key.range?.[0] : undefined) ?? 0),
      image: image && isText(image) ? image : undefined,
      imageIsNotText: 'image' in fields && fields.image !== null && typeof fields.image !== 'string',
      hasBuild: 'build' in fields,
      hasExtends: 'extends' in fields,
      extendsInFile: sameFileBase(file, fields.extends)
    }
  })
}

type RangedScalar = Scalar & { range: Range }

/** The parser gives a range to every node it reads from source; only nodes made in code lack one. */
function hasRange(node: Scalar): node is RangedScalar {
  return node.range !== undefined && node.range !== null
}

function isText(node: RangedScalar): node is SourceScalar {
  return typeof node.value === 'string'
}

/** The service named by `extends:` when it is in `file` itself: the short form, or no `file:` or this file's own path. */
function sameFileBase(file: string, value: unknown): string | undefined {
  if (typeof value === 'string') return value
  if (typeof value !== 'object' || value === null) return undefined
  const { service, file: other } = value as { service?: unknown; file?: unknown }
  if (typeof service !== 'string') return undefined
  const sameFile =
    other === undefined ||
    (typeof other === 'string' && posix.join(posix.dirname(file), other) === posix.normalize(file))
  return sameFile ? service : undefined
}
