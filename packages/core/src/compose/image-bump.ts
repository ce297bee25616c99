import { isDeepStrictEqual } from 'node:util'
import type { Scalar } from 'yaml'
import { UserError, type ErrorLocation } from '../errors'
import { canonicalRepository, parseImageReference, repositoryOf, type ImageReference } from '../image-ref'
import { composeData, documentData, parseCompose, type ComposeFile, type ComposeService, type ComposeSource, type DataPath } from './compose-file'
import { envValues, findEnvAssignment, setEnvValue } from './env-file'
import { parseTemplate, resolveTemplate, variablesIn, type VariablePart } from './interpolation'

/** One image to record: for a named service, or for every service that runs `image`. */
export interface BumpTarget {
  service?: string
  /** Image repository (no tag). With `service`, the service must already run this repository. */
  image?: string
  tag: string
  digest?: string
}

export interface BumpRequest {
  /** Compose files in the order compose reads them: a later file overrides an earlier one. */
  files: ComposeSource[]
  /** The env file compose interpolates from; `text` is undefined when the file does not exist. */
  envFile?: { path: string; text?: string }
  targets: BumpTarget[]
}

/** Where the new tag is written: the image value itself, its `${VAR:-default}`, or the env file's variable. */
export type ImageSlot = 'image' | 'default' | 'env-file'

export interface ServiceUpdate {
  service: string
  /** The file and line that change (the env file for `env-file`). */
  file: string
  line: number
  editedIn: ImageSlot
  variable?: string
  /** Image before and after, interpolated when every variable in it is known, else as written. */
  previous: string
  image: string
  /** The new reference; undefined when an unset variable is part of the repository. */
  reference?: ImageReference
  /** Variables in the image that neither the env file nor a default sets (compose takes them from the shell). */
  unset: string[]
  changed: boolean
}

export interface FileUpdate {
  path: string
  before: string
  after: string
}

export interface BumpPlan {
  updates: ServiceUpdate[]
  /** Only files whose text changes. */
  files: FileUpdate[]
}

/** Where the tag sits in one service's image value. */
interface Analysis {
  node: Scalar
  raw: string
  slot: { kind: 'image' } | { kind: 'default'; variable: string; start: number } | { kind: 'env-file'; variable: string }
  /** The slot's current text: the image value's literal tail, the default, or the variable's value. */
  slotText: string
  /** What the new slot text keeps: the slot's text before `:tag@digest`, and the `:` unless it precedes the slot. */
  keep: string
  reference: ImageReference
  repositoryKnown: boolean
  display: string
}

interface Edit {
  file: ComposeFile
  service: ComposeService
  target: BumpTarget
  analysis: Analysis
  newSlotText: string
  newRaw: string
}

/** Where a service's image is, and its analysis, made on first use. */
interface ImageEntry {
  file: ComposeFile
  service: ComposeService
  image: Scalar
  analysis: () => Analysis
  /** The service whose image this one runs through `extends:` in the same file, having none of its own. */
  inheritsFrom?: string
}

type Lookup = (name: string) => string | undefined

/** The env file as the analysis needs it: its path, its text when it exists, and its values. */
interface EnvContext {
  path: string
  text?: string
  lookup: Lookup
}

/**
 * Plans a byte-minimal update of service images: finds each image through the YAML AST,
 * splices the new text at the node's source range, and verifies that the re-parsed data
 * differs only in the targeted images. Pure: returns the new texts, writes nothing.
 */
