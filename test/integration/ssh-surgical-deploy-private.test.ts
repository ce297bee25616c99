// ssh-surgical-deploy with what a team needs on day one, on the real bench: images from a
// registry that requires a login (Debian's docker-registry with htpasswd), a pre-deploy command
// (a migration) and the deploy reported to GitHub's Deployments API (the local stand-in, every
// request checked against GitHub's OpenAPI description). The scenarios build on each other.
import { randomBytes } from 'node:crypto'
import { readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  exec,
  freePort,
  pushWithLogin,
  startRegistry,
  startSshHost,
  type Registry,
  type SshHost
} from '@gitops-lite/sandbox'
import { FakeGitHub } from '../../packages/sandbox/src/fake-github'
import { openApiProblems, openApiResponseProblems } from '../helpers/openapi'
import {
  containers,
  deploy,
  deployInputs,
  expectFailure,
  expectSuccess,
  giveOwnHome,
  newWorkspace,
  output,
  printed,
  serves,
  startDeployFixture,
  timeout,
  writeVmSecrets,
  type DeployFixture,
  stopDeployFixture
} from './ssh-surgical-deploy/fixture'

const TOKEN = `ghs_${'d'.repeat(36)}`
const username = 'deployer'
// Random per run, so finding it anywhere can only mean this deploy left it there.
const password = `pw-${randomBytes(12).toString('hex')}`
/** What docker login stores in a config.json: base64 of user:password. */
const storedAuth = Buffer.from(`${username}:${password}`).toString('base64')

let fixture: DeployFixture
let vm: SshHost
let privateRegistry: Registry
let github: FakeGitHub
let home: string
let vmTmp: string
let remoteDir: string
let workspace: string
let webPort: number
let privateWeb: { v1: string; v2: string }
const project = `gl-private-${process.pid}`

beforeAll(async () => {
  fixture = await startDeployFixture('private')
  privateRegistry = await startRegistry({
    dir: join(fixture.work, 'private-registry'),
    group: fixture.group,
    auth: { username, password }
  })
  privateWeb = { v1: `${privateRegistry.address}/team/web:v1`, v2: `${privateRegistry.address}/team/web:v2` }
  await pushWithLogin(privateRegistry, { username, password }, [
    [fixture.images.webV1, privateWeb.v1],
    [fixture.images.webV2, privateWeb.v2]
  ])
  vm = await startSshHost({ dir: join(fixture.work, 'vm'), address: '127.0.0.1', group: fixture.group })
  home = join(fixture.work, 'vm-home')
  vmTmp = join(fixture.work, 'vm-tmp')
  await giveOwnHome(fixture, 'vm', home, vm, vmTmp)
  remoteDir = join(home, 'stack')
  webPort = await freePort()
  fixture.group.trackComposeProject(project)
  await writeVmSecrets(remoteDir, {})
  workspace = await newWorkspace(fixture, 'private', { web: privateWeb.v1, webPort })
  github = await FakeGitHub.start({ repositories: ['acme/infra'], tokens: [TOKEN] })
}, timeout)

afterAll(async () => {
  if (github) {
    for (const request of github.requests) {
      expect(openApiProblems(request)).toEqual([])
      expect(openApiResponseProblems(request)).toEqual([])
    }
    await github.stop()
  }
  await stopDeployFixture(fixture)
}, timeout)

/** compose.yaml with web from `image`, a data folder it writes, and its pre-deploy command if any. */
async function writeCompose(image: string, preDeploy?: string): Promise<void> {
  const lines = [
    'services:',
    '  web:',
    `    image: ${image}`,
    `    ports: ["127.0.0.1:${webPort}:80"]`,
    '    env_file: [.web.env]',
    `    environment: { RELEASE: "${image.split(':').pop()}" }`,
    '    volumes: ["./conf/motd.txt:/www/motd.txt:ro", "./data:/data"]',
    '    stop_grace_period: 1s'
  ]
  if (preDeploy) lines.push('    x-gitops-lite:', `      pre-deploy: ${JSON.stringify(preDeploy)}`)
  await writeFile(join(workspace, 'compose.yaml'), lines.join('\n') + '\n')
}

const migration = 'echo "migrating to $$RELEASE"; echo "$$RELEASE" >> /data/migrations'

function inputs(extra: Record<string, string> = {}): Record<string, string> {
  return deployInputs(vm, {
    'remote-dir': remoteDir,
    'project-name': project,
    registry: privateRegistry.address,
    'registry-username': username,
    'registry-password': password,
    environment: 'staging',
    'environment-url': `http://127.0.0.1:${webPort}/`,
    token: TOKEN,
    ...extra
  })
}

const env = { GITHUB_API_URL: '', GITHUB_REPOSITORY: 'acme/infra', GITHUB_SHA: 'b'.repeat(40), GITHUB_RUN_ID: '77' }
const run = (extra: Record<string, string> = {}) =>
  deploy(workspace, inputs(extra), { ...env, GITHUB_API_URL: github.url })

/** Files under the folders the deploy user can write that hold the password or its stored form. */
async function filesWithCredentials(): Promise<string[]> {
  const found: string[] = []
  for (const needle of [password, storedAuth]) {
    const { stdout } = await exec('grep', ['-rlF', '--', needle, home, vmTmp, remoteDir], { allowFailure: true })
    found.push(...stdout.split('\n').filter(Boolean))
  }
  return found
}

function statesOf(index: number): string[] {
  return github.deployments('acme/infra')[index].statuses.map((s) => s.state)
}

