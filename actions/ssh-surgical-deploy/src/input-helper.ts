import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs'
import { dirname, relative, sep } from 'node:path'
import {
  Inputs,
  UserError,
  checkComposeImages,
  defaultComposeFile,
  checkPrivateKey,
  decodeUtf8,
  envFilesOf,
  isComposeFileName,
  isReservedPath,
  isSafeRelativePath,
  isSecretFileName,
  isValidUsername,
  parseFingerprints,
  readDeploymentRequest,
  preDeployCommandsOf,
  parseHostSpec,
  parseKnownHosts,
  requireServiceName,
  resolveInsideWorkspace,
  stackFile,
  type ComposeCommand,
  type DeploymentRequest,
  type HostKeyPolicy,
  type RegistryLogin,
  type RunnerContext,
  type SshEndpoint,
  type SshTarget,
  type StackFile,
  type StackTarget
} from '@gitops-lite/core'

/** Everything the action was asked to do, validated before any connection is made. */
export interface Settings {
  hosts: SshTarget[]
  privateKey: string
  passphrase: string
  hostKeys: HostKeyPolicy
  proxy?: SshEndpoint
  stack: StackTarget
  /** Files to upload, paths relative to remote-dir; compose files first in their order. */
  files: StackFile[]
  /** The first compose file's folder, relative to the workspace ('' for the root): where the files' paths start. */
  filesFolder: string
  envFiles: Map<string, string[]>
  /** Pre-deploy commands per service, from the compose files. */
  preDeploy: Map<string, string[]>
  /** Registries the pull logs in to, through a Docker config that lives only for the deploy. */
  registries: RegistryLogin[]
  mode: 'surgical' | 'full' | 'remove' | 'list'
  /** mode: remove: the project's named volumes go too. */
  removeVolumes: boolean
  /** compose: each host runs the stack with Compose; swarm: the first reachable manager deploys it to its swarm. */
  orchestrator: 'compose' | 'swarm'
  /** Swarm: remove live services gone from the files (else reported and kept). */
  prune: boolean
  /** Undefined: computed. */
  services?: string[]
  pull: boolean
  rollback: boolean
  dryRun: boolean
  parallel: boolean
  connectTimeoutMs: number
  commandTimeoutMs: number
  lockTimeoutMs: number
  healthTimeoutMs: number
  /** Set when the deploy is reported to GitHub's Deployments API ('environment' given). */
  deployment?: DeploymentReport
}

const minute = 60_000
const hour = 60 * minute

export interface DeploymentReport extends DeploymentRequest {
  apiUrl: string
}