export function planImageBump(request: BumpRequest): BumpPlan {
  if (request.files.length === 0) throw new Error('planImageBump needs at least one compose file')
  const files = request.files.map(parseCompose)
  const envPath = request.envFile?.path ?? '.env'
  const envText = request.envFile?.text
  const env = envText === undefined ? new Map<string, string>() : envValues(envText)

  const lookup: Lookup = (name) => env.get(name)
  const names = [...new Set(files.flatMap((f) => f.services.map((s) => s.name)))]
  const entries = imageEntries(files, names, { path: envPath, text: envText, lookup })
  const edits = selectServices(files, names, entries, request.targets, lookup).map(({ file, service, target, analysis }) => {
    const newSlotText = `${analysis.keep}${target.tag}${target.digest ? `@${target.digest}` : ''}`
    const { raw, slot } = analysis
    const newRaw =
      slot.kind === 'image'
        ? raw.slice(0, raw.length - analysis.slotText.length) + newSlotText
        : slot.kind === 'default'
          ? raw.slice(0, slot.start) + newSlotText + raw.slice(slot.start + analysis.slotText.length)
          : raw
    return { file, service, target, analysis, newSlotText, newRaw }
  })
  checkExtendsSharing(edits, entries)
  checkNodeSharing(edits)
  checkVariableSharing(files, edits, envPath)

  const fileUpdates: FileUpdate[] = []
  for (const file of files) {
    const after = applyNodeEdits(file, edits.filter((e) => e.file === file && e.analysis.slot.kind !== 'env-file'))
    if (after !== file.text) fileUpdates.push({ path: file.path, before: file.text, after })
  }
  let newEnvText = envText
  for (const edit of edits) {
    if (edit.analysis.slot.kind === 'env-file' && changes(edit)) {
      newEnvText = setEnvValue(newEnvText!, envPath, edit.analysis.slot.variable, edit.newSlotText)
    }
  }
  if (newEnvText !== envText) fileUpdates.push({ path: envPath, before: envText!, after: newEnvText! })

  const newEnv = newEnvText === undefined ? env : envValues(newEnvText)
  const updates = edits.map((edit) => describeUpdate(edit, envText, envPath, (name) => newEnv.get(name)))
  return { updates, files: fileUpdates }
}

function locationOf(file: ComposeFile, offset: number): ErrorLocation {
  return { file: file.path, line: file.lineOf(offset) }
}

/** A service's definitions, the last file first (the one compose takes a field from). */
function definitions(files: ComposeFile[], name: string): { file: ComposeFile; service: ComposeService }[] {
  return [...files].reverse().flatMap((file) => file.services.filter((s) => s.name === name).map((service) => ({ file, service })))
}

/**
 * The image of each service that has one: its own, or, for a service with none of its own,
 * the one compose copies from the service it extends in the same file.
 */
function imageEntries(files: ComposeFile[], names: string[], env: EnvContext): Map<string, ImageEntry> {
  const hasOwnImage = (name: string): boolean => definitions(files, name).some((d) => d.service.image || d.service.imageIsNotText)
  const own = new Map<string, ImageEntry>()
  for (const name of names) {
    const found = definitions(files, name).find((d) => d.service.image || d.service.imageIsNotText)
    if (!found?.service.image) continue
    const { file, service } = found as { file: ComposeFile; service: ComposeService & { image: Scalar } }
    let cached: Analysis | undefined
    own.set(name, { file, service, image: service.image, analysis: () => (cached ??= analyzeImage(file, service, env)) })
  }
  // Follows `extends:` through services without an image to the one that has it, in the same file.
  const imageSource = (file: ComposeFile, name: string, seen: Set<string>): string | undefined => {
    const base = file.services.find((s) => s.name === name)?.extendsInFile
    if (base === undefined || seen.has(base)) return undefined
    if (hasOwnImage(base)) return own.get(base)?.file === file ? base : undefined
    return imageSource(file, base, new Set([...seen, base]))
  }
  const entries = new Map<string, ImageEntry>()
  for (const name of names) {
    const entry = own.get(name)
    if (entry) entries.set(name, entry)
    if (entry || hasOwnImage(name)) continue
    const extending = definitions(files, name).find((d) => d.service.hasExtends)
    const from = extending && imageSource(extending.file, name, new Set([name]))
    if (from) entries.set(name, { ...own.get(from)!, service: extending.service, inheritsFrom: from })
  }
  return entries
}