describe('ssh-surgical-deploy with a private registry, a pre-deploy command and GitHub deployments', () => {
  it(
    'a wrong registry password fails naming the registry, before any container exists, and leaves no login behind',
    async () => {
      await writeCompose(privateWeb.v1, migration)
      const result = expectFailure(await run({ 'registry-password': 'not-the-password' }))
      expect(result.stderr + result.stdout).toContain(`the login to the registry ${privateRegistry.address} failed`)
      expect(await containers(project)).toEqual({})
      expect(await readdir(vmTmp)).toEqual([])
      expect(await filesWithCredentials()).toEqual([])
      // Reported: the deployment exists and ended in error.
      expect(statesOf(0)).toEqual(['in_progress', 'error'])
    },
    timeout
  )

  it(
    'deploys the private image with the given login: migration first, no password in any file or output',
    async () => {
      const result = expectSuccess(await run())
      expect(output(result, 'deployed')).toEqual(['web'])
      expect(await serves(webPort)).toBe('web v1')
      // The migration ran once, with the service's environment, before the service was created.
      expect(await readFile(join(remoteDir, 'data', 'migrations'), 'utf8')).toBe('v1\n')
      const out = printed(result)
      expect(out).toContain('migrating to v1')
      expect(out.indexOf('Running the pre-deploy command of web')).toBeLessThan(out.indexOf('Recreating the services'))
      expect(out).not.toContain(password)
      expect(out).not.toContain(storedAuth)
      expect(await readdir(vmTmp)).toEqual([])
      expect(await filesWithCredentials()).toEqual([])
      // Never in the engine user's own Docker config either.
      const ownConfig = await readFile(join(home, '.docker', 'config.json'), 'utf8').catch(() => '')
      expect(ownConfig).not.toContain(privateRegistry.address)

      const [, deployment] = github.deployments('acme/infra')
      expect(deployment).toMatchObject({ environment: 'staging', sha: 'b'.repeat(40) })
      expect(deployment.statuses.map((s) => s.state)).toEqual(['in_progress', 'success'])
      expect(deployment.statuses[1]).toMatchObject({
        environmentUrl: `http://127.0.0.1:${webPort}/`,
        description: 'Deployed web'
      })
      expect(deployment.statuses[1].logUrl).toMatch(/\/actions\/runs\/77\//)
    },
    timeout
  )

  it(
    'a dry run shows the pre-deploy command in the plan and reports nothing',
    async () => {
      await writeCompose(privateWeb.v2, `${migration}; exit 3`)
      const before = github.requests.length
      const result = expectSuccess(await run({ 'dry-run': 'true' }))
      expect(result.stdout).toContain('first runs its pre-deploy command with the new image: sh -c')
      const plan = Object.values(
        output(result, 'plan') as Record<string, { services: { service: string; preDeploy?: string[] }[] }>
      )[0]
      expect(plan.services.find((s) => s.service === 'web')?.preDeploy).toEqual([
        'sh',
        '-c',
        'echo "migrating to $RELEASE"; echo "$RELEASE" >> /data/migrations; exit 3'
      ])
      expect(github.requests.length).toBe(before)
    },
    timeout
  )

  it(
    'a failing pre-deploy command stops the deploy before any container changes, quoting its last lines',
    async () => {
      const before = await containers(project)
      const composeBefore = await readFile(join(remoteDir, 'compose.yaml'), 'utf8')
      const result = expectFailure(await run())
      expect(result.stderr + result.stdout).toMatch(
        /the pre-deploy command of web exited with code 3; its last lines:(%0A|\n|\\n) {2}\| migrating to v2/
      )
      expect(await containers(project)).toEqual(before)
      expect(await readFile(join(remoteDir, 'compose.yaml'), 'utf8')).toBe(composeBefore)
      expect(await serves(webPort)).toBe('web v1')
      expect(printed(result)).not.toContain(password)
      expect(await readdir(vmTmp)).toEqual([])
      expect(statesOf(2)).toEqual(['in_progress', 'error'])
    },
    timeout
  )

  it(
    'a pre-deploy command that outlives command-timeout is stopped, its container removed',
    async () => {
      const before = await containers(project)
      await writeCompose(privateWeb.v2, 'echo started; sleep 120')
      const result = expectFailure(await run({ 'command-timeout': '10s' }))
      expect(result.stdout).toMatch(
        /the pre-deploy command of web timed out \(command-timeout\); its last lines:(%0A|\n|\\n) {2}\| started/
      )
      expect(await containers(project)).toEqual(before)
      const oneOffs = await exec('docker', [
        'ps',
        '-aq',
        '--filter',
        `label=com.docker.compose.project=${project}`,
        '--filter',
        'label=com.docker.compose.oneoff=True'
      ])
      expect(oneOffs.stdout.trim()).toBe('')
      expect(await serves(webPort)).toBe('web v1')
      expect(statesOf(3)).toEqual(['in_progress', 'error'])
    },
    timeout
  )

  it(
    'a rolled-back deploy reports failure; the next success marks the previous one inactive',
    async () => {
      await writeCompose(fixture.images.webBad)
      expectFailure(await run({ 'health-timeout': '20s' }))
      expect(await serves(webPort)).toBe('web v1')
      expect(statesOf(4)).toEqual(['in_progress', 'failure'])

      await writeCompose(privateWeb.v2, migration)
      expectSuccess(await run())
      expect(await serves(webPort)).toBe('web v2')
      expect(await readFile(join(remoteDir, 'data', 'migrations'), 'utf8')).toBe('v1\nv2\nv2\n')
      expect(statesOf(5)).toEqual(['in_progress', 'success'])
      expect(statesOf(1)).toEqual(['in_progress', 'success', 'inactive'])
      expect(await filesWithCredentials()).toEqual([])
    },
    timeout
  )
})
