// The real parts the ssh-surgical-deploy suites deploy to: a local registry with demo images,
// sshd "VMs" on loopback addresses sharing the local Docker engine, and infra workspaces.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import {
  ProcessGroup,
  buildDemoHttpImage,
  buildImage,
  ensureBaseImage,
  ensureDocker,
  exec,
  freePort,
  httpGet,
  startRegistry,
  startSshHost,
  type Registry,
  type SshHost
} from '@gitops-lite/sandbox'
import { runAction, type ActionRun } from '../../helpers/run-action'

export const timeout = 180_000

export interface Images {
  webV1: string
  webV2: string
  /** Serves, but its healthcheck always fails. */
  webBad: string
  /** Takes ~6 s to become healthy: a window to cut the connection in. */
  webSlow: string
  /** No healthcheck: "healthy" means running steadily. */
  worker: string
}

export interface DeployFixture {
  group: ProcessGroup
  work: string
  registry: Registry
  images: Images
}

export async function startDeployFixture(name: string): Promise<DeployFixture> {
  const group = new ProcessGroup(name)
  const work = await mkdtemp(join(tmpdir(), `gitops-lite-${name}-`))
  await ensureDocker()
  await ensureBaseImage()
  const registry = await startRegistry({ dir: join(work, 'registry'), group })
  const repo = (image: string, tag: string) => `${registry.address}/team/${image}:${tag}`
  const images: Images = {
    webV1: repo('web', 'v1'),
    webV2: repo('web', 'v2'),
    webBad: repo('web', 'bad'),
    webSlow: repo('web', 'slow'),
    worker: repo('worker', 'v1')
  }
  await buildDemoHttpImage({ tag: images.webV1, body: 'web v1', healthy: true, group })
  await buildDemoHttpImage({ tag: images.webV2, body: 'web v2', healthy: true, group })
  await buildDemoHttpImage({ tag: images.webBad, body: 'web bad', healthy: false, group })
  await buildImage({
    tag: images.webSlow,
    group,
    contextFiles: { 'www/index.html': 'web slow' },
    spec: {
      cmd: ['sh', '-c', 'sleep 6; exec busybox httpd -f -p 80 -h /www'],
      healthcheck: { test: ['wget', '-q', '-O', '/dev/null', 'http://127.0.0.1/'], intervalSeconds: 1, retries: 30 }
    }
  })
  await buildImage({
    tag: images.worker,
    group,
    spec: { cmd: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done'] }
  })
  for (const image of Object.values(images)) await exec('docker', ['push', '-q', image])
  return { group, work, registry, images }
}

/** Every suite's afterAll: stops what the fixture started and removes its folder. */
export async function stopDeployFixture(fixture: DeployFixture | undefined): Promise<void> {
  if (!fixture) return
  await fixture.group.cleanup()
  await rm(fixture.work, { recursive: true, force: true })
}

/** The usual suite: one VM on 127.0.0.1 deploying `project` from a workspace with web v1 and worker. */
export interface StackSuite {
  fixture: DeployFixture
  vm: SshHost
  /** <VM home>/stack, whose .env sets GREETING. */
  remoteDir: string
  /** The port web publishes on 127.0.0.1. */
  webPort: number
  /** The workspace `main`. */
  workspace: string
}

export async function startStackSuite(name: string, project: string): Promise<StackSuite> {
  const fixture = await startDeployFixture(name)
  const vm = await startVm(fixture, 'vm', '127.0.0.1')
  const remoteDir = join(vm.remoteDir, 'stack')
  const webPort = await freePort()
  fixture.group.trackComposeProject(project)
  await writeVmSecrets(remoteDir, { GREETING: 'from the VM' })
  const workspace = await newWorkspace(fixture, 'main', {
    web: fixture.images.webV1,
    worker: fixture.images.worker,
    webPort
  })
  return { fixture, vm, remoteDir, webPort, workspace }
}

export async function startVm(fixture: DeployFixture, name: string, address: string): Promise<SshHost> {
  return startSshHost({ dir: join(fixture.work, name), address, group: fixture.group })
}

/**
 * Gives a VM its own home directory (as a different machine would have), so a relative
 * remote-dir differs per VM, and lets `client`'s key in (one deploy key for every VM): the
 * authorized key runs each command with HOME set to `home` (and TMPDIR to `tmp`, when given,
 * so a test can see what the deploy leaves in its temporary directory).
 */
export async function giveOwnHome(
  fixture: DeployFixture,
  name: string,
  home: string,
  client: SshHost,
  tmp?: string
): Promise<void> {
  await mkdir(home, { recursive: true })
  if (tmp) await mkdir(tmp, { recursive: true })
  const wrapper = `command="cd ${home} && HOME=${home}${tmp ? ` TMPDIR=${tmp}` : ''} exec sh -c \\"$SSH_ORIGINAL_COMMAND\\""`
  const publicKey = (await readFile(`${client.privateKeyPath}.pub`, 'utf8')).trim()
  await writeFile(join(fixture.work, name, 'authorized_keys'), `${wrapper} ${publicKey}\n`)
}

export interface StackOptions {
  web: string
  worker?: string
  /** Host port for web; the literal `${WEB_PORT}` reads it from the VM's .env. */
  webPort: number | string
  motd?: string
}

/** The infra repository checkout: compose.yaml and a file web mounts. */
export function composeFile(options: StackOptions): string {
  const lines = [
    'services:',
    '  web:',
    `    image: ${options.web}`,
    `    ports: ["127.0.0.1:${options.webPort}:80"]`,
    '    env_file: [.web.env]',
    '    volumes: ["./conf/motd.txt:/www/motd.txt:ro"]',
    // busybox httpd as PID 1 ignores SIGTERM: do not wait 10 s for it on every recreate.
    '    stop_grace_period: 1s'
  ]
  if (options.worker) lines.push('  worker:', `    image: ${options.worker}`, '    restart: unless-stopped')
  return lines.join('\n') + '\n'
}

export async function writeWorkspace(workspace: string, options: StackOptions): Promise<void> {
  await mkdir(join(workspace, 'conf'), { recursive: true })
  await writeFile(join(workspace, 'compose.yaml'), composeFile(options))
  await writeFile(join(workspace, 'conf', 'motd.txt'), options.motd ?? 'hello\n')
}

/** Files on the VM that are its own: .env and .web.env (secrets stay on the VM). */
export async function writeVmSecrets(remoteDir: string, env: Record<string, string>): Promise<void> {
  await mkdir(remoteDir, { recursive: true })
  const dotenv = Object.entries(env)
    .map(([k, v]) => `${k}=${v}\n`)
    .join('')
  await writeFile(join(remoteDir, '.env'), dotenv)
  await writeFile(join(remoteDir, '.web.env'), 'WEB_SECRET=s3cr3t-value\n')
}

export function deployInputs(host: SshHost, inputs: Record<string, string>): Record<string, string> {
  return {
    host: `${host.username}@${host.host}:${host.port}`,
    key: host.privateKey,
    'known-hosts': host.knownHostsLine,
    files: 'compose.yaml\nconf/motd.txt',
    'health-timeout': '60s',
    'lock-timeout': '90s',
    ...inputs
  }
}

export function deploy(
  workspace: string,
  inputs: Record<string, string>,
  env: Record<string, string> = {}
): Promise<ActionRun> {
  return runAction('ssh-surgical-deploy', { workspace, inputs, env, timeoutMs: 170_000 })
}

export function expectSuccess(run: ActionRun): ActionRun {
  if (run.exitCode !== 0) throw new Error(`ssh-surgical-deploy exited ${run.exitCode}\n${run.stdout}\n${run.stderr}`)
  return run
}

export function expectFailure(run: ActionRun): ActionRun {
  if (run.exitCode === 0) throw new Error(`ssh-surgical-deploy succeeded but should have failed\n${run.stdout}`)
  return run
}

/** stdout and stderr without the `::add-mask::` lines that hand secrets to the runner. */
export function printed(run: ActionRun): string {
  return (run.stdout + run.stderr)
    .split('\n')
    .filter((line) => !line.startsWith('::add-mask::'))
    .join('\n')
}

export function output(run: ActionRun, name: string): unknown {
  return JSON.parse(run.outputs[name] ?? 'null')
}

/** Container id per service of a compose project (running or not). */
export async function containers(project: string): Promise<Record<string, string>> {
  const { stdout } = await exec('docker', [
    'ps',
    '-a',
    '--filter',
    `label=com.docker.compose.project=${project}`,
    '--format',
    '{{.ID}} {{.Label "com.docker.compose.service"}}'
  ])
  return Object.fromEntries(
    stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split(' ').reverse())
  )
}

export async function serves(port: number): Promise<string | undefined> {
  return (await httpGet(`http://127.0.0.1:${port}/`))?.body
}

export async function readJsonLines(path: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(path, 'utf8').catch(() => '')
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>)
}

export async function fileState(path: string): Promise<string> {
  const { stdout } = await exec('stat', ['-c', '%i %s %Y', path])
  return `${stdout.trim()} ${await readFile(path, 'utf8')}`
}

export async function newWorkspace(fixture: DeployFixture, name: string, options: StackOptions): Promise<string> {
  const workspace = join(fixture.work, 'workspaces', name)
  await mkdir(dirname(workspace), { recursive: true })
  await writeWorkspace(workspace, options)
  return workspace
}