function selectServices(
  files: ComposeFile[],
  names: string[],
  entries: Map<string, ImageEntry>,
  targets: BumpTarget[],
  lookup: Lookup
): (Omit<Edit, 'newSlotText' | 'newRaw'>)[] {
  const selected = new Map<string, Omit<Edit, 'newSlotText' | 'newRaw'>>()
  const select = (name: string, target: BumpTarget): void => {
    const entry = entries.get(name)!
    const previous = selected.get(name)
    if (previous && (previous.target.tag !== target.tag || previous.target.digest !== target.digest)) {
      throw new UserError(`Service '${name}' was asked for two different images (tags ${previous.target.tag} and ${target.tag})`, {
        fix: 'Name each service once per run.',
        location: { file: entry.file.path, line: entry.service.line }
      })
    }
    selected.set(name, { file: entry.file, service: entry.service, target, analysis: entry.analysis() })
  }

  for (const target of targets) {
    if (target.service !== undefined) {
      requireServiceWithImage(files, names, target.service, [...entries.keys()])
      const { file, service, analysis } = entries.get(target.service)!
      const current = analysis()
      if (target.image !== undefined && current.repositoryKnown && !sameRepository(current.reference, target.image)) {
        throw new UserError(`Service '${service.name}' runs ${repositoryOf(current.reference)}, not ${target.image}`, {
          fix: `Check that the right service was named, or change the image of '${service.name}' to ${target.image} in ${file.path} first.`,
          location: locationOf(file, current.node.range![0])
        })
      }
      select(target.service, target)
      continue
    }
    const matching: string[] = []
    const images: string[] = []
    const unreadable: string[] = []
    for (const [name, entry] of entries) {
      let analysis: Analysis
      try {
        analysis = entry.analysis()
      } catch (error) {
        // An unrelated service's unreadable image does not stop the bump; one known to run the image does.
        const repository = repositoryDespiteUnset(entry.image.value as string, lookup)
        if (!(error instanceof UserError) || (repository && sameRepository(repository, target.image!))) throw error
        unreadable.push(`${name}=${entry.image.value as string}`)
        continue
      }
      images.push(`${name}=${analysis.display}`)
      if (analysis.repositoryKnown && sameRepository(analysis.reference, target.image!)) matching.push(name)
    }
    if (matching.length === 0) {
      const skipped = unreadable.length === 0 ? '' : `; not checked, as their image cannot be read: ${unreadable.join(', ')}`
      throw new UserError(`No service runs the image ${target.image}; the images are: ${images.join(', ') || 'none'}${skipped}`, {
        fix: `Check the image repository, or name the services to update with 'service'${unreadable.length === 0 ? '' : ' (naming a service whose image cannot be read says why)'}.`,
        location: { file: files[0].path, line: files[0].servicesLine }
      })
    }
    for (const name of matching) select(name, target)
  }
  return [...selected.values()]
}

/** The image's repository when no unset variable is part of it; undefined when one is, or the value is not valid. */
function repositoryDespiteUnset(raw: string, lookup: Lookup): ImageReference | undefined {
  const parts = parseTemplate(raw)
  if (!parts) return undefined
  // Two different stand-ins for the unset variables: when both give one repository, they are not part of it.
  const [one, other] = ['a', 'b'].map((standIn) => parseImageReference(resolveTemplate(parts, lookup, standIn).value))
  return one && other && canonicalRepository(one) === canonicalRepository(other) ? one : undefined
}

function sameRepository(reference: ImageReference, image: string): boolean {
  const wanted = parseImageReference(image)
  return wanted !== undefined && canonicalRepository(reference) === canonicalRepository(wanted)
}

function requireServiceWithImage(files: ComposeFile[], names: string[], name: string, withImage: string[]): void {
  if (withImage.includes(name)) return
  const paths = files.map((f) => f.path).join(', ')
  const defined = definitions(files, name)
  const last = defined[0]
  if (!last) {
    throw new UserError(`Service '${name}' is not defined in ${paths}; the services are: ${names.join(', ') || 'none'}`, {
      fix: 'Name one of the services that exist (the key under services:).',
      location: { file: files[0].path, line: files[0].servicesLine }
    })
  }
  const location = { file: last.file.path, line: last.service.line }
  const others = `the services with an image are: ${withImage.join(', ') || 'none'}`
  if (defined.some((d) => d.service.imageIsNotText)) {
    throw new UserError(`The image of service '${name}' is not a text value`, {
      fix: `Write it as one line, e.g. image: ghcr.io/acme/${name}:v1.2.3.`,
      location
    })
  }
  const why = defined.some((d) => d.service.hasExtends)
    ? "its image would come from 'extends:', which is only followed to a service of the same file that has an 'image:' there"
    : defined.some((d) => d.service.hasBuild)
      ? "it is built from source with 'build:'"
      : 'it has no image: line'
  throw new UserError(`Service '${name}' has no image to update (${why}); ${others}`, {
    fix: `Give '${name}' its own 'image:' (compose tags what it builds with that name), or name a service that runs an image.`,
    location
  })
}