export function readSettings(
  inputs: Inputs,
  runner: Pick<RunnerContext, 'workspace' | 'repository' | 'apiUrl'>
): Settings {
  const port = inputs.integer('port', { min: 1, max: 65535, fallback: 22 })
  const username = readUsername(inputs, 'username')
  const hosts = inputs
    .requiredLines(
      'host',
      "Set 'host' to the VM's address, e.g. vm1.example.com or deploy@vm1.example.com:2222 (one per line for several VMs)."
    )
    .map((line) => parseHostSpec(line, { port, username }))
  const insecure = inputs.boolean('insecure-skip-host-key-check')
  const hostKeys: HostKeyPolicy = {
    knownHosts: parseKnownHosts(inputs.string('known-hosts')),
    fingerprints: parseFingerprints(inputs.list('fingerprint')),
    insecure
  }
  if (!insecure && hostKeys.knownHosts.length === 0 && hostKeys.fingerprints.length === 0) {
    throw new UserError(
      "Neither 'known-hosts' nor 'fingerprint' says which host key to trust, so the VM cannot be told from an impostor",
      {
        fix: "Set 'known-hosts' to the output of 'ssh-keyscan -p PORT HOST' (checked on the VM), or 'fingerprint' to 'SHA256:...'. 'insecure-skip-host-key-check: true' skips the check, which is unsafe."
      }
    )
  }
  const privateKey = inputs.requiredSecret('key', "Set 'key' from a secret: key: ${{ secrets.DEPLOY_SSH_KEY }}.")
  const passphrase = inputs.secret('passphrase')
  checkPrivateKey('key', privateKey, passphrase, 'passphrase')

  const mode = inputs.oneOf('mode', ['surgical', 'full', 'remove', 'list'] as const, 'surgical')
  const removeVolumes = readRemoveVolumes(inputs, mode)
  // A removal or a listing uploads nothing: it reads what the host's records say was deployed.
  const wholeStacks = mode === 'remove' || mode === 'list'
  const { files, folder: filesFolder } = wholeStacks ? { files: [], folder: '' } : readFiles(inputs, runner.workspace)
  const composeFiles = files.filter((f) => f.compose)
  const composeSources = composeFiles.map((f) => ({ path: f.path, text: decodeUtf8(f.content, f.path) }))
  checkComposeImages(composeSources)
  const services = inputs.list('services').map((name) => requireServiceName("Input 'services'", name))
  if (wholeStacks && services.length > 0) {
    throw new UserError(`Input 'services' is set with 'mode: ${mode}', which works on whole stacks`, {
      fix: "Remove 'services'. To remove some services of a stack, remove them from its compose file and deploy it (mode: surgical removes them)."
    })
  }
  const orchestrator = inputs.oneOf('orchestrator', ['compose', 'swarm'] as const, 'compose')
  if (orchestrator === 'swarm' && wholeStacks) {
    throw new UserError(
      `Input 'mode' is '${mode}', which works on Compose stacks only, and 'orchestrator' is 'swarm'`,
      {
        fix: "On a swarm, list stacks with 'docker stack ls' and remove one with 'docker stack rm NAME' on a manager; or use mode surgical or full."
      }
    )
  }
  const projectName = readProjectName(inputs)
  if (mode === 'remove' && projectName === '') {
    throw new UserError(
      "Input 'project-name' is empty, but 'mode: remove' needs it: a removal takes down only the project it names",
      {
        fix: "Set 'project-name' to the project remote-dir holds, e.g. pr-42 for a preview deployed with project-name: pr-42."
      }
    )
  }
  const pull = inputs.boolean('pull', true)
  const deployment = readDeploymentReport(inputs, runner)
  if (wholeStacks && deployment) {
    throw new UserError(`Input 'environment' is set with 'mode: ${mode}', which deploys nothing to report`, {
      fix: "Remove 'environment' (and 'environment-url') from this step."
    })
  }
  return {
    hosts,
    privateKey,
    passphrase,
    hostKeys,
    proxy: readProxy(inputs, { privateKey, passphrase, hostKeys }),
    stack: {
      remoteDir: readRemoteDir(inputs),
      composeFiles: composeFiles.map((f) => f.path),
      projectName,
      composeCommand: inputs.oneOf<ComposeCommand>(
        'compose-command',
        ['auto', 'docker compose', 'docker-compose'],
        'auto'
      )
    },
    files,
    filesFolder,
    envFiles: envFilesOf(composeSources),
    preDeploy: preDeployCommandsOf(composeSources),
    registries: readRegistries(inputs, pull),
    mode,
    orchestrator,
    prune: inputs.boolean('prune'),
    removeVolumes,
    services: services.length > 0 ? [...new Set(services)] : undefined,
    pull,
    rollback: inputs.boolean('rollback', true),
    dryRun: inputs.boolean('dry-run'),
    parallel: inputs.boolean('parallel'),
    connectTimeoutMs: inputs.duration('connect-timeout', '30s', { min: 1000, max: 10 * minute }),
    commandTimeoutMs: inputs.duration('command-timeout', '10m', { min: 10_000, max: 6 * hour }),
    lockTimeoutMs: inputs.duration('lock-timeout', '10m', { min: 1000, max: 6 * hour }),
    healthTimeoutMs: inputs.duration('health-timeout', '120s', { min: 1000, max: 6 * hour }),
    deployment
  }
}

/**
 * The registry logins: 'registry', 'registry-username' and 'registry-password' give one
 * registry per line, the n-th lines going together (one line each for the usual one registry).
 */
