// Attacks on the client side, run against real parts: text from the API, the VM and inputs
// that tries to act as a workflow command or as HTML in the job summary (issue #10, item 3),
// service names compose would read as options (item 5), a symbolic link pushed by another
// clone while a bump retries (item 6), and bytes that are not ASCII around an edit (item 8).
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  BASE_IMAGE,
  FakeGitHub,
  ProcessGroup,
  createGitRemote,
  ensureBaseImage,
  exec,
  startRunOnDispatch,
  startSshHost,
  type SshHost
} from '@gitops-lite/sandbox'
import { repoRoot, runAction, type ActionRun } from '../helpers/run-action'
import { treeSnapshot } from '../helpers/tree-snapshot'
import { foreignCommands } from '../helpers/workflow-commands'

const timeout = 180_000
const TOKEN = 'github_pat_11AAAAAAA0attacksuite00123456789abcdefghijklmnopqrstuvwxyz'

let work: string
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'gitops-lite-attacks-'))
})
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true })
})

function git(cwd: string, ...args: string[]): Promise<string> {
  return exec('git', ['-C', cwd, ...args]).then((r) => r.stdout.trim())
}

function expectClean(run: ActionRun): void {
  const output = `${run.stdout}\n${run.stderr}`
  expect(foreignCommands(output)).toEqual([])
  expect(output).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m)
}

describe('dispatch-to-infra: text from the API and from inputs', () => {
  let github: FakeGitHub
  afterEach(async () => github?.stop())

  it(
    'a run html_url with a line break, a workflow command and markup is neither a command in the log nor HTML in the summary',
    async () => {
      const hostileWeb = 'https://github.example/"><img src=x onerror=alert(1)>\n::warning::INJECTED\n##[error]INJECTED'
      github = await FakeGitHub.start({ repositories: ['acme/infra'], serverUrl: hostileWeb })
      const runName = /^run-name: (.*correlation_id.*)$/m.exec(
        await readFile(join(repoRoot, 'actions/dispatch-to-infra/README.md'), 'utf8')
      )![1]
      github.onDispatch(
        startRunOnDispatch({ runName, appearAfterMs: 200, queuedMs: 200, inProgressMs: 300, conclusion: 'failure' })
      )
      const run = await runAction('dispatch-to-infra', {
        inputs: {
          token: TOKEN,
          repository: 'acme/infra',
          service: 'api',
          image: 'ghcr.io/acme/api',
          tag: 'v1.2.3',
          'api-url': github.url,
          'event-type': '<img src=x onerror=alert(2)>',
          wait: 'true',
          'wait-timeout': '60s'
        },
        env: { GITHUB_REPOSITORY: 'acme/app', GITHUB_RUN_ID: '7' }
      })
      expect(run.exitCode).not.toBe(0)
      expect(run.annotations.find((a) => a.level === 'error')?.message).toMatch(/concluded 'failure'/)
      expectClean(run)
      // The URL reached the log, on one line, its break shown as \n.
      expect(run.stdout).toContain(
        'Waiting for https://github.example/"><img src=x onerror=alert(1)>\\n::warning::INJECTED\\n#\u200b#[error]INJECTED/acme/infra/actions/runs/'
      )
      expect(run.summary).not.toMatch(/<img/)
      expect(run.summary).toContain('&#60;img src=x onerror=alert(2)&#62;')
      expect(run.summary).toContain('&#60;img src=x onerror=alert(1)&#62;')
    },
    timeout
  )
})

describe('bump-image-tag: another clone pushes a symbolic link while the bump retries', () => {
  it(
    'checks where the files lead on every round: a .env turned into a link outside the workspace is refused, nothing written there or pushed',
    async () => {
      const outside = join(work, 'outside.env')
      await writeFile(outside, 'API_TAG=v1\nDB_PASSWORD=hunter2\n')
      const compose = 'services:\n  api:\n    image: ghcr.io/acme/api:${API_TAG}\n'
      const bare = (
        await createGitRemote({
          dir: join(work, 'link-remote'),
          files: { 'compose.yaml': compose, '.env': 'API_TAG=v1\n' }
        })
      ).bareDir
      const stale = join(work, 'stale')
      const attacker = join(work, 'attacker')
      await exec('git', ['clone', '-q', bare, stale])
      await exec('git', ['clone', '-q', bare, attacker])
      // The other clone replaces .env with a link to a file outside any checkout, and pushes.
      await rm(join(attacker, '.env'))
      await symlink(outside, join(attacker, '.env'))
      await git(attacker, 'add', '-A')
      await git(attacker, '-c', 'user.name=m', '-c', 'user.email=m@example.com', 'commit', '-qm', 'link .env')
      await git(attacker, 'push', '-q', 'origin', 'main')
      const pushed = await git(bare, 'rev-parse', 'main')

      const run = await runAction('bump-image-tag', { workspace: stale, inputs: { service: 'api', tag: 'v2' } })
      expect(run.exitCode).not.toBe(0)
      expect(run.stdout).toMatch(/'main' moved while pushing \(attempt 1 of 5\)/)
      expect(run.annotations.find((a) => a.level === 'error')?.message).toMatch(
        /^\.env is a symbolic link that leads outside the workspace/
      )
      expect(await readFile(outside, 'utf8')).toBe('API_TAG=v1\nDB_PASSWORD=hunter2\n')
      expect(await git(bare, 'rev-parse', 'main')).toBe(pushed)
      expectClean(run)
    },
    timeout
  )
})