/** Finds the slot holding the tag in a service's image value, interpolation included. */
function analyzeImage(file: ComposeFile, service: ComposeService & { image: Scalar }, env: EnvContext): Analysis {
  const { lookup, path: envPath } = env
  const node = service.image
  const raw = node.value as string
  const location = locationOf(file, node.range![0])
  const invalid = (shown: string): UserError =>
    new UserError(`The image of service '${service.name}' is not a valid image reference: ${JSON.stringify(shown)}`, {
      fix: "Write it as repository[:tag][@sha256:digest], e.g. 'ghcr.io/acme/api:v1.2.3'.",
      location
    })
  const parts = parseTemplate(raw)
  if (!parts || parts.length === 0) throw invalid(raw)
  const last = parts[parts.length - 1]
  let slot: Analysis['slot']
  let slotText: string
  if (last.kind === 'text') {
    slot = { kind: 'image' }
    slotText = last.text
  } else if (takesEnvValue(last, lookup)) {
    findEnvAssignment(env.text!, envPath, last.name)
    slot = { kind: 'env-file', variable: last.name }
    slotText = lookup(last.name)!
  } else if ((last.operator === ':-' || last.operator === '-') && !last.argument!.includes('$')) {
    slot = { kind: 'default', variable: last.name, start: last.argumentStart! }
    slotText = last.argument!
  } else {
    throw new UserError(`The image of service '${service.name}' takes its tag from \${${last.name}}, which ${envPath} does not define`, {
      fix: `Define ${last.name} in ${envPath} (e.g. ${last.name}=v1.2.3) so it can be updated there, give it a default (\${${last.name}:-v1.2.3}), or write the tag in ${file.path}.`,
      location
    })
  }
  // Unset variables before the slot get a placeholder that is valid in any position of a reference.
  const prefix = resolveTemplate(parts.slice(0, -1), lookup, 'x')
  const reference = parseImageReference(prefix.value + slotText)
  const display = resolveTemplate(parts, lookup)
  if (!reference) throw invalid(display.unresolved.length === 0 ? display.value : raw)
  // Where `:tag@digest` starts in the full value; the slot may start right after that `:` (repo:${TAG}).
  const full = prefix.value + slotText
  const slotStart = prefix.value.length
  const suffixStart = full.length - (reference.tag ? reference.tag.length + 1 : 0) - (reference.digest ? reference.digest.length + 1 : 0)
  const colonBeforeSlot = reference.tag !== undefined && suffixStart + 1 === slotStart
  if (suffixStart < slotStart && !colonBeforeSlot) {
    const where = slot.kind === 'image' ? 'the text after the last variable' : `\${${slot.variable}}`
    throw new UserError(`The tag of service '${service.name}' is split between ${where} and the rest of ${JSON.stringify(raw)}`, {
      fix: `Keep the whole tag in one place: either literally (repo:v1.2.3) or in one variable (repo:\${TAG}).`,
      location
    })
  }
  return {
    node,
    raw,
    slot,
    slotText,
    keep: colonBeforeSlot ? '' : `${full.slice(slotStart, suffixStart)}:`,
    reference,
    repositoryKnown: prefix.unresolved.length === 0,
    display: display.unresolved.length === 0 ? display.value : raw
  }
}

/** Whether compose uses the env file's value of the variable: with `:-`, an empty value means the default. */
function takesEnvValue(part: VariablePart, lookup: Lookup): boolean {
  const value = lookup(part.name)
  return value !== undefined && !(value === '' && part.operator === ':-')
}

function describePath(path: DataPath): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : p)).join('.').replace(/\.\[/g, '[')
}

function sharingError(edit: Edit, others: string[], through: string, fix: string): UserError {
  return new UserError(`The image of service '${edit.service.name}' is shared ${through} with ${others.join(', ')}`, {
    fix,
    location: locationOf(edit.file, edit.analysis.node.range![0])
  })
}

/** Whether the edit writes anything: the slot already holding the target is left as it is. */
function changes(edit: Edit): boolean {
  return edit.newSlotText !== edit.analysis.slotText
}

/**
 * A service that extends another in the same file without an image of its own runs that
 * service's image, so the image may only change when the service and all that inherit it were named.
 */
