import { UserError } from '../../errors'
import { parseImageReference } from '../../image-ref'
import type { ComposeFile, SourceScalar } from '../compose-file'
import { findEnvAssignment, type EnvAssignment } from '../env-file'
import { parseTemplate, resolveTemplate, type VariablePart } from '../interpolation'
import { locationOf, type Analysis, type EnvContext } from './types'

/** Finds the slot holding the tag in a service's image value, interpolation included. */
export function analyzeImage(file: ComposeFile, service: string, node: SourceScalar, env: EnvContext): Analysis {
  const { lookup, path: envPath } = env
  const raw = node.value
  const location = locationOf(file, node.range[0])
  const invalid = (shown: string): UserError =>
    new UserError(`The image of service '${service}' is not a valid image reference: ${JSON.stringify(shown)}`, {
      fix: "Write it as repository[:tag][@sha256:digest], e.g. 'ghcr.io/acme/api:v1.2.3'.",
      location
    })
  const parts = parseTemplate(raw)
  if (!parts || parts.length === 0) throw invalid(raw)
  const last = parts[parts.length - 1]
  let slot: Analysis['slot']
  let slotText: string
  let assignment: EnvAssignment | undefined
  let fallback: { text: string; start: number } | undefined
  if (last.kind === 'text') {
    slot = { kind: 'image' }
    slotText = last.text
  } else if ((assignment = assignmentUsed(last, env))) {
    slot = { kind: 'env-file', variable: last.name, line: assignment.line }
    slotText = assignment.value
  } else if ((fallback = plainDefault(last))) {
    slot = { kind: 'default', variable: last.name, start: fallback.start }
    slotText = fallback.text
  } else {
    throw new UserError(
      `The image of service '${service}' takes its tag from \${${last.name}}, which ${envPath} does not define`,
      {
        fix: `Define ${last.name} in ${envPath} (e.g. ${last.name}=v1.2.3) so it can be updated there, give it a default (\${${last.name}:-v1.2.3}), or write the tag in ${file.path}.`,
        location
      }
    )
  }
  // Unset variables before the slot get a placeholder that is valid in any position of a reference.
  const prefix = resolveTemplate(parts.slice(0, -1), lookup, 'x')
  const reference = parseImageReference(prefix.value + slotText)
  const display = resolveTemplate(parts, lookup)
  if (!reference) throw invalid(display.unresolved.length === 0 ? display.value : raw)
  // Where `:tag@digest` starts in the full value; the slot may start right after that `:` (repo:${TAG}).
  const full = prefix.value + slotText
  const slotStart = prefix.value.length
  const suffixStart =
    full.length - (reference.tag ? reference.tag.length + 1 : 0) - (reference.digest ? reference.digest.length + 1 : 0)
  const colonBeforeSlot = reference.tag !== undefined && suffixStart + 1 === slotStart
  if (suffixStart < slotStart && !colonBeforeSlot) {
    const where = slot.kind === 'image' ? 'the text after the last variable' : `\${${slot.variable}}`
    throw new UserError(
      `The tag of service '${service}' is split between ${where} and the rest of ${JSON.stringify(raw)}`,
      {
        fix: `Keep the whole tag in one place: either literally (repo:v1.2.3) or in one variable (repo:\${TAG}).`,
        location
      }
    )
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

/**
 * The env file's assignment of the variable when compose uses its value (with `:-`, an empty
 * value means the default); refuses one that cannot be edited in place.
 */
function assignmentUsed(part: VariablePart, env: EnvContext): EnvAssignment | undefined {
  const value = env.lookup(part.name)
  if (env.text === undefined || value === undefined || (value === '' && part.operator === ':-')) return undefined
  return findEnvAssignment(env.text, env.path, part.name)
}

/** The variable's default when it is plain text that can take the tag: `${VAR:-default}` or `${VAR-default}`. */
function plainDefault(part: VariablePart): { text: string; start: number } | undefined {
  const { operator, argument, argumentStart } = part
  const isDefault = operator === ':-' || operator === '-'
  if (!isDefault || argument === undefined || argumentStart === undefined || argument.includes('$')) return undefined
  return { text: argument, start: argumentStart }
}
