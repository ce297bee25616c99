// ssh-surgical-deploy under faults, against real parts (sshd, Docker engine, registry): the
// SSH session killed while compose recreates and while the health wait runs, damaged state
// files on the VM, concurrent deploys and a remote-dir the deploy cannot change. After each,
// the host converges, the lock is free, and a rerun is a no-op.
import { existsSync } from 'node:fs'
import { readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { exec, waitUntil, type SshHost } from '@gitops-lite/sandbox'
import {
  composeFile,
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
  type StackOptions,
  startStackSuite,
  stopDeployFixture
} from './ssh-surgical-deploy/fixture'

let fixture: DeployFixture
let vm: SshHost
let workspace: string
let remoteDir: string
let webPort: number
const project = `gl-faults-${process.pid}`
const state = (name: string) => join(remoteDir, '.gitops-lite', name)

beforeAll(async () => {
  ;({ fixture, vm, remoteDir, webPort, workspace } = await startStackSuite('ssh-deploy-faults', project))
}, timeout)

afterAll(async () => {
  await exec('chattr', ['-i', remoteDir]).catch(() => undefined)
  await stopDeployFixture(fixture)
}, timeout)

const inputs = (extra: Record<string, string> = {}) =>
  deployInputs(vm, { 'remote-dir': remoteDir, 'project-name': project, ...extra })

/** A worker that ignores SIGTERM and may take 8 s to stop: a window inside compose's recreate. */
async function writeSlowStopStack(options: StackOptions & { workerVersion: string }): Promise<void> {
  const worker = [
    '  worker:',
    `    image: ${fixture.images.worker}`,
    `    command: ["sh", "-c", "trap '' TERM; echo ${options.workerVersion}; while true; do sleep 1; done"]`,
    '    stop_grace_period: 8s'
  ]
  await writeWorkspace(workspace, options)
  await writeFile(join(workspace, 'compose.yaml'), composeFile(options) + worker.join('\n') + '\n')
}

/** Waits until an apply's log on the VM matches `pattern` while the apply still runs; returns its folder. */
async function applyReaching(pattern: RegExp): Promise<string> {
  const runs = state('runs')
  let found = ''
  await waitUntil(
    `an apply to reach ${pattern}`,
    async () => {
      for (const run of existsSync(runs) ? await readdir(runs) : []) {
        const text = await readFile(join(runs, run, 'log'), 'utf8').catch(() => '')
        if (pattern.test(text) && !existsSync(join(runs, run, 'rc'))) found = join(runs, run)
      }
      return found !== ''
    },
    { timeoutMs: 90_000, intervalMs: 100 }
  )
  return found
}

async function lockIsFree(): Promise<boolean> {
  const result = await exec('flock', ['-n', state('lock'), 'true'], { allowFailure: true })
  return result.code === 0
}

/** The deploy converged: the lock is free and a rerun finds nothing to do and changes nothing. */
async function expectConverged(): Promise<void> {
  expect(await lockIsFree()).toBe(true)
  const before = await containers(project)
  const audit = (await readJsonLines(state('audit.log'))).length
  const rerun = expectSuccess(await deploy(workspace, inputs()))
  expect(output(rerun, 'deployed')).toEqual([])
  expect(await containers(project)).toEqual(before)
  expect(await readJsonLines(state('audit.log'))).toHaveLength(audit)
}

describe('ssh-surgical-deploy under faults', () => {
  it(
    'first deploy (the base the faults start from)',
    async () => {
      await writeSlowStopStack({ web: fixture.images.webV1, webPort, workerVersion: 'v1' })
      expectSuccess(await deploy(workspace, inputs()))
      expect(await serves(webPort)).toBe('web v1')
    },
    timeout
  )

  it(
    'the SSH session killed while compose recreates: the host finishes, the lock is freed, a rerun is a no-op',
    async () => {
      await writeSlowStopStack({ web: fixture.images.webV1, webPort, workerVersion: 'v2' })
      const first = deploy(workspace, inputs())
      const run = await applyReaching(/phase up/)
      expect(await readFile(join(run, 'log'), 'utf8')).not.toMatch(/phase health/)
      await cutConnections(vm)
      expect((await first).exitCode).not.toBe(0)
      await waitUntil('the apply to finish on the host', async () => existsSync(join(run, 'rc')), { timeoutMs: 90_000 })
      expect(await readFile(join(run, 'log'), 'utf8')).toMatch(/result success/)
      await expectConverged()
    },
    timeout
  )

  it(
    'the SSH session killed during the health wait: the host finishes, the lock is freed, a rerun is a no-op',
    async () => {
      await writeSlowStopStack({ web: fixture.images.webSlow, webPort, workerVersion: 'v2' })
      const first = deploy(workspace, inputs())
      const run = await applyReaching(/phase health web/)
      await cutConnections(vm)
      expect((await first).exitCode).not.toBe(0)
      await waitUntil('the apply to finish on the host', async () => existsSync(join(run, 'rc')), { timeoutMs: 90_000 })
      expect(await serves(webPort)).toBe('web slow')
      await expectConverged()
    },
    timeout
  )

  it(
    'two concurrent deploys: one deploys, the other waits and finds nothing to do',
    async () => {
      await writeSlowStopStack({ web: fixture.images.webV2, webPort, workerVersion: 'v2' })
      const runs = await Promise.all([deploy(workspace, inputs()), deploy(workspace, inputs())])
      runs.forEach(expectSuccess)
      expect(runs.flatMap((run) => output(run, 'deployed') as string[])).toEqual(['web'])
      expect(await serves(webPort)).toBe('web v2')
      await expectConverged()
    },
    timeout
  )

  it.each([
    ['empty', ''],
    ['without its trailing newline', '7'],
    ['a 30-digit number', '123456789012345678901234567890\n'],
    ['not a number', 'seven\n']
  ])(
    'a .gitops-lite/generation that is %s is reported and rebuilt; the deploy goes on',
    async (_, content) => {
      await writeFile(state('generation'), content)
      await writeSlowStopStack({ web: fixture.images.webV1, webPort, workerVersion: 'v2' })
      const run = expectSuccess(await deploy(workspace, inputs()))
      expect(output(run, 'deployed')).toEqual(['web'])
      expect(
        run.annotations
          .filter((a) => a.level === 'warning')
          .map((a) => a.message)
          .join('\n')
      ).toMatch(/\.gitops-lite\/generation .*damaged/)
      expect(await readFile(state('generation'), 'utf8')).toMatch(/^\d+\n$/)
      await writeSlowStopStack({ web: fixture.images.webV2, webPort, workerVersion: 'v2' })
      expectSuccess(await deploy(workspace, inputs()))
      await expectConverged()
    },
    timeout
  )

  it(
    'a corrupt deploy record is reported, not dropped silently, and rebuilt from what runs',
    async () => {
      const record = await readFile(state('state'), 'utf8')
      await writeFile(state('state'), record.slice(0, Math.floor(record.length / 2)))
      const run = expectSuccess(await deploy(workspace, inputs()))
      expect(
        run.annotations
          .filter((a) => a.level === 'warning')
          .map((a) => a.message)
          .join('\n')
      ).toMatch(/\.gitops-lite\/state .*damaged/)
      // The rebuilt record is whole again: the next run trusts it and warns no more.
      const next = expectSuccess(await deploy(workspace, inputs()))
      expect(next.annotations.filter((a) => a.level === 'warning')).toEqual([])
      expect(output(next, 'deployed')).toEqual([])
    },
    timeout
  )

  it(
    'an audit.log cut mid-line does not glue the next entry onto it',
    async () => {
      await writeFile(
        state('audit.log'),
        (await readFile(state('audit.log'), 'utf8')) + '{"time":"2026-01-01T00:00:00Z","act'
      )
      await writeSlowStopStack({ web: fixture.images.webV1, webPort, workerVersion: 'v2' })
      expectSuccess(await deploy(workspace, inputs()))
      const lines = (await readFile(state('audit.log'), 'utf8')).split('\n').filter(Boolean)
      expect(lines.at(-2)).toBe('{"time":"2026-01-01T00:00:00Z","act')
      expect(JSON.parse(lines.at(-1) ?? '')).toMatchObject({ result: 'success', services: ['web'] })
    },
    timeout
  )

  it(
    'an immutable remote-dir: the swap fails, nothing changed, and the report says so',
    async () => {
      const before = await containers(project)
      const composeBefore = await readFile(join(remoteDir, 'compose.yaml'), 'utf8')
      await writeSlowStopStack({
        web: fixture.images.webV2,
        webPort,
        workerVersion: 'v2',
        motd: 'motd that cannot land\n'
      })
      await exec('chattr', ['+i', remoteDir])
      let run
      try {
        run = expectFailure(await deploy(workspace, inputs()))
      } finally {
        await exec('chattr', ['-i', remoteDir])
      }
      const error = run.annotations.find((a) => a.level === 'error')?.message ?? ''
      expect(error).not.toMatch(/could not be put back|needs attention/)
      expect(error).toMatch(/stopped before changing any container/)
      expect(error).toMatch(/the new compose\.yaml could not be put in place/)
      expect(await readFile(join(remoteDir, 'compose.yaml'), 'utf8')).toBe(composeBefore)
      expect(await containers(project)).toEqual(before)
      // (audit.log still holds the line an earlier test cut short)
      const audit = (await readFile(state('audit.log'), 'utf8')).trimEnd().split('\n')
      expect(JSON.parse(audit.at(-1) ?? '')).toMatchObject({ result: 'failed' })
      expect(await lockIsFree()).toBe(true)
    },
    timeout
  )
})

/** Kills the VM's per-connection sshd processes (children of the sshd we started): the network "drops". */
async function cutConnections(host: SshHost): Promise<void> {
  const children = (await readFile(`/proc/${host.pid}/task/${host.pid}/children`, 'utf8'))
    .trim()
    .split(/\s+/)
    .filter(Boolean)
  for (const pid of children) process.kill(Number(pid), 'SIGKILL')
}
