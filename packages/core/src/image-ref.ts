import { UserError, type ErrorLocation } from './errors'

/**
 * Image references per the OCI distribution reference grammar
 * (github.com/distribution/reference, reference.go):
 *   reference := name [ ":" tag ] [ "@" digest ]
 *   name      := [ domain "/" ] path-component { "/" path-component }
 */
export interface ImageReference {
  /** Registry host (with port), when the reference names one; Docker Hub otherwise. */
  registry?: string
  /** Repository path inside the registry, e.g. `acme/api`. */
  path: string
  tag?: string
  digest?: string
}

const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])'
const domainName = `${domainComponent}(?:\\.${domainComponent})*`
const ipv6 = '\\[(?:[a-fA-F0-9:]+)\\]'
const domain = `(?:${domainName}|${ipv6})(?::[0-9]+)?`
const pathComponent = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*'
const path = `${pathComponent}(?:/${pathComponent})*`

const domainPattern = new RegExp(`^${domain}$`)
const pathPattern = new RegExp(`^${path}$`)
const tagPattern = /^[\w][\w.-]{0,127}$/
const digestPattern = /^sha256:[a-f0-9]{64}$/
const nameMaxLength = 255

export const DOCKER_HUB = 'docker.io'

/** Tags that name a moving target, so a commit pinning them does not pin anything. */
export const MUTABLE_TAGS: readonly string[] = [
  'latest',
  'stable',
  'edge',
  'nightly',
  'main',
  'master',
  'dev',
  'develop'
]

export function isValidTag(tag: string): boolean {
  return tagPattern.test(tag)
}

export function isValidDigest(digest: string): boolean {
  return digestPattern.test(digest)
}

export function isMutableTag(tag: string): boolean {
  return MUTABLE_TAGS.includes(tag.toLowerCase())
}

/** Splits `name` into registry and path the way Docker does: the first component is a registry when it has a `.` or `:`, or is `localhost`. */
function splitName(name: string): { registry?: string; path: string } | undefined {
  const slash = name.indexOf('/')
  if (slash > 0) {
    const first = name.slice(0, slash)
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase()) {
      return domainPattern.test(first) ? { registry: first, path: name.slice(slash + 1) } : undefined
    }
  }
  return { path: name }
}

/** Parses an image reference; returns undefined when it does not follow the grammar. */
export function parseImageReference(text: string): ImageReference | undefined {
  let rest = text
  let digest: string | undefined
  const at = rest.indexOf('@')
  if (at >= 0) {
    digest = rest.slice(at + 1)
    rest = rest.slice(0, at)
    if (!isValidDigest(digest)) return undefined
  }
  let tag: string | undefined
  const lastColon = rest.lastIndexOf(':')
  if (lastColon > rest.lastIndexOf('/')) {
    tag = rest.slice(lastColon + 1)
    rest = rest.slice(0, lastColon)
    if (!isValidTag(tag)) return undefined
  }
  if (rest.length === 0 || rest.length > nameMaxLength) return undefined
  const name = splitName(rest)
  if (!name || !pathPattern.test(name.path)) return undefined
  return { ...name, tag, digest }
}

export function formatImageReference(ref: ImageReference): string {
  const name = repositoryOf(ref)
  return `${name}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`
}

/** `registry/path` as written (no tag, no digest). */
export function repositoryOf(ref: ImageReference): string {
  return ref.registry ? `${ref.registry}/${ref.path}` : ref.path
}

/**
 * The repository in Docker's canonical form, for comparing two spellings of the same
 * image: `nginx` and `docker.io/library/nginx` are the same repository.
 */
export function canonicalRepository(ref: ImageReference): string {
  const registry = ref.registry === undefined || ref.registry === 'index.docker.io' ? DOCKER_HUB : ref.registry
  const path = registry === DOCKER_HUB && !ref.path.includes('/') ? `library/${ref.path}` : ref.path
  return `${registry}/${path}`
}

export function registryOf(ref: ImageReference): string {
  return ref.registry === undefined || ref.registry === 'index.docker.io' ? DOCKER_HUB : ref.registry
}

/** Validates a repository name (no tag or digest), throwing a UserError that names the field. */
export function requireRepository(field: string, value: string): ImageReference {
  const ref = parseImageReference(value)
  if (!ref || ref.tag !== undefined || ref.digest !== undefined) {
    throw new UserError(`${field} ${JSON.stringify(value)} is not an image repository`, {
      fix: "Give the repository without tag or digest, in lower case, e.g. 'ghcr.io/acme/api' or 'acme/api'."
    })
  }
  return ref
}

export function requireTag(field: string, value: string): string {
  if (!isValidTag(value)) {
    throw new UserError(`${field} ${JSON.stringify(value)} is not a valid image tag`, {
      fix: 'A tag is 1 to 128 characters of letters, digits, _ . and -, not starting with . or -, e.g. v1.2.3.'
    })
  }
  return value
}

export function requireDigest(field: string, value: string): string {
  if (!isValidDigest(value)) {
    throw new UserError(`${field} ${JSON.stringify(value)} is not a valid image digest`, {
      fix: "Give it as 'sha256:' followed by 64 lower-case hex digits, as 'docker buildx' or 'docker inspect' prints it."
    })
  }
  return value
}

/** Why docker could never pull `image`, in a few words; undefined when it is a valid reference. */
export function imageReferenceProblem(image: string): string | undefined {
  if (parseImageReference(image)) return undefined
  if (image.trim() === '') return 'it is empty'
  if (/\s/.test(image)) return 'it contains white space'
  const at = image.indexOf('@')
  if (at >= 0 && !isValidDigest(image.slice(at + 1))) return "its digest is not 'sha256:' and 64 lower-case hex digits"
  const name = at >= 0 ? image.slice(0, at) : image
  if (name.endsWith(':')) return 'its tag is empty'
  const colon = name.lastIndexOf(':')
  if (colon > name.lastIndexOf('/') && !isValidTag(name.slice(colon + 1)))
    return 'its tag is not 1 to 128 letters, digits, _ . and -'
  if (/[A-Z]/.test(name.slice(name.indexOf('/') + 1))) return 'its repository path has upper-case letters'
  return 'it is not registry/path:tag'
}

/** Refuses an image reference docker could never pull, naming the service and the value. */
export function requirePullableImage(service: string, image: string, where: string, location?: ErrorLocation): void {
  const problem = imageReferenceProblem(image)
  if (problem === undefined) return
  throw new UserError(
    `Service '${service}' has the image ${JSON.stringify(image)} ${where}, which docker cannot pull: ${problem}`,
    {
      fix: "Write it as [registry/]path[:tag][@sha256:<64 hex>], the path in lower case, e.g. ghcr.io/acme/api:v1.2.3; when it comes from a variable, check the variable's value.",
      location
    }
  )
}
