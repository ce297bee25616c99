import { parseCompose } from '../compose-file'
import { envValues } from '../env-file'
import type { VariableLookup } from '../interpolation'
import { imageEntries, selectServices } from './select'
import { checkExtendsSharing, checkNodeSharing, checkVariableSharing } from './sharing'
import { applyNodeEdits, describeUpdate, newText, spliceEnvFile } from './splice'
import type { BumpPlan, BumpRequest, FileUpdate } from './types'

/**
 * Plans a byte-minimal update of service images in four stages: chooses the services
 * (select.ts), finds the slot holding each tag (analyze.ts), refuses an edit that would change
 * an image shared with a service not named (sharing.ts), then splices the new text at the
 * node's source range and verifies that the re-parsed data differs only in the targeted images
 * (splice.ts). Pure: returns the new texts, writes nothing.
 */
export function planImageBump(request: BumpRequest): BumpPlan {
  if (request.files.length === 0) throw new Error('planImageBump needs at least one compose file')
  const files = request.files.map(parseCompose)
  const envPath = request.envFile?.path ?? '.env'
  const envText = request.envFile?.text
  const env = envText === undefined ? new Map<string, string>() : envValues(envText)

  const lookup: VariableLookup = (name) => env.get(name)
  const names = [...new Set(files.flatMap((f) => f.services.map((s) => s.name)))]
  const entries = imageEntries(files, names, { path: envPath, text: envText, lookup })
  const edits = selectServices(files, names, entries, request.targets, lookup).map(newText)
  checkExtendsSharing(edits, entries)
  checkNodeSharing(edits)
  checkVariableSharing(files, edits, envPath)

  const fileUpdates: FileUpdate[] = []
  for (const file of files) {
    const after = applyNodeEdits(
      file,
      edits.filter((e) => e.file === file && e.analysis.slot.kind !== 'env-file')
    )
    if (after !== file.text) fileUpdates.push({ path: file.path, before: file.text, after })
  }
  const envUpdate = spliceEnvFile(envPath, envText, edits)
  if (envUpdate) fileUpdates.push(envUpdate)

  const newEnv = envUpdate ? envValues(envUpdate.after) : env
  const updates = edits.map((edit) => describeUpdate(edit, envPath, (name) => newEnv.get(name)))
  return { updates, files: fileUpdates }
}
