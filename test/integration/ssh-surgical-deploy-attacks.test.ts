// ssh-surgical-deploy attacked from the VM, against real parts (sshd, Docker engine,
// registry): links planted where the host side writes (by whoever can write in a folder under
// remote-dir, e.g. a container with a read-write bind mount of it), secrets in the VM's env
// files that failing deploys print, and the modes of the host's state. Nothing may be written
// outside remote-dir, no secret may reach the log, an output or the summary, and no line may act
// as a workflow command.
import { existsSync } from 'node:fs'
import { chmod, lstat, mkdir, readFile, readdir, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type SshHost } from '@gitops-lite/sandbox'
import { injectedCommands, readAsRunner } from '../helpers/runner-log'
import {
  containers,
  deploy,
  deployInputs,
  expectFailure,
  expectSuccess,
  output,
  readJsonLines,
  serves,
  timeout,
  writeWorkspace,
  type DeployFixture,
  startStackSuite,
  stopDeployFixture
} from './ssh-surgical-deploy/fixture'
import type { ActionRun } from '../helpers/run-action'

let fixture: DeployFixture
let vm: SshHost
let workspace: string
let remoteDir: string
/** Outside remote-dir: where planted links point. Nothing may ever appear in it. */
let outside: string
let webPort: number
const project = `gl-attack-${process.pid}`
const state = (name: string) => join(remoteDir, '.gitops-lite', name)

beforeAll(async () => {
  ;({ fixture, vm, remoteDir, webPort, workspace } = await startStackSuite('ssh-deploy-attacks', project))
  outside = join(fixture.work, 'outside')
  await mkdir(outside, { recursive: true })
  await writeFile(join(outside, 'victim'), 'the victim file\n')
}, timeout)

afterAll(() => stopDeployFixture(fixture), timeout)

const inputs = (extra: Record<string, string> = {}) =>
  deployInputs(vm, { 'remote-dir': remoteDir, 'project-name': project, ...extra })

