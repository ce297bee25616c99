import { existsSync, realpathSync } from 'node:fs'
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path'
import { UserError } from './errors'

// Reading the checked-out workspace: the file-system edge the actions share.

/** The names compose looks for, in its order, when no file is given. */
const COMPOSE_FILE_NAMES = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'] as const

/**
 * The name of the compose file compose itself would pick in `dir`; refuses when there is none.
 * `where` names the folder for the message, `fix` says which inputs to set instead.
 */
export function defaultComposeFile(dir: string, where: string, fix: string): string {
  const found = COMPOSE_FILE_NAMES.find((name) => existsSync(join(dir, name)))
  if (!found) throw new UserError(`No compose file in ${where} (looked for ${COMPOSE_FILE_NAMES.join(', ')})`, { fix })
  return found
}

export interface WorkspacePath {
  workspace: string
  /** The folder relative paths are read from, and how the error names it. */
  base: string
  baseName: string
  /** The input the value came from, for the error. */
  input: string
}

/** Resolves `value` against the base folder and refuses any path that leaves the workspace, symbolic links included. */
export function resolveInsideWorkspace(value: string, where: WorkspacePath): string {
  const refuse = (): UserError =>
    new UserError(`Input '${where.input}' ${JSON.stringify(value)} is not a path inside the workspace`, {
      fix: `Give '${where.input}' relative to ${where.baseName}, without '..' that leaves the repository, e.g. deploy/compose.yaml.`
    })
  if (/[\0\r\n]/.test(value) || isAbsolute(value)) throw refuse()
  const path = resolve(where.base, value)
  if (isOutside(where.workspace, path) || leavesWorkspace(where.workspace, path)) throw refuse()
  return path
}

/** True when `path`, its symbolic links resolved, lies outside `workspace`. */
export function leavesWorkspace(workspace: string, path: string): boolean {
  return isOutside(workspace, realPath(path))
}

function isOutside(workspace: string, path: string): boolean {
  const rel = relative(workspace, path)
  return rel.startsWith('..') || isAbsolute(rel)
}

/** The path with symbolic links resolved, for the part of it that exists. */
function realPath(path: string): string {
  if (existsSync(path)) return realpathSync(path)
  const parent = dirname(path)
  return parent === path ? path : join(realPath(parent), basename(path))
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * The text of a file that must be UTF-8 (compose and env files). Anything else is refused, naming
 * the first bad line: decoding it leniently would turn each stray byte into U+FFFD, and writing
 * the file back would change bytes the edit never meant to touch.
 */
export function decodeUtf8(bytes: Uint8Array, file: string): string {
  try {
    return strictUtf8.decode(bytes)
  } catch {
    let start = 0
    let line = 1
    for (;;) {
      const end = bytes.indexOf(0x0a, start)
      const lineBytes = bytes.subarray(start, end < 0 ? bytes.length : end)
      try {
        strictUtf8.decode(lineBytes)
      } catch {
        break
      }
      if (end < 0) break
      start = end + 1
      line++
    }
    throw new UserError(
      `${file} is not UTF-8 text (line ${line} has a byte that is not UTF-8, e.g. Latin-1 'é' written as one byte)`,
      {
        fix: 'Convert the file to UTF-8 (iconv -f latin1 -t utf-8), commit it, and rerun; nothing was changed.',
        location: { file, line }
      }
    )
  }
}