function readRegistries(inputs: Inputs, pull: boolean): RegistryLogin[] {
  const registries = inputs.lines('registry')
  const usernames = inputs.lines('registry-username')
  const passwords = inputs
    .secret('registry-password')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '')
  if (registries.length === 0 && usernames.length === 0 && passwords.length === 0) return []
  if (usernames.length !== registries.length || passwords.length !== registries.length) {
    throw new UserError(
      `'registry' names ${registries.length} registr${registries.length === 1 ? 'y' : 'ies'} but 'registry-username' has ${usernames.length} line(s) and 'registry-password' ${passwords.length}`,
      {
        fix: 'Give one line per registry in each of the three inputs, in the same order (the password from a secret: registry-password: ${{ secrets.REGISTRY_PASSWORD }}).'
      }
    )
  }
  if (!pull) {
    throw new UserError("'registry' is set but 'pull' is false: the registry logins are used only by the pull", {
      fix: "Set 'pull: true' (the default), or remove the registry inputs."
    })
  }
  return registries.map((registry, index) => {
    if (!/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?$/.test(registry)) {
      throw new UserError(`Input 'registry' line ${JSON.stringify(registry)} is not a registry host`, {
        fix: 'Give the host (and port) as in the image names, without https:// or a path, e.g. ghcr.io or registry.example.com:5000.'
      })
    }
    const duplicate = registries.indexOf(registry) !== index
    if (duplicate)
      throw new UserError(`Input 'registry' lists ${JSON.stringify(registry)} twice`, {
        fix: 'Give each registry once.'
      })
    return { registry, username: usernames[index], password: passwords[index] }
  })
}

/** The environment to report to GitHub's Deployments API, when 'environment' is set. */
function readDeploymentReport(
  inputs: Inputs,
  runner: Pick<RunnerContext, 'repository' | 'apiUrl'>
): DeploymentReport | undefined {
  const request = readDeploymentRequest(
    inputs,
    { environment: 'environment', environmentUrl: 'environment-url', token: 'token' },
    runner.repository
  )
  return request && { ...request, apiUrl: runner.apiUrl }
}

function readRemoveVolumes(inputs: Inputs, mode: Settings['mode']): boolean {
  const removeVolumes = inputs.boolean('remove-volumes')
  if (removeVolumes && mode !== 'remove') {
    throw new UserError(`Input 'remove-volumes' is true with 'mode: ${mode}', which removes no volume`, {
      fix: "Set 'mode: remove' to take the project down with its volumes, or remove 'remove-volumes'."
    })
  }
  return removeVolumes
}

function readUsername(inputs: Inputs, name: string): string {
  const username = inputs.string(name)
  if (username !== '' && !isValidUsername(username)) {
    throw new UserError(`Input '${name}' ${JSON.stringify(username)} is not a valid login name`, {
      fix: 'Give the user to log in as on the VM, e.g. deploy.'
    })
  }
  return username
}

/** The jump host, when proxy-host is set: its key and known hosts default to the target's. */
function readProxy(
  inputs: Inputs,
  target: { privateKey: string; passphrase: string; hostKeys: HostKeyPolicy }
): SshEndpoint | undefined {
  const spec = inputs.string('proxy-host')
  const port = inputs.integer('proxy-port', { min: 1, max: 65535, fallback: 22 })
  const username = readUsername(inputs, 'proxy-username')
  if (spec === '') return undefined
  const proxyKey = inputs.secret('proxy-key')
  if (proxyKey !== '') checkPrivateKey('proxy-key', proxyKey, target.passphrase, 'passphrase')
  const knownHostsText = inputs.string('proxy-known-hosts')
  return {
    target: parseHostSpec(spec, { port, username }, "Input 'proxy-host'"),
    privateKey: proxyKey || target.privateKey,
    passphrase: target.passphrase,
    hostKeys: knownHostsText
      ? {
          ...target.hostKeys,
          knownHosts: parseKnownHosts(knownHostsText, "Input 'proxy-known-hosts'"),
          fingerprints: []
        }
      : target.hostKeys
  }
}

