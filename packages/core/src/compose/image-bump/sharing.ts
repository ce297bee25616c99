import { UserError } from '../../errors'
import type { ComposeFile, DataPath } from '../compose-file'
import { variablesIn } from '../interpolation'
import { changes, locationOf, type Edit, type ImageEntry } from './types'

function describePath(path: DataPath): string {
  return path
    .map((p) => (typeof p === 'number' ? `[${p}]` : p))
    .join('.')
    .replace(/\.\[/g, '[')
}

function sharingError(edit: Edit, others: string[], through: string, fix: string): UserError {
  return new UserError(`The image of service '${edit.service.name}' is shared ${through} with ${others.join(', ')}`, {
    fix,
    location: locationOf(edit.file, edit.analysis.node.range[0])
  })
}

/**
 * A service that extends another in the same file without an image of its own runs that
 * service's image, so the image may only change when the service and all that inherit it were named.
 */
export function checkExtendsSharing(edits: Edit[], entries: Map<string, ImageEntry>): void {
  const named = new Set(edits.map((e) => e.service.name))
  for (const edit of edits.filter(changes)) {
    const root = edit.inheritsFrom ?? edit.service.name
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
export function checkNodeSharing(edits: Edit[]): void {
  const byNode = new Map<string, Edit[]>()
  for (const edit of edits) {
    if (edit.analysis.slot.kind === 'env-file') continue
    const key = `${edit.file.path}\0${edit.analysis.node.range[0]}`
    byNode.set(key, [...(byNode.get(key) ?? []), edit])
  }
  for (const group of byNode.values()) {
    if (!group.some(changes)) continue
    const [first] = group
    const named = new Set(group.map((e) => e.service.name))
    const offset = first.analysis.node.range[0]
    const others = (first.file.occurrences.get(offset) ?? []).filter(
      (path) =>
        !(
          String(path[0]).startsWith('x-') ||
          (path.length === 3 && path[0] === 'services' && path[2] === 'image' && named.has(String(path[1])))
        )
    )
    if (others.length > 0) {
      const described = others.map((path) =>
        path[0] === 'services' && path.length === 3 && path[2] === 'image' ? `service '${path[1]}'` : describePath(path)
      )
      const anchor = first.file.anchors.get(offset)
      const sharers = [
        ...named,
        ...others.filter((p) => p[0] === 'services' && p.length === 3).map((p) => String(p[1]))
      ]
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
export function checkVariableSharing(files: ComposeFile[], edits: Edit[], envPath: string): void {
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
        const isNamedImage =
          path.length === 3 && path[0] === 'services' && path[2] === 'image' && allowed.has(`${file.path}\0${path[1]}`)
        if (!isNamedImage)
          others.push(
            path[0] === 'services' && path.length === 3 && path[2] === 'image'
              ? `service '${path[1]}'`
              : `${describePath(path)} in ${file.path}`
          )
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
      throw sharingError(
        first,
        [`service '${conflicting.service.name}'`],
        `through ${variable} in ${envPath}`,
        `Update services that share ${variable} to the same tag.`
      )
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