function checkExtendsSharing(edits: Edit[], entries: Map<string, ImageEntry>): void {
  const named = new Set(edits.map((e) => e.service.name))
  for (const edit of edits.filter(changes)) {
    const root = entries.get(edit.service.name)!.inheritsFrom ?? edit.service.name
    const sharers = [root, ...[...entries].filter(([, e]) => e.inheritsFrom === root).map(([name]) => name)]
    const unnamed = sharers.filter((name) => !named.has(name))
    if (unnamed.length > 0) {
      // Unless the image's own service is named, it is the named one that needs an image of its own.
      const separate = named.has(root) ? unnamed : [edit.service.name]
      throw sharingError(
        edit,
        unnamed.map((name) => `service '${name}'`),
        "through 'extends:'",
        `Name every service that shares it (service: ${sharers.join(', ')}) to update them together, or give ${separate.map((n) => `'${n}'`).join(', ')} its own 'image:' line.`
      )
    }
  }
}

/**
 * An image node reached through an anchor may only change when every place that reads it was
 * named. A node already at the target is not written, so it needs no check.
 */
function checkNodeSharing(edits: Edit[]): void {
  const byNode = new Map<string, Edit[]>()
  for (const edit of edits) {
    if (edit.analysis.slot.kind === 'env-file') continue
    const key = `${edit.file.path}\0${edit.analysis.node.range![0]}`
    byNode.set(key, [...(byNode.get(key) ?? []), edit])
  }
  for (const group of byNode.values()) {
    if (!group.some(changes)) continue
    const [first] = group
    const named = new Set(group.map((e) => e.service.name))
    const offset = first.analysis.node.range![0]
    const others = (first.file.occurrences.get(offset) ?? []).filter(
      (path) => !(String(path[0]).startsWith('x-') || (path.length === 3 && path[0] === 'services' && path[2] === 'image' && named.has(String(path[1]))))
    )
    if (others.length > 0) {
      const described = others.map((path) => (path[0] === 'services' && path.length === 3 && path[2] === 'image' ? `service '${path[1]}'` : describePath(path)))
      const anchor = first.file.anchors.get(offset)
      const sharers = [...named, ...others.filter((p) => p[0] === 'services' && p.length === 3).map((p) => String(p[1]))]
      throw sharingError(
        first,
        described,
        `through the anchor &${anchor ?? '?'}`,
        `Name every service that shares it (service: ${[...new Set(sharers)].join(', ')}) to update them together, or give '${first.service.name}' its own 'image:' line.`
      )
    }
    const conflicting = group.find((e) => e.newRaw !== first.newRaw)
    if (conflicting) {
      throw sharingError(
        first,
        [`service '${conflicting.service.name}'`],
        `through the anchor &${first.file.anchors.get(offset) ?? '?'}`,
        `Update services that share one image to the same tag, or give each its own 'image:' line.`
      )
    }
  }
}

/** A variable in the env file may only change when nothing but the named services' images reads it (unless it is left as it is). */
function checkVariableSharing(files: ComposeFile[], edits: Edit[], envPath: string): void {
  const byVariable = new Map<string, Edit[]>()
  for (const edit of edits) {
    if (edit.analysis.slot.kind !== 'env-file') continue
    const name = edit.analysis.slot.variable
    byVariable.set(name, [...(byVariable.get(name) ?? []), edit])
  }
  for (const [variable, group] of byVariable) {
    if (!group.some(changes)) continue
    const [first] = group
    const allowed = new Set(group.map((e) => `${e.file.path}\0${e.service.name}`))
    const others: string[] = []
    for (const file of files) {
      forEachString(file.data, [], (value, path) => {
        if (String(path[0]).startsWith('x-') || !variablesIn(value).includes(variable)) return
        const isNamedImage = path.length === 3 && path[0] === 'services' && path[2] === 'image' && allowed.has(`${file.path}\0${path[1]}`)
        if (!isNamedImage) others.push(path[0] === 'services' && path.length === 3 && path[2] === 'image' ? `service '${path[1]}'` : `${describePath(path)} in ${file.path}`)
      })
    }
    if (others.length > 0) {
      throw sharingError(
        first,
        others,
        `through ${variable} in ${envPath}`,
        `Give '${first.service.name}' a variable of its own (e.g. ${first.service.name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_TAG), or name every service whose image uses ${variable}.`
      )
    }
    const conflicting = group.find((e) => e.newSlotText !== first.newSlotText)
    if (conflicting) {
      throw sharingError(first, [`service '${conflicting.service.name}'`], `through ${variable} in ${envPath}`, `Update services that share ${variable} to the same tag.`)
    }
  }
}