/** Every file under `dir` with its content: what a planted link could have changed. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {}
  for (const name of await readdir(dir, { recursive: true })) {
    const path = join(dir, name)
    const info = await lstat(path)
    files[name] = info.isSymbolicLink()
      ? `-> ${await readlink(path)}`
      : info.isFile()
        ? await readFile(path, 'utf8')
        : 'dir'
  }
  return files
}

const outsideBefore = { victim: 'the victim file\n' }

describe('ssh-surgical-deploy: links planted under remote-dir are never followed', () => {
  it(
    'first deploy (the base the attacks start from)',
    async () => {
      expectSuccess(await deploy(workspace, inputs()))
      expect(await serves(webPort)).toBe('web v1')
    },
    timeout
  )

  it(
    'creates the state folder 0700 and its files 0600',
    async () => {
      expect((await stat(join(remoteDir, '.gitops-lite'))).mode & 0o777).toBe(0o700)
      for (const name of ['lock', 'state', 'generation', 'audit.log'])
        expect([name, (await stat(state(name))).mode & 0o777]).toEqual([name, 0o600])
      for (const run of await readdir(state('runs')))
        expect((await stat(join(state('runs'), run, 'log'))).mode & 0o777).toBe(0o600)
    },
    timeout
  )

  it(
    'fixes the modes of a state folder an older version left readable',
    async () => {
      await chmod(join(remoteDir, '.gitops-lite'), 0o755)
      for (const name of ['lock', 'state', 'generation', 'audit.log']) await chmod(state(name), 0o644)
      await writeWorkspace(workspace, { web: fixture.images.webV2, worker: fixture.images.worker, webPort })
      expectSuccess(await deploy(workspace, inputs()))
      expect((await stat(join(remoteDir, '.gitops-lite'))).mode & 0o777).toBe(0o700)
      for (const name of ['lock', 'state', 'generation', 'audit.log'])
        expect([name, (await stat(state(name))).mode & 0o777]).toEqual([name, 0o600])
    },
    timeout
  )

  it(
    "the rollback's restore does not follow a link planted next to the file it puts back",
    async () => {
      const motdBefore = await readFile(join(remoteDir, 'conf', 'motd.txt'), 'utf8')
      await symlink(join(outside, 'victim'), join(remoteDir, 'conf', 'motd.txt.gitops-lite-restore'))
      await writeWorkspace(workspace, {
        web: fixture.images.webBad,
        worker: fixture.images.worker,
        webPort,
        motd: 'motd of the bad version\n'
      })
      const run = expectFailure(await deploy(workspace, inputs({ 'health-timeout': '20s' })))
      expect(injectedCommands(run.stdout)).toEqual([])
      expect(run.outputs['rolled-back']).toBe('true')
      expect(await snapshot(outside)).toEqual(outsideBefore)
      expect(await readFile(join(remoteDir, 'conf', 'motd.txt'), 'utf8')).toBe(motdBefore)
      expect(await serves(webPort)).toBe('web v2')
      await rm(join(remoteDir, 'conf', 'motd.txt.gitops-lite-restore'))
    },
    timeout
  )

  it(
    'dangling state.tmp and generation.tmp links in .gitops-lite/ are not written through',
    async () => {
      await symlink(join(outside, 'state-written'), state('state.tmp'))
      await symlink(join(outside, 'generation-written'), state('generation.tmp'))
      await writeWorkspace(workspace, { web: fixture.images.webV1, worker: fixture.images.worker, webPort })
      const run = expectSuccess(await deploy(workspace, inputs()))
      expect(injectedCommands(run.stdout)).toEqual([])
      expect(output(run, 'deployed')).toEqual(['web'])
      expect(await snapshot(outside)).toEqual(outsideBefore)
      expect((await readJsonLines(state('state')))[0]).toMatchObject({ kind: 'deploy', project })
      expect((await lstat(state('generation'))).isFile()).toBe(true)
    },
    timeout
  )

  it.each(['lock', 'lock.owner', 'audit.log', 'generation', 'state'])(
    'a link planted as .gitops-lite/%s is refused, naming it, before any change',
    async (name) => {
      const target = join(outside, `${name}-written`)
      const saved = join(fixture.work, `saved-${name}`)
      const had = existsSync(state(name))
      if (had) await writeFile(saved, await readFile(state(name)))
      await rm(state(name), { force: true })
      await symlink(target, state(name))
      try {
        const before = await containers(project)
        await writeWorkspace(workspace, { web: fixture.images.webV2, worker: fixture.images.worker, webPort })
        const run = expectFailure(await deploy(workspace, inputs()))
        expect(injectedCommands(run.stdout)).toEqual([])
        expect(run.annotations.find((a) => a.level === 'error')?.message).toContain(`${state(name)} is a symbolic link`)
        expect(await snapshot(outside)).toEqual(outsideBefore)
        expect(await containers(project)).toEqual(before)
        expect(await serves(webPort)).toBe('web v1')
      } finally {
        await rm(state(name))
        if (had) await writeFile(state(name), await readFile(saved))
      }
    },
    timeout
  )

  it(
    'a folder of remote-dir that is a link to elsewhere is refused, naming it; nothing is uploaded there',
    async () => {
      const conf = join(remoteDir, 'conf')
      const elsewhere = join(outside, 'conf')
      await rm(conf, { recursive: true })
      await mkdir(elsewhere)
      await symlink(elsewhere, conf)
      try {
        const before = await containers(project)
        await writeWorkspace(workspace, {
          web: fixture.images.webV1,
          worker: fixture.images.worker,
          webPort,
          motd: 'uploaded through the link\n'
        })
        const run = expectFailure(await deploy(workspace, inputs()))
        expect(injectedCommands(run.stdout)).toEqual([])
        expect(run.annotations.find((a) => a.level === 'error')?.message).toContain(`${conf} is a symbolic link`)
        expect(await snapshot(outside)).toEqual({ ...outsideBefore, conf: 'dir' })
        expect(await containers(project)).toEqual(before)
      } finally {
        await rm(conf)
        await rm(elsewhere, { recursive: true })
      }
      // With the folder back, the same deploy goes through.
      expectSuccess(await deploy(workspace, inputs()))
      expect(await readFile(join(remoteDir, 'conf', 'motd.txt'), 'utf8')).toBe('uploaded through the link\n')
    },
    timeout
  )

  it('nothing was ever written outside remote-dir', async () => {
    expect(await snapshot(outside)).toEqual(outsideBefore)
  })
})

describe("ssh-surgical-deploy: secrets in the VM's env files never reach the log, the outputs or the summary", () => {
  const secrets = {
    unterminated: 'unterminated-secret-7f3a9c',
    restart: 'restart-policy-secret-b81e4d',
    token: 'container-token-secret-5c20e1',
    password: 'healthcheck-password-secret-9d4471'
  }
  let secretDir: string
  let secretWorkspace: string
  const secretProject = `gl-attack-secret-${process.pid}`
  const secretInputs = () =>
    deployInputs(vm, {
      'remote-dir': secretDir,
      'project-name': secretProject,
      files: 'compose.yaml',
      'health-timeout': '20s'
    })

  beforeAll(async () => {
    secretDir = join(vm.remoteDir, 'secret-stack')
    await mkdir(secretDir, { recursive: true })
    fixture.group.trackComposeProject(secretProject)
    secretWorkspace = join(fixture.work, 'workspaces', 'secrets')
    await mkdir(secretWorkspace, { recursive: true })
  })

  /** Asserts that no secret is visible anywhere the runner shows or keeps, and no command was injected. */
  function expectNothingLeaked(run: ActionRun): void {
    const shown = readAsRunner(run.stdout).shown.join('\n')
    for (const secret of Object.values(secrets)) {
      expect(shown).not.toContain(secret)
      expect(run.stderr).not.toContain(secret)
      expect(JSON.stringify(run.outputs)).not.toContain(secret)
      expect(run.summary).not.toContain(secret)
    }
    expect(injectedCommands(run.stdout)).toEqual([])
  }

  async function compose(service: string): Promise<void> {
    await writeFile(join(secretWorkspace, 'compose.yaml'), `services:\n${service}`)
  }

  it(
    "compose's error about a malformed .env quotes no secret",
    async () => {
      await writeFile(join(secretDir, '.env'), `DB_PASSWORD="${secrets.unterminated}\n`)
      await compose(`  app:\n    image: ${fixture.images.webV1}\n`)
      const run = expectFailure(await deploy(secretWorkspace, secretInputs()))
      expect(run.stdout).toContain('unterminated quoted value')
      expectNothingLeaked(run)
    },
    timeout
  )

  it(
    "docker's error about a restart policy read from .env quotes no secret",
    async () => {
      await writeFile(join(secretDir, '.env'), `RESTART_POLICY=${secrets.restart}\n`)
      await compose(`  app:\n    image: ${fixture.images.webV1}\n    restart: \${RESTART_POLICY}\n`)
      const run = expectFailure(await deploy(secretWorkspace, secretInputs()))
      expect(run.stdout).toContain('restart policy')
      expectNothingLeaked(run)
    },
    timeout
  )

  it(
    'container log lines and healthcheck output after a failed deploy show no secret and act as no command',
    async () => {
      await writeFile(join(secretDir, '.env'), `DB_PASSWORD=${secrets.password}\n`)
      await writeFile(join(secretDir, '.app.env'), `APP_TOKEN='${secrets.token}'\n`)
      await compose(
        [
          '  app:',
          `    image: ${fixture.images.webV1}`,
          '    env_file: [.app.env]',
          '    environment: { DB_PASSWORD: "${DB_PASSWORD}" }',
          `    command: ["sh", "-c", "echo token=$$APP_TOKEN; echo '::warning::injected by the container'; exec busybox httpd -f -p 80 -h /www"]`,
          '    healthcheck:',
          `      test: ["CMD-SHELL", "echo password=$$DB_PASSWORD; echo '::error::injected by the healthcheck'; exit 1"]`,
          '      interval: 1s',
          '      retries: 1',
          ''
        ].join('\n')
      )
      const run = expectFailure(await deploy(secretWorkspace, secretInputs()))
      expect(run.stdout).toMatch(/Last \d+ log lines of app/)
      expect(run.stdout).toMatch(/Last healthchecks of app/)
      expectNothingLeaked(run)
    },
    timeout
  )

  it('keeps the run logs on the VM at mode 0600', async () => {
    const runs = join(secretDir, '.gitops-lite', 'runs')
    const logs = await readdir(runs)
    expect(logs.length).toBeGreaterThan(0)
    for (const run of logs) expect((await stat(join(runs, run, 'log'))).mode & 0o777).toBe(0o600)
  })
})
