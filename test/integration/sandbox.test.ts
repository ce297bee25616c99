// Proves each of the sandbox's stand-ins works: Docker + Compose v2, the busybox base image,
// demo images, a local registry, sshd "VMs" on two loopback addresses, git remotes, cleanup.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  BASE_IMAGE,
  ProcessGroup,
  SANDBOX_LABEL,
  buildDemoHttpImage,
  createGitRemote,
  ensureBaseImage,
  ensureDocker,
  exec,
  freePort,
  httpGet,
  imageExists,
  startRegistry,
  startSshHost,
  sshClientArgs,
  type Registry,
  type SshHost
} from '@gitops-lite/sandbox'

// Docker builds, compose health waits and sshd starts take seconds each.
const timeout = 120_000

const group = new ProcessGroup('sandbox-parts')
const projectPrefix = `sandbox-parts-${process.pid}`
let workDir: string
let registry: Registry
let hostA: SshHost
let hostB: SshHost
const startedPids: number[] = []
const composeProjects: string[] = []

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'gitops-lite-sandbox-parts-'))
  await ensureDocker()
  await ensureBaseImage()
}, timeout)

afterAll(async () => {
  await group.cleanup()
  await rm(workDir, { recursive: true, force: true })
}, timeout)

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function lines(args: string[]): Promise<string[]> {
  return (await exec('docker', args)).stdout.split('\n').filter(Boolean)
}

test(
  'the engine answers and Compose v2 is installed',
  async () => {
    const info = await ensureDocker()
    expect(info.composeVersion).toMatch(/^v?2\./)
    expect(await imageExists(BASE_IMAGE)).toBe(true)
  },
  timeout
)

test(
  'a demo image pushed to the local registry can be pulled back',
  async () => {
    registry = await startRegistry({ dir: join(workDir, 'registry'), group })
    startedPids.push(registry.pid)
    expect(registry.address).toMatch(/^127\.0\.0\.1:\d+$/)

    const reference = `${registry.address}/team/app:v1`
    await buildDemoHttpImage({ tag: reference, body: 'v1', healthy: true, group })
    await exec('docker', ['push', '-q', reference])
    await exec('docker', ['image', 'rm', reference])
    expect(await imageExists(reference)).toBe(false)

    await exec('docker', ['pull', '-q', reference])
    expect(await imageExists(reference)).toBe(true)
    const tags = await httpGet(`http://${registry.address}/v2/team/app/tags/list`)
    expect(JSON.parse(tags?.body ?? '{}')).toEqual({ name: 'team/app', tags: ['v1'] })
  },
  timeout
)

test(
  'two sshd hosts on 127.0.0.1 and 127.0.0.2 accept the client key and have their own host keys',
  async () => {
    hostA = await startSshHost({ dir: join(workDir, 'host-a'), address: '127.0.0.1', group })
    hostB = await startSshHost({
      dir: join(workDir, 'host-b'),
      address: '127.0.0.2',
      passphrase: 'correct horse',
      group
    })
    startedPids.push(hostA.pid, hostB.pid)

    expect(hostA.knownHostsLine).toMatch(new RegExp(`^\\[127\\.0\\.0\\.1\\]:${hostA.port} ssh-ed25519 AAAA\\S+$`))
    expect(hostB.knownHostsLine).toMatch(new RegExp(`^\\[127\\.0\\.0\\.2\\]:${hostB.port} ssh-ed25519 AAAA\\S+$`))
    expect(hostA.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/)
    expect(hostA.fingerprint).not.toBe(hostB.fingerprint)
    expect(hostA.privateKey).toContain('-----BEGIN OPENSSH PRIVATE KEY-----')

    for (const host of [hostA, hostB]) {
      // Spelled out once, as users would type it; sshClientArgs() builds the same arguments.
      const result = await exec('ssh', [
        '-o',
        `UserKnownHostsFile=${host.knownHostsPath}`,
        '-o',
        'StrictHostKeyChecking=yes',
        '-o',
        'BatchMode=yes',
        '-i',
        host.privateKeyPath,
        '-p',
        String(host.port),
        `root@${host.host}`,
        'docker',
        'compose',
        'version'
      ])
      expect(result.stdout).toMatch(/Docker Compose version v?2\./)
    }

    // Host B's key does not match host A's known_hosts line: strict checking refuses it.
    const wrongKnownHosts = join(workDir, 'wrong_known_hosts')
    await writeFile(
      wrongKnownHosts,
      hostA.knownHostsLine.replace(`[127.0.0.1]:${hostA.port}`, `[127.0.0.2]:${hostB.port}`) + '\n'
    )
    const refused = await exec('ssh', [...sshClientArgs(hostB, { knownHostsPath: wrongKnownHosts }), 'true'], {
      allowFailure: true
    })
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toMatch(/host key/i)

    // The encrypted client key needs its passphrase and is authorized too.
    const encrypted = hostB.encryptedKey!
    expect(
      (await exec('ssh-keygen', ['-y', '-P', '', '-f', encrypted.privateKeyPath], { allowFailure: true })).code
    ).not.toBe(0)
    const derived = await exec('ssh-keygen', ['-y', '-P', encrypted.passphrase, '-f', encrypted.privateKeyPath])
    expect(encrypted.publicKey).toContain(derived.stdout.trim())
    expect(await readFile(join(workDir, 'host-b', 'authorized_keys'), 'utf8')).toContain(derived.stdout.trim())
  },
  timeout
)

