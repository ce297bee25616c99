import { isDeepStrictEqual } from 'node:util'
import type { Scalar } from 'yaml'
import { UserError } from '../../errors'
import { parseImageReference } from '../../image-ref'
import { composeData, documentData, type ComposeFile, type DataPath } from '../compose-file'
import { setEnvValue } from '../env-file'
import { parseTemplate, resolveTemplate, type VariableLookup } from '../interpolation'
import { changes, locationOf, type Edit, type FileUpdate, type Selection, type ServiceUpdate } from './types'

/** The new text of the selection's slot (`:tag@digest` after what the slot keeps) and of its image value. */
export function newText(selection: Selection): Edit {
  const { analysis, target } = selection
  const { raw, slot } = analysis
  const newSlotText = `${analysis.keep}${target.tag}${target.digest ? `@${target.digest}` : ''}`
  const newRaw =
    slot.kind === 'image'
      ? raw.slice(0, raw.length - analysis.slotText.length) + newSlotText
      : slot.kind === 'default'
        ? raw.slice(0, slot.start) + newSlotText + raw.slice(slot.start + analysis.slotText.length)
        : raw
  return { ...selection, newSlotText, newRaw }
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

/**
 * Splices the new image values into the compose file at their nodes' source ranges, and
 * verifies that the re-parsed data differs from the old only at the places that read them.
 */
export function applyNodeEdits(file: ComposeFile, edits: Edit[]): string {
  const unique = new Map<number, Edit>()
  for (const edit of edits) if (changes(edit)) unique.set(edit.analysis.node.range[0], edit)
  if (unique.size === 0) return file.text
  let text = file.text
  // A fresh copy of the original data (structuredClone would change the objects' realm under test runners).
  const expected = documentData(file.doc) as Record<string, unknown>
  for (const [start, edit] of [...unique].sort((a, b) => b[0] - a[0])) {
    const { node } = edit.analysis
    const end = node.range[1]
    const oldSource = file.text.slice(start, end)
    const newSource = renderScalar(node, edit.newRaw)
    if (newSource === undefined || renderScalar(node, edit.analysis.raw) !== oldSource) {
      throw new UserError(
        `The image of service '${edit.service.name}' is written in a form that cannot be rewritten in place (${JSON.stringify(oldSource)})`,
        {
          fix: "Write the image on one line, plain or in simple quotes, e.g. image: 'ghcr.io/acme/api:v1.2.3'.",
          location: locationOf(file, start)
        }
      )
    }
    text = text.slice(0, start) + newSource + text.slice(end)
    for (const path of file.occurrences.get(start) ?? []) setAt(expected, path, edit.newRaw)
  }
  if (!isDeepStrictEqual(composeData(file.path, text), expected)) {
    const first = [...unique.values()][0]
    throw new UserError(`Editing ${file.path} would change more than the image of '${first.service.name}'`, {
      fix: `Update the image by hand; please report the file so the editor can handle it.`,
      location: locationOf(file, first.analysis.node.range[0])
    })
  }
  return text
}

function setAt(root: Record<string, unknown>, path: DataPath, value: string): void {
  let node = root as Record<string | number, unknown>
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>
  node[path[path.length - 1]] = value
}

/** The env file's change: the new values of the variables that images take their tag from; undefined when none changes. */
export function spliceEnvFile(path: string, text: string | undefined, edits: Edit[]): FileUpdate | undefined {
  if (text === undefined) return undefined
  let after = text
  for (const edit of edits) {
    if (edit.analysis.slot.kind === 'env-file' && changes(edit))
      after = setEnvValue(after, path, edit.analysis.slot.variable, edit.newSlotText)
  }
  return after === text ? undefined : { path, before: text, after }
}

/** What the edit does to the service, verified against the target: the new image resolves to its tag and digest. */
export function describeUpdate(edit: Edit, envPath: string, newLookup: VariableLookup): ServiceUpdate {
  const { analysis, service, file } = edit
  const parts = parseTemplate(edit.newRaw)
  if (!parts)
    throw new Error(`planImageBump: the new image of '${service.name}' does not parse: ${JSON.stringify(edit.newRaw)}`)
  const resolved = resolveTemplate(parts, newLookup)
  const image = resolved.unresolved.length === 0 ? resolved.value : edit.newRaw
  const reference = analysis.repositoryKnown ? parseImageReference(resolved.value) : undefined
  if (
    analysis.repositoryKnown &&
    (!reference || reference.tag !== edit.target.tag || reference.digest !== edit.target.digest)
  ) {
    throw new Error(
      `planImageBump: '${service.name}' would become ${JSON.stringify(resolved.value)}, not tag ${edit.target.tag}`
    )
  }
  const slot = analysis.slot
  return {
    service: service.name,
    file: slot.kind === 'env-file' ? envPath : file.path,
    line: slot.kind === 'env-file' ? slot.line : file.lineOf(analysis.node.range[0]),
    editedIn: slot.kind,
    variable: slot.kind === 'image' ? undefined : slot.variable,
    previous: analysis.display,
    image,
    reference,
    unset: [...new Set(resolved.unresolved)],
    changed: changes(edit)
  }
}