describe('bump-image-tag: bytes that are not ASCII', () => {
  it(
    'keeps every byte outside the edit: the pushed commit changes exactly the line the diff shows',
    async () => {
      const compose = 'services:\n  api:\n    # café ☕, naïve résumé\r\n    image: ghcr.io/acme/api:${API_TAG}\n'
      const env = 'API_TAG=v1\nPASSWORD=päss→ü\n'
      const bare = (
        await createGitRemote({ dir: join(work, 'utf8-remote'), files: { 'compose.yaml': compose, '.env': env } })
      ).bareDir
      const clone = join(work, 'utf8-clone')
      await exec('git', ['clone', '-q', bare, clone])
      const run = await runAction('bump-image-tag', { workspace: clone, inputs: { service: 'api', tag: 'v2' } })
      if (run.exitCode !== 0) throw new Error(run.stdout)
      expect(await exec('git', ['-C', bare, 'show', 'main:compose.yaml']).then((r) => r.stdout)).toBe(compose)
      expect(await exec('git', ['-C', bare, 'show', 'main:.env']).then((r) => r.stdout)).toBe(
        env.replace('API_TAG=v1', 'API_TAG=v2')
      )
      expect(await git(bare, 'diff', '--numstat', 'main~1', 'main')).toBe('1\t1\t.env')
      expect(run.outputs.diff).toContain('-API_TAG=v1\n+API_TAG=v2')
      expectClean(run)
    },
    timeout
  )
})

describe('ssh-surgical-deploy: what other users of the VM can plant', () => {
  let group: ProcessGroup
  let vm: SshHost
  beforeAll(async () => {
    group = new ProcessGroup('attacks-client')
    await ensureBaseImage()
    vm = await startSshHost({ dir: join(work, 'vm'), address: '127.0.0.1', group })
  }, timeout)
  afterAll(async () => group?.cleanup(), timeout)

  async function workspaceWith(name: string, compose: string): Promise<string> {
    const workspace = join(work, name)
    await mkdir(workspace, { recursive: true })
    await writeFile(join(workspace, 'compose.yaml'), compose)
    return workspace
  }

  const deployInputs = (remoteDir: string, project: string, extra: Record<string, string> = {}) => ({
    host: `${vm.username}@${vm.host}:${vm.port}`,
    key: vm.privateKey,
    'known-hosts': vm.knownHostsLine,
    'remote-dir': remoteDir,
    'project-name': project,
    pull: 'false',
    ...extra
  })

  it(
    'a container labelled with a service named like an option: refused before anything changes, no container touched',
    async () => {
      const project = `gl-attack-label-${process.pid}`
      group.trackComposeProject(project)
      const remoteDir = join(vm.remoteDir, 'label')
      await mkdir(remoteDir, { recursive: true })
      const label = (name: string, value: string) => ['--label', `com.docker.compose.${name}=${value}`]
      const planted = (
        await exec('docker', [
          'run',
          '-d',
          ...label('project', project),
          ...label('service', '--remove-orphans'),
          ...label('oneoff', 'False'),
          BASE_IMAGE,
          'sleep',
          '300'
        ])
      ).stdout.trim()
      // compose down would not take it: its service name is refused there too.
      group.defer('remove the planted container', () => exec('docker', ['rm', '-f', planted]).then(() => undefined))
      const containers = () =>
        exec('docker', ['ps', '-aq', '--no-trunc', '--filter', `label=com.docker.compose.project=${project}`]).then(
          (r) => r.stdout
        )
      const before = { files: await treeSnapshot(remoteDir), containers: await containers() }
      const workspace = await workspaceWith(
        'label-ws',
        `services:\n  web:\n    image: ${BASE_IMAGE}\n    command: [sleep, '300']\n`
      )
      const run = await runAction('ssh-surgical-deploy', {
        workspace,
        inputs: deployInputs(remoteDir, project),
        timeoutMs: 170_000
      })
      expect(run.exitCode).not.toBe(0)
      expect(run.annotations.find((a) => a.level === 'error')?.message).toMatch(
        /is labelled with the service "--remove-orphans", which is not a valid compose service name/
      )
      expect({ files: await treeSnapshot(remoteDir), containers: await containers() }).toEqual(before)
      expect(before.containers).toContain(planted)
      expectClean(run)
    },
    timeout
  )

  it(
    'a lock held with a forged owner holding a line break and a workflow command: the wait and the failure are reported on one line each',
    async () => {
      const project = `gl-attack-lock-${process.pid}`
      const remoteDir = join(vm.remoteDir, 'lock')
      const state = join(remoteDir, '.gitops-lite')
      await mkdir(state, { recursive: true })
      await writeFile(join(state, 'lock'), '')
      await writeFile(
        join(state, 'lock.owner'),
        `${JSON.stringify({ runUrl: 'https://x/\n::error::INJECTED', actor: 'mallory\r::warning::INJECTED ##[error]INJECTED', since: 'now' })}\n`
      )
      const holder = spawn('flock', ['-x', join(state, 'lock'), 'sleep', '60'], { stdio: 'ignore' })
      try {
        await new Promise((resolve) => setTimeout(resolve, 500))
        const workspace = await workspaceWith('lock-ws', `services:\n  web:\n    image: ${BASE_IMAGE}\n`)
        const before = await treeSnapshot(remoteDir)
        const run = await runAction('ssh-surgical-deploy', {
          workspace,
          inputs: deployInputs(remoteDir, project, { 'lock-timeout': '2s' }),
          timeoutMs: 170_000
        })
        expect(run.exitCode).not.toBe(0)
        expect(run.annotations.find((a) => a.level === 'error')?.message).toMatch(
          /still held after \d+ s, by run https:\/\/x\/\\n::error::INJECTED \(by mallory\\r::warning::INJECTED/
        )
        expect(await treeSnapshot(remoteDir)).toEqual(before)
        expectClean(run)
      } finally {
        holder.kill()
      }
    },
    timeout
  )
})
