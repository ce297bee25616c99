import type { ErrorLocation } from '../../errors'
import type { ImageReference } from '../../image-ref'
import type { ComposeFile, ComposeService, ComposeSource, SourceScalar } from '../compose-file'
import type { VariableLookup } from '../interpolation'

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

/** The env file as the analysis needs it: its path, its text when it exists, and its values. */
export interface EnvContext {
  path: string
  text?: string
  lookup: VariableLookup
}

/** Where the tag sits in one service's image value. */
export interface Analysis {
  node: SourceScalar
  raw: string
  slot:
    | { kind: 'image' }
    | { kind: 'default'; variable: string; start: number }
    | { kind: 'env-file'; variable: string; line: number }
  /** The slot's current text: the image value's literal tail, the default, or the variable's value. */
  slotText: string
  /** What the new slot text keeps: the slot's text before `:tag@digest`, and the `:` unless it precedes the slot. */
  keep: string
  reference: ImageReference
  repositoryKnown: boolean
  display: string
}

/** Where a service's image is, and its analysis, made on first use. */
export interface ImageEntry {
  file: ComposeFile
  service: ComposeService
  image: SourceScalar
  analysis: () => Analysis
  /** The service whose image this one runs through `extends:` in the same file, having none of its own. */
  inheritsFrom?: string
}

/** A service chosen for a target, with its image analysed. */
export interface Selection {
  file: ComposeFile
  service: ComposeService
  target: BumpTarget
  analysis: Analysis
  inheritsFrom?: string
}

/** A selection with the new text of its slot and of its image value. */
export interface Edit extends Selection {
  newSlotText: string
  newRaw: string
}

/** Whether the edit writes anything: the slot already holding the target is left as it is. */
export function changes(edit: Edit): boolean {
  return edit.newSlotText !== edit.analysis.slotText
}

export function locationOf(file: ComposeFile, offset: number): ErrorLocation {
  return { file: file.path, line: file.lineOf(offset) }
}
