import { createHash } from 'node:crypto'
import { posix } from 'node:path'
import { parseCompose, type ComposeSource } from '../compose/compose-file'

/** One file to upload, named by its path relative to remote-dir. */
export interface StackFile {
  path: string
  content: Buffer
  /** sha256:<hex> */
  digest: string
  /** A compose file (passed with -f, in order); otherwise a file the stack mounts. */
  compose: boolean
}

export function digestOf(content: Buffer | string): string {
  return `sha256:${createHash('sha256').update(content).digest('hex')}`
}

export function stackFile(path: string, content: Buffer, compose: boolean): StackFile {
  return { path, content, digest: digestOf(content), compose }
}

/** compose.yaml, docker-compose.prod.yml, compose-override.yaml, ... */
export function isComposeFileName(path: string): boolean {
  return /^(docker-)?compose([.-][A-Za-z0-9_.-]*)?\.ya?ml$/.test(posix.basename(path))
}

/** `.env` and `.<service>.env`: secrets that live on the VM and are never uploaded or deleted. */
export function isSecretFileName(path: string): boolean {
  const name = posix.basename(path)
  return name === '.env' || /^\..+\.env$/.test(name)
}

/** The folder under remote-dir where the host keeps the lock, the record and the audit log. */
export const STATE_DIR = '.gitops-lite'

/** A path under remote-dir's `.gitops-lite/`: the host's own records, never uploaded over. */
export function isReservedPath(path: string): boolean {
  return path.split('/')[0] === STATE_DIR
}

/**
 * A path the remote scripts can pass around as one word: relative, no `..`, and only
 * letters, digits and `._-/` (no spaces, quotes or glob characters).
 */
export function isSafeRelativePath(path: string): boolean {
  return (
    /^[A-Za-z0-9._][A-Za-z0-9._/-]*$/.test(path) &&
    !path.endsWith('/') &&
    path.split('/').every((part) => part !== '' && part !== '.' && part !== '..')
  )
}

/**
 * The `env_file` entries of each service across the compose files, as written (relative to
 * the project directory, or absolute). The resolved config drops them (it merges their values
 * into `environment`), so they are read from the files themselves. Entries with variables are
 * skipped: only the host could resolve them.
 */
export function envFilesOf(sources: readonly ComposeSource[]): Map<string, string[]> {
  const result = new Map<string, string[]>()
  for (const source of sources) {
    const services = (parseCompose(source).data as { services?: Record<string, { env_file?: unknown }> } | null)?.services ?? {}
    for (const [name, service] of Object.entries(services)) {
      const raw = service?.env_file
      const entries = raw === undefined || raw === null ? [] : Array.isArray(raw) ? raw : [raw]
      const paths = entries
        .map((entry) => (typeof entry === 'string' ? entry : (entry as { path?: unknown } | null)?.path))
        .filter((path): path is string => typeof path === 'string' && !path.includes('$'))
      if (paths.length > 0) result.set(name, [...new Set([...(result.get(name) ?? []), ...paths])])
    }
  }
  return result
}
