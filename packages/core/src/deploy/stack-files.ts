import { createHash } from 'node:crypto'
import { posix } from 'node:path'
import { parseCompose, type ComposeSource } from '../compose/compose-file'
import { parseTemplate } from '../compose/interpolation'
import { UserError } from '../errors'
import { requirePullableImage } from '../image-ref'

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
    const services =
      (parseCompose(source).data as { services?: Record<string, { env_file?: unknown }> } | null)?.services ?? {}
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

/**
 * Refuses, before connecting, an image written in the compose files that docker could never
 * pull. Images with variables are checked in the plan, once the host has resolved them.
 */
export function checkComposeImages(sources: readonly ComposeSource[]): void {
  for (const source of sources) {
    for (const service of parseCompose(source).services) {
      const image = service.image?.value
      if (typeof image !== 'string' || image.includes('$')) continue
      requirePullableImage(service.name, image, `in ${source.path}`, { file: source.path, line: service.line })
    }
  }
}

/** The compose extension field, on a service, where gitops-lite reads its settings. */
export const EXTENSION_FIELD = 'x-gitops-lite'

/**
 * The `x-gitops-lite: { pre-deploy: ... }` command of each service across the compose files (a
 * later file's replaces an earlier's, as compose overrides a service's `command`). Written like
 * `command`: a list runs as is, a string runs through the image's `sh -c`. compose's resolved
 * config drops extension fields, so they are read from the files; `$$` is a literal `$`, and a
 * compose variable is refused, since only the host's .env could resolve it.
 */
export function preDeployCommandsOf(sources: readonly ComposeSource[]): Map<string, string[]> {
  const result = new Map<string, string[]>()
  for (const source of sources) {
    const file = parseCompose(source)
    const services = (file.data as { services?: Record<string, Record<string, unknown> | null> } | null)?.services ?? {}
    for (const [name, service] of Object.entries(services)) {
      const extension = service?.[EXTENSION_FIELD] as Record<string, unknown> | null | undefined
      if (extension === undefined || extension === null || !('pre-deploy' in extension)) continue
      const location = {
        file: source.path,
        line: file.services.find((s) => s.name === name)?.line ?? file.servicesLine
      }
      const where = `${source.path}: service '${name}' ${EXTENSION_FIELD}.pre-deploy`
      const raw = extension['pre-deploy']
      const words =
        typeof raw === 'string'
          ? [raw]
          : Array.isArray(raw) && raw.every((w) => typeof w === 'string')
            ? (raw as string[])
            : undefined
      if (words === undefined || words.length === 0 || words.every((w) => w.trim() === '')) {
        throw new UserError(
          `${where} must be a command: a string (run with sh -c) or a list of strings, got ${JSON.stringify(raw)}`,
          {
            fix: 'Write it like a compose command, e.g. pre-deploy: ["./manage.py", "migrate"] or pre-deploy: ./manage.py migrate && ./manage.py check.',
            location
          }
        )
      }
      const literal = words.map((word) => {
        const parts = parseTemplate(word)
        const variable = parts?.find((part) => part.kind === 'variable')
        if (parts === undefined || variable) {
          throw new UserError(
            `${where} ${JSON.stringify(word)} uses ${variable ? `the compose variable $${variable.name}` : 'a $ that is not a compose variable'}, which only the host's .env could resolve`,
            {
              fix: "Write $$NAME for a variable of the service's environment (a string command's sh expands it in the container), as in a compose command.",
              location
            }
          )
        }
        return parts.map((part) => (part.kind === 'text' ? part.text : '')).join('')
      })
      result.set(name, typeof raw === 'string' ? ['sh', '-c', literal[0]] : literal)
    }
  }
  return result
}
