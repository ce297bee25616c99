import { existsSync, realpathSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import {
  Inputs,
  UserError,
  defaultComposeFile,
  canonicalRepository,
  leavesWorkspace,
  resolveInsideWorkspace,
  isMutableTag,
  parseDeployPayload,
  parseImageReference,
  parseRepositoryName,
  parseRolledBackImages,
  registryOf,
  requireDigest,
  requireRepository,
  requireServiceName,
  requireTag,
  type BumpTarget,
  type GitIdentity,
  type PayloadSource,
  type RepositoryName,
  type RolledBackImage,
  type ServiceUpdate
} from '@gitops-lite/core'

/** Everything the action was asked to do, validated before anything is changed. */
export interface Settings {
  workspace: string
  /** Absolute; inside the workspace. */
  workingDirectory: string
  /**
   * 'files' with {environment} filled in, relative to workingDirectory, in compose's order; empty:
   * compose's default file. Checked to stay inside the workspace; found by locateFiles().
   */
  files: string[]
  /** 'env-file' with {environment} filled in, relative to workingDirectory; empty: .env beside the first compose file. */
  envFile: string
  /** Empty with 'promotion': the targets are read from its file once the branch is checked out. */
  targets: BumpTarget[]
  /**
   * Set when 'restore' is: the images a rolled-back deploy brought back, written back instead of
   * 'targets' (which is then empty). May be empty: nothing rolled back, nothing to do.
   */
  restore?: RolledBackImage[]
  /** 'from-file': copy images from another compose file instead of naming tags. */
  promotion?: PromotionSettings
  environment?: string
  source?: Partial<PayloadSource>
  commit: boolean
  push: boolean
  /** Empty: the checked-out branch. */
  branch: string
  commitMessage: string
  author: GitIdentity
  maxAttempts: number
  pullRequest: boolean
  /** The repository to open the pull request in (GITHUB_REPOSITORY); set in pull-request mode. */
  repository?: RepositoryName
  token: string
  dryRun: boolean
  allowLatest: boolean
  /** Registry hosts, Docker Hub as docker.io; empty allows any. */
  allowedRegistries: string[]
}

export interface PromotionSettings {
  /** 'from-file', relative to workingDirectory; checked to stay inside the workspace. */
  from: string
  /** 'service': the services to promote; empty promotes every service with an image there. */
  services: string[]
}

/** What the runner tells the action besides its inputs. */
export interface RunContext {
  workspace: string
  eventName: string
  eventPayload: unknown
  /** GITHUB_REPOSITORY: the infra repository the workflow runs in. */
  repository?: string
}

export function readSettings(inputs: Inputs, context: RunContext): Settings {
  const allowLatest = inputs.boolean('allow-latest')
  const allowedRegistries = inputs.list('allowed-registries').map(requireRegistry)
  const restore = readRestore(inputs)
  const promotion = restore ? undefined : readPromotion(inputs)
  const request: Request = restore || promotion ? { targets: [], origin: 'inputs' } : readRequest(inputs, context)
  for (const target of request.targets) {
    const fromPayload = request.origin === 'payload'
    const where = target.service === undefined ? '' : ` for service '${target.service}'`
    if (!allowLatest && isMutableTag(target.tag)) {
      const origin = fromPayload ? `the repository_dispatch event's client_payload${where}` : "input 'tag'"
      throw new UserError(
        `The tag ${JSON.stringify(target.tag)} is mutable: it names whatever was pushed last, so committing it pins nothing (the tag came from ${origin})`,
        {
          fix: fromPayload
            ? "Have the application's workflow send an immutable tag such as v1.2.3 or the commit sha (dispatch-to-infra's 'tag'), or set 'allow-latest: true' here."
            : "Deploy an immutable tag such as v1.2.3 or the commit sha, or set 'allow-latest: true'."
        }
      )
    }
    if (target.image !== undefined) {
      checkRegistry(
        target.image,
        allowedRegistries,
        undefined,
        fromPayload ? `from the repository_dispatch event's client_payload${where}` : "from input 'image'"
      )
    }
  }

  const workspace = realpathSync(context.workspace)
  const place = (name: string, value: string): string => placeEnvironment(name, value, request.environment)
  const workingDirectory = resolveInsideWorkspace(
    place('working-directory', inputs.string('working-directory') || '.'),
    { workspace, base: workspace, baseName: 'the repository root', input: 'working-directory' }
  )
  const files = inputs.lines('files').map((file) => place('files', file))
  const envFile = place('env-file', inputs.string('env-file'))
  // Refused now, before anything changes; found, and checked again, on the branch to edit (locateFiles).
  resolvePaths({ workspace, workingDirectory, files, envFile })
  if (promotion)
    resolveInsideWorkspace(promotion.from, {
      workspace,
      base: workingDirectory,
      baseName: 'working-directory',
      input: 'from-file'
    })

  const pullRequest = inputs.boolean('pull-request')
  const branch = inputs.string('branch')
  if (branch !== '' && !isValidBranchName(branch)) {
    throw new UserError(`Input 'branch' ${JSON.stringify(branch)} is not a valid branch name`, {
      fix: 'Give a branch name such as main or deploy/staging (no spaces, no ~ ^ : ? * [ \\ and no "..").'
    })
  }
  const commit = inputs.boolean('commit', true)
  const push = inputs.boolean('push', true)
  if (pullRequest && (!commit || !push)) {
    const off = !commit ? 'commit' : 'push'
    throw new UserError(
      `Input 'pull-request' is true but '${off}' is false: a pull request needs the change committed and its branch pushed`,
      {
        fix: `Remove 'pull-request: true' to ${off === 'commit' ? 'only write the files' : 'commit without pushing'}, or remove '${off}: false' to open the pull request.`
      }
    )
  }
  const token = inputs.token('token')
  if (pullRequest && token === '') {
    throw new UserError("Input 'token' is empty, but 'pull-request: true' needs it to open the pull request", {
      fix: "Leave 'token' at its default (github.token) with 'permissions: pull-requests: write', or pass a token that may open pull requests."
    })
  }
  const repository = pullRequest ? readRepository(context.repository) : undefined
  const commitMessage =
    inputs.string('commit-message') || (restore ? RESTORE_MESSAGE : 'chore(deploy): update {services} to {tag}')
  return {
    workspace,
    workingDirectory,
    files,
    envFile,
    targets: request.targets,
    ...(restore && { restore }),
    promotion,
    environment: request.environment,
    source: request.source,
    commit,
    push,
    branch,
    commitMessage,
    author: { name: readAuthorName(inputs), email: readAuthorEmail(inputs) },
    maxAttempts: inputs.integer('max-attempts', { min: 1, max: 50, fallback: 5 }),
    pullRequest,
    repository,
    token,
    dryRun: inputs.boolean('dry-run'),
    allowLatest,
    allowedRegistries
  }
}

/** The default commit message of a restore; {failed} and {host} say which release failed where. */
export const RESTORE_MESSAGE = 'revert(deploy): {services} back to {tag}, {failed} failed on {host}'

/**
 * 'restore': ssh-surgical-deploy's rolled-back-images. It replaces the other ways of naming
 * images, so none of them may be set, and the event's client_payload is not read.
 */
function readRestore(inputs: Inputs): RolledBackImage[] | undefined {
  const text = inputs.string('restore')
  if (text === '') return undefined
  const others = ['service', 'image', 'tag', 'digest', 'from-file'].filter((name) => inputs.string(name) !== '')
  if (others.length > 0) {
    throw new UserError(
      `Input 'restore' is set, and so is ${others.map((n) => `'${n}'`).join(', ')}: a step either writes back rolled-back images or sets new ones`,
      {
        fix: `Remove ${others.map((n) => `'${n}'`).join(', ')} from this step, or use a separate step for each.`
      }
    )
  }
  return parseRolledBackImages(text, 'restore')
}

/**
 * 'from-file' and the services to copy from it. The images, tags and digests come from that
 * file, so inputs that name them are refused rather than silently ignored.
 */
function readPromotion(inputs: Inputs): PromotionSettings | undefined {
  const from = inputs.string('from-file')
  if (from === '') return undefined
  const given = (['image', 'tag', 'digest'] as const).filter((name) => inputs.string(name) !== '')
  if (given.length > 0) {
    throw new UserError(
      `Input 'from-file' is set together with ${given.map((name) => `'${name}'`).join(', ')}: a promotion copies each service's repository, tag and digest from ${from}`,
      {
        fix: `Remove ${given.join(', ')} to promote what ${from} runs, or remove 'from-file' to set the image by hand.`
      }
    )
  }
  const services = inputs.list('service').map((name) => requireServiceName("Input 'service'", name))
  return { from, services: [...new Set(services)] }
}

interface Request {
  targets: BumpTarget[]
  /** Where the targets came from, for messages: the step's inputs or the event's client_payload. */
  origin: 'inputs' | 'payload'
  environment?: string
  source?: Partial<PayloadSource>
}

/**
 * The services and tags: from the inputs, or, on repository_dispatch with 'service' and 'tag'
 * empty, from the event's client_payload.
 */
function readRequest(inputs: Inputs, context: RunContext): Request {
  const services = inputs.list('service')
  const image = inputs.string('image')
  const tag = inputs.string('tag')
  const digest = inputs.string('digest')
  const dispatched = context.eventName === 'repository_dispatch'
  if (services.length === 0 && tag === '') {
    if (dispatched) return readPayload(context.eventPayload, image, digest)
    if (image === '' && digest === '') {
      throw new UserError("Inputs 'service' (or 'image') and 'tag' are empty", {
        fix: "Set 'service' and 'tag' in the step's 'with:' block, 'from-file' to promote another environment's images, or run on repository_dispatch events sent by dispatch-to-infra."
      })
    }
  }
  if (services.length === 0 && image === '') {
    throw new UserError("Neither 'service' nor 'image' says which services to update", {
      fix: "Set 'service' to the compose service name(s), or 'image' to the repository every matching service runs."
    })
  }
  if (dispatched && tag === '') {
    throw new UserError(
      "Input 'service' is set but 'tag' is empty: on repository_dispatch, the event's client_payload is read only when both are empty",
      {
        fix: "Leave 'service' empty to take the services, images and tags from client_payload, or set 'tag' too."
      }
    )
  }
  const checkedTag = requireTag("Input 'tag'", inputs.required('tag'))
  const checkedDigest = digest === '' ? undefined : requireDigest("Input 'digest'", digest)
  if (image !== '') requireRepository("Input 'image'", image)
  const common = { tag: checkedTag, ...(checkedDigest && { digest: checkedDigest }), ...(image && { image }) }
  if (services.length === 0) return { targets: [common], origin: 'inputs' }
  return {
    origin: 'inputs',
    targets: [...new Set(services)].map((service) => ({
      service: requireServiceName("Input 'service'", service),
      ...common
    }))
  }
}

/** The targets in the event's client_payload; an 'image' input is a guard: the payload may only update that repository. */
function readPayload(eventPayload: unknown, image: string, digest: string): Request {
  if (digest !== '') {
    throw new UserError(
      "Input 'digest' is set, but 'service' and 'tag' are empty, so the images come from the repository_dispatch event's client_payload, which carries its own digest",
      {
        fix: "Remove 'digest' to use the payload's, or set 'service' and 'tag' as well to name the image by hand."
      }
    )
  }
  const payload = (eventPayload as { client_payload?: unknown } | undefined)?.client_payload
  if (payload === undefined || payload === null) {
    throw new UserError(
      "The repository_dispatch event has no client_payload, and inputs 'service' and 'tag' are empty",
      {
        fix: "Send the event with dispatch-to-infra (its client_payload names the services, image and tag), or set 'service' and 'tag' in the step's 'with:' block."
      }
    )
  }
  const received = parseDeployPayload(payload)
  if (image !== '') {
    const allowed = canonicalRepository(requireRepository("Input 'image'", image))
    const other = received.updates.find((update) => canonicalRepository(parseImageReference(update.image)!) !== allowed)
    if (other) {
      throw new UserError(
        `The repository_dispatch event's client_payload updates service '${other.service}' to ${other.image}, but input 'image' limits this step to ${image}`,
        {
          fix: `Dispatch only ${image} to this workflow, or clear 'image' to accept every image the payload names (or list the accepted registries in 'allowed-registries').`
        }
      )
    }
  }
  return { targets: received.updates, origin: 'payload', environment: received.environment, source: received.source }
}

function requireRegistry(value: string): string {
  const host = parseImageReference(`${value}/x`)?.registry
  if (host !== value) {
    // ghcr.io/acme reads as a host and a path: the registry is checked, not the owner.
    const onlyHost =
      host === undefined
        ? ''
        : `: it is the host ${host} followed by a path, and a registry is allowed as a whole, not by owner or path`
    throw new UserError(`Input 'allowed-registries' entry ${JSON.stringify(value)} is not a registry host${onlyHost}`, {
      fix: `List registry hosts such as ${host ?? 'ghcr.io'}, registry.example.com:5000 or docker.io (Docker Hub), without a path.`
    })
  }
  return value === 'index.docker.io' ? 'docker.io' : value
}

/**
 * Refuses a planned image from a registry not in `allowed`, or whose registry cannot be known
 * because an unset variable is part of it (empty `allowed` allows any).
 */
export function checkUpdateRegistry(update: ServiceUpdate, allowed: readonly string[], envFile: string): void {
  if (allowed.length === 0) return
  const location = { file: update.file, line: update.line }
  if (update.reference === undefined) {
    const variables = update.unset.map((name) => `\${${name}}`).join(', ')
    throw new UserError(
      `The registry of service '${update.service}' (image ${update.image}) cannot be resolved, so 'allowed-registries' cannot be checked: ${envFile} does not set ${variables}`,
      { fix: `Set ${update.unset.join(', ')} in ${envFile}, or write the registry host in the image itself.`, location }
    )
  }
  checkRegistry(update.image, allowed, location)
}

/** Refuses an image from a registry not in `allowed` (empty allows any). */
export function checkRegistry(
  image: string,
  allowed: readonly string[],
  location?: { file: string; line: number },
  origin?: string
): void {
  if (allowed.length === 0) return
  const ref = parseImageReference(image)
  const registry = ref ? registryOf(ref) : image
  if (!allowed.includes(registry)) {
    const named = origin === undefined ? image : `${image} (${origin})`
    throw new UserError(
      `The image ${named} is from ${registry}, which 'allowed-registries' does not list (${allowed.join(', ')})`,
      {
        fix: `Use an image from ${allowed.join(' or ')}, or add ${registry} to 'allowed-registries'.`,
        location
      }
    )
  }
}

function placeEnvironment(name: string, value: string, environment: string | undefined): string {
  if (!value.includes('{environment}')) return value
  if (environment === undefined) {
    throw new UserError(`Input '${name}' uses {environment}, but no environment was given`, {
      fix: "Send 'environment' in the dispatch payload (dispatch-to-infra's 'environment' input), or write the path without {environment}."
    })
  }
  return value.replaceAll('{environment}', environment)
}

type PathSettings = Pick<Settings, 'workspace' | 'workingDirectory' | 'files' | 'envFile'>

/** The compose and env files to read: absolute, inside the workspace. */
export interface FileSet {
  files: string[]
  /** May not exist. */
  envFile: string
}

/** Resolves 'files' and 'env-file' against working-directory, refusing paths that leave the workspace. */
function resolvePaths(settings: PathSettings): { files: string[]; envFile?: string } {
  const { workspace, workingDirectory } = settings
  const inside = (input: string, value: string): string =>
    resolveInsideWorkspace(value, { workspace, base: workingDirectory, baseName: 'working-directory', input })
  return {
    files: settings.files.map((file) => inside('files', file)),
    envFile: settings.envFile === '' ? undefined : inside('env-file', settings.envFile)
  }
}

/**
 * The files on the branch checked out now: those given, which must exist, or compose's default.
 * The paths are resolved again because symbolic links may differ from the branch readSettings saw.
 */
export function locateFiles(settings: PathSettings): FileSet {
  const { workspace, workingDirectory } = settings
  const where = relative(workspace, workingDirectory) || '.'
  const resolved = resolvePaths(settings)
  resolved.files.forEach((path, i) => {
    if (!existsSync(path)) {
      throw new UserError(`Compose file ${JSON.stringify(settings.files[i])} does not exist in ${where}`, {
        fix: "Check 'files' and 'working-directory' (paths are relative to working-directory), 'branch', and that the repository is checked out."
      })
    }
  })
  const files =
    resolved.files.length > 0
      ? resolved.files
      : [
          join(
            workingDirectory,
            defaultComposeFile(
              workingDirectory,
              where,
              "Set 'files' to the compose file(s), or 'working-directory' to the folder that holds compose.yaml."
            )
          )
        ]
  const envFile = resolved.envFile ?? join(dirname(files[0]), '.env')
  // The defaults nobody typed are checked too: a symbolic link must not lead the edit out of the workspace.
  for (const [path, input] of [
    [files[0], 'files'],
    [envFile, 'env-file']
  ] as const) {
    if (leavesWorkspace(workspace, path)) {
      throw new UserError(
        `${relative(workspace, path)} is a symbolic link that leads outside the workspace (to ${realpathSync(path)})`,
        {
          fix: `Replace the link with the file itself, or set '${input}' to a file inside the repository.`
        }
      )
    }
  }
  return { files, envFile }
}

/** git check-ref-format's rules for a branch name. */
export function isValidBranchName(name: string): boolean {
  return (
    /^[^\0-\x20\x7f~^:?*[\\]+$/.test(name) &&
    !/(^[-/.])|(\/\.)|(\.\.)|(\/\/)|(@\{)|(\.lock$)|(\.lock\/)|([/.]$)/.test(name) &&
    name !== '@'
  )
}

/** The repository the pull request is opened in: the one the workflow runs in. */
function readRepository(value: string | undefined): RepositoryName {
  const repository = parseRepositoryName(value ?? '')
  if (!repository) {
    throw new UserError(
      `GITHUB_REPOSITORY ${JSON.stringify(value ?? '')} is not a GitHub repository (owner/name), but 'pull-request: true' needs it to open the pull request`,
      {
        fix: "Run the action in a GitHub Actions workflow of the infra repository (the runner sets GITHUB_REPOSITORY), or set GITHUB_REPOSITORY=owner/name in the step's env."
      }
    )
  }
  return repository
}

function readAuthorName(inputs: Inputs): string {
  const name = inputs.required('author-name')
  if (/[<>\r\n]/.test(name)) {
    throw new UserError(`Input 'author-name' ${JSON.stringify(name)} contains < > or a line break`, {
      fix: 'Give a plain name, e.g. github-actions[bot].'
    })
  }
  return name
}

function readAuthorEmail(inputs: Inputs): string {
  const email = inputs.required('author-email')
  if (!/^[^\s<>@]+@[^\s<>@]+$/.test(email)) {
    throw new UserError(`Input 'author-email' ${JSON.stringify(email)} is not an email address`, {
      fix: 'Give an address such as 41898282+github-actions[bot]@users.noreply.github.com.'
    })
  }
  return email
}