function forEachString(value: unknown, path: DataPath, visitString: (value: string, path: DataPath) => void): void {
  if (typeof value === 'string') visitString(value, path)
  else if (Array.isArray(value)) value.forEach((item, i) => forEachString(item, [...path, i], visitString))
  else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) forEachString(item, [...path, key], visitString)
  }
}

/** The scalar's source text for a value, in the node's own quoting style; undefined for styles not rewritten in place. */
function renderScalar(node: Scalar, value: string): string | undefined {
  switch (node.type) {
    case 'PLAIN':
      return value
    case 'QUOTE_SINGLE':
      return `'${value.replace(/'/g, "''")}'`
    case 'QUOTE_DOUBLE':
      return JSON.stringify(value)
    default:
      return undefined
  }
}

function applyNodeEdits(file: ComposeFile, edits: Edit[]): string {
  const unique = new Map<number, Edit>()
  for (const edit of edits) if (changes(edit)) unique.set(edit.analysis.node.range![0], edit)
  if (unique.size === 0) return file.text
  let text = file.text
  // A fresh copy of the original data (structuredClone would change the objects' realm under test runners).
  const expected = documentData(file.doc) as Record<string, unknown>
  for (const [start, edit] of [...unique].sort((a, b) => b[0] - a[0])) {
    const { node } = edit.analysis
    const end = node.range![1]
    const oldSource = file.text.slice(start, end)
    const newSource = renderScalar(node, edit.newRaw)
    if (newSource === undefined || renderScalar(node, edit.analysis.raw) !== oldSource) {
      throw new UserError(`The image of service '${edit.service.name}' is written in a form that cannot be rewritten in place (${JSON.stringify(oldSource)})`, {
        fix: "Write the image on one line, plain or in simple quotes, e.g. image: 'ghcr.io/acme/api:v1.2.3'.",
        location: locationOf(file, start)
      })
    }
    text = text.slice(0, start) + newSource + text.slice(end)
    for (const path of file.occurrences.get(start) ?? []) setAt(expected, path, edit.newRaw)
  }
  if (!isDeepStrictEqual(composeData(file.path, text), expected)) {
    const first = [...unique.values()][0]
    throw new UserError(`Editing ${file.path} would change more than the image of '${first.service.name}'`, {
      fix: `Update the image by hand; please report the file so the editor can handle it.`,
      location: locationOf(file, first.analysis.node.range![0])
    })
  }
  return text
}

function setAt(root: Record<string, unknown>, path: DataPath, value: string): void {
  let node = root as Record<string | number, unknown>
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>
  node[path[path.length - 1]] = value
}

function describeUpdate(edit: Edit, envText: string | undefined, envPath: string, newLookup: Lookup): ServiceUpdate {
  const { analysis, service, file } = edit
  const resolved = resolveTemplate(parseTemplate(edit.newRaw)!, newLookup)
  const image = resolved.unresolved.length === 0 ? resolved.value : edit.newRaw
  const reference = analysis.repositoryKnown ? parseImageReference(resolved.value) : undefined
  if (analysis.repositoryKnown && (!reference || reference.tag !== edit.target.tag || reference.digest !== edit.target.digest)) {
    throw new Error(`planImageBump: '${service.name}' would become ${JSON.stringify(resolved.value)}, not tag ${edit.target.tag}`)
  }
  const slot = analysis.slot
  const inEnv = slot.kind === 'env-file'
  return {
    service: service.name,
    file: inEnv ? envPath : file.path,
    line: inEnv ? findEnvAssignment(envText!, envPath, slot.variable)!.line : file.lineOf(analysis.node.range![0]),
    editedIn: slot.kind,
    variable: slot.kind === 'image' ? undefined : slot.variable,
    previous: analysis.display,
    image,
    reference,
    unset: [...new Set(resolved.unresolved)],
    changed: changes(edit)
  }
}