async function composeUp(name: string, image: string, port: number) {
  const project = `${projectPrefix}-${name}`
  composeProjects.push(project)
  group.trackComposeProject(project)
  const dir = join(workDir, project)
  const composeFile = join(dir, 'compose.yaml')
  await exec('mkdir', ['-p', dir])
  await writeFile(
    composeFile,
    [
      'services:',
      '  web:',
      `    image: ${image}`,
      `    ports: ["127.0.0.1:${port}:80"]`,
      `    labels: { ${SANDBOX_LABEL}: ${group.labelValue} }`,
      ''
    ].join('\n')
  )
  return exec('docker', ['compose', '-f', composeFile, '-p', project, 'up', '-d', '--wait', '--wait-timeout', '30'], {
    allowFailure: true
  })
}

test(
  'compose up --wait succeeds for the healthy demo image and fails for the unhealthy one',
  async () => {
    const healthy = `local/sandbox-parts-demo:healthy-${process.pid}`
    const unhealthy = `local/sandbox-parts-demo:unhealthy-${process.pid}`
    await buildDemoHttpImage({ tag: healthy, body: 'hello from the sandbox', healthy: true, group })
    await buildDemoHttpImage({ tag: unhealthy, body: 'never healthy', healthy: false, group })

    const port = await freePort()
    const up = await composeUp('healthy', healthy, port)
    expect(up.code).toBe(0)
    expect(await httpGet(`http://127.0.0.1:${port}/`)).toEqual({ status: 200, body: 'hello from the sandbox' })

    const failed = await composeUp('unhealthy', unhealthy, await freePort())
    expect(failed.code).not.toBe(0)
    expect(failed.stderr).toMatch(/unhealthy/)
  },
  timeout
)

test(
  'a git remote holds the initial files and can be cloned',
  async () => {
    const remote = await createGitRemote({
      dir: join(workDir, 'git'),
      files: { 'compose.yaml': 'services: {}\n', 'apps/web/.env': 'TAG=v1\n' }
    })
    const clone = await remote.clone(join(workDir, 'git', 'clone'))
    expect(await readFile(join(clone, 'apps/web/.env'), 'utf8')).toBe('TAG=v1\n')
    const cloneHead = (await exec('git', ['-C', clone, 'rev-parse', 'HEAD'])).stdout.trim()
    expect(cloneHead).toBe(await remote.head())
    expect((await exec('git', ['-C', clone, 'branch', '--show-current'])).stdout.trim()).toBe('main')
  },
  timeout
)

test(
  'cleanup leaves no process, container, network or image behind',
  async () => {
    expect(startedPids).toHaveLength(3)
    expect(composeProjects).toHaveLength(2)
    await group.cleanup()

    for (const pid of startedPids) expect(isAlive(pid)).toBe(false)
    for (const project of composeProjects) {
      const projectFilter = `label=com.docker.compose.project=${project}`
      expect(await lines(['ps', '-aq', '--filter', projectFilter])).toEqual([])
      expect(await lines(['network', 'ls', '-q', '--filter', projectFilter])).toEqual([])
    }
    const groupFilter = `label=${group.label}`
    expect(await lines(['ps', '-aq', '--filter', groupFilter])).toEqual([])
    expect(await lines(['images', '-q', '--filter', groupFilter])).toEqual([])
    // The base image stays: it is shared by every run.
    expect(await imageExists(BASE_IMAGE)).toBe(true)
  },
  timeout
)