function readRemoteDir(inputs: Inputs): string {
  const value = inputs.required('remote-dir')
  const dir = value.replace(/^~\//, '').replace(/\/+$/, '')
  if (dir === '' || dir === '~' || /[\0\r\n]/.test(dir) || dir.split('/').includes('..')) {
    throw new UserError(`Input 'remote-dir' ${JSON.stringify(value)} is not a usable directory`, {
      fix: "Give the stack's folder on the VM, absolute (/srv/app) or relative to the login's home (app), without '..'."
    })
  }
  return dir
}

function readProjectName(inputs: Inputs): string {
  const name = inputs.string('project-name')
  if (name !== '' && !/^[a-z0-9][a-z0-9_-]*$/.test(name)) {
    throw new UserError(`Input 'project-name' ${JSON.stringify(name)} is not a compose project name`, {
      fix: 'Use lower-case letters, digits, _ and -, starting with a letter or digit, e.g. shop-staging.'
    })
  }
  return name
}

/**
 * The files to upload. Paths are relative to the workspace; on the host they keep their path
 * relative to the first compose file's folder, which becomes remote-dir.
 */
function readFiles(inputs: Inputs, workspaceInput: string): { files: StackFile[]; folder: string } {
  const workspace = realpathSync(workspaceInput)
  const given = inputs.lines('files')
  const names =
    given.length > 0
      ? given
      : [
          defaultComposeFile(
            workspace,
            'the workspace',
            "Check out the infra repository first (actions/checkout), or set 'files' to the compose file(s) and the files they mount."
          )
        ]
  const paths = names.map((name) =>
    resolveInsideWorkspace(name, { workspace, base: workspace, baseName: 'the repository root', input: 'files' })
  )
  const composePaths = paths.filter((path) => isComposeFileName(path))
  if (composePaths.length === 0) {
    throw new UserError(`Input 'files' lists no compose file (${given.join(', ')})`, {
      fix: 'List the compose file(s) first, named like compose.yaml or docker-compose.prod.yml, then the files the stack mounts.'
    })
  }
  const base = dirname(composePaths[0])
  const files = paths.map((path, index) => {
    const name = names[index]
    const remotePath = relative(base, path).split(sep).join('/')
    if (remotePath.startsWith('..') || !isSafeRelativePath(remotePath)) {
      throw new UserError(
        `Input 'files' entry ${JSON.stringify(name)} cannot be uploaded: it must be in the first compose file's folder (${relative(workspace, base) || '.'}) or below it, named with letters, digits and . _ - /`,
        {
          fix: "Move the file next to the compose file (the compose file's folder becomes remote-dir on the VM), or rename it."
        }
      )
    }
    if (isReservedPath(remotePath)) {
      throw new UserError(
        `Input 'files' entry ${JSON.stringify(name)} would be uploaded to ${JSON.stringify(remotePath)}, inside .gitops-lite/, where the host keeps the deploy lock, record and audit log`,
        {
          fix: "Remove it from 'files', or move it out of a folder named .gitops-lite next to the compose file."
        }
      )
    }
    if (isSecretFileName(remotePath)) {
      throw new UserError(
        `Input 'files' entry ${JSON.stringify(name)} is a .env file: secrets stay on the VM and are never uploaded`,
        {
          fix: 'Remove it from files and create or edit it on the VM (e.g. /srv/app/.api.env); the deploy reads it there.'
        }
      )
    }
    if (!existsSync(path) || !statSync(path).isFile()) {
      throw new UserError(`Input 'files' entry ${JSON.stringify(name)} is not a file in the workspace`, {
        fix: 'Check the path (relative to the repository root) and that the repository is checked out (actions/checkout) before this step.'
      })
    }
    return stackFile(remotePath, readFileSync(path), isComposeFileName(path))
  })
  const duplicate = files.find((file, index) => files.findIndex((other) => other.path === file.path) !== index)
  if (duplicate)
    throw new UserError(`Input 'files' lists ${JSON.stringify(duplicate.path)} twice`, { fix: 'List each file once.' })
  return {
    files: [...files.filter((f) => f.compose), ...files.filter((f) => !f.compose)],
    folder: relative(workspace, base).split(sep).join('/')
  }
}
