// ssh-surgical-deploy, run as the runner runs it, against a real sshd on 127.0.0.1, the real
// Docker engine with Compose v2 and a local registry. The scenarios build on each other: one
// stack on one VM, deployed, changed, broken, drifted and raced.
import { existsSync } from 'node:fs'
import { readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { exec, httpGet, waitUntil, type SshHost } from '@gitops-lite/sandbox'
import {
  composeFile,
  containers,
  deploy,
  deployInputs,
  expectFailure,
  expectSuccess,
  fileState,
  output,
  readJsonLines,
  serves,
  timeout,
  writeWorkspace,
  type DeployFixture,
  startStackSuite,
  stopDeployFixture
} from './ssh-surgical-deploy/fixture'
import { readAsRunner } from '../helpers/runner-log'

let fixture: DeployFixture
let vm: SshHost
let workspace: string
let remoteDir: string
let webPort: number
const project = `gl-deploy-${process.pid}`
const state = (name: string) => join(remoteDir, '.gitops-lite', name)

beforeAll(async () => {
  ;({ fixture, vm, remoteDir, webPort, workspace } = await startStackSuite('ssh-deploy', project))
}, timeout)

afterAll(() => stopDeployFixture(fixture), timeout)

const inputs = (extra: Record<string, string> = {}) =>
  deployInputs(vm, { 'remote-dir': remoteDir, 'project-name': project, ...extra })

describe('ssh-surgical-deploy on one VM (Compose v2)', () => {
  let secretsBefore: { env: string; webEnv: string }

  it(
    'first deploy: uploads the files, starts every service healthy, records the deploy',
    async () => {
      secretsBefore = {
        env: await fileState(join(remoteDir, '.env')),
        webEnv: await fileState(join(remoteDir, '.web.env'))
      }
      const run = expectSuccess(await deploy(workspace, inputs(), { GITHUB_SHA: 'a'.repeat(40) }))

      expect(output(run, 'deployed')).toEqual(['web', 'worker'])
      expect(run.outputs['rolled-back']).toBe('false')
      expect(output(run, 'rolled-back-images')).toEqual([])
      expect(await serves(webPort)).toBe('web v1')
      expect(await readFile(join(remoteDir, 'compose.yaml'), 'utf8')).toBe(
        await readFile(join(workspace, 'compose.yaml'), 'utf8')
      )
      expect(await readFile(join(remoteDir, 'conf', 'motd.txt'), 'utf8')).toBe('hello\n')
      const [header, ...services] = await readJsonLines(state('state'))
      expect(header).toMatchObject({ kind: 'deploy', sha: 'a'.repeat(40), project, compose: 'v2' })
      expect(services.map((s) => s.service).sort()).toEqual(['web', 'worker'])
      const audit = await readJsonLines(state('audit.log'))
      expect(audit).toEqual([
        expect.objectContaining({
          result: 'success',
          services: ['web', 'worker'],
          actor: 'octocat',
          sha: 'a'.repeat(40)
        })
      ])
      expect(run.summary).toContain('web')
      // The VM's env values are handed to the runner to mask, and shown nowhere.
      expect(run.stdout).toContain('::add-mask::s3cr3t-value')
      expect(readAsRunner(run.stdout).shown.join('\n')).not.toContain('s3cr3t-value')
    },
    timeout
  )

  it(
    'no change: recreates nothing and changes nothing on the VM',
    async () => {
      const before = await containers(project)
      const run = expectSuccess(await deploy(workspace, inputs()))
      expect(output(run, 'deployed')).toEqual([])
      expect(await containers(project)).toEqual(before)
      expect(await readJsonLines(state('audit.log'))).toHaveLength(1)
    },
    timeout
  )

  it(
    'dry-run: prints the plan and changes nothing',
    async () => {
      const before = await containers(project)
      await writeWorkspace(workspace, { web: fixture.images.webV2, worker: fixture.images.worker, webPort })
      const run = expectSuccess(await deploy(workspace, inputs({ 'dry-run': 'true' })))
      const plan = output(run, 'plan') as Record<
        string,
        { result: string; services: { service: string; deploy: boolean }[] }
      >
      const hostPlan = Object.values(plan)[0]
      expect(hostPlan.result).toBe('dry-run')
      expect(hostPlan.services.filter((s) => s.deploy).map((s) => s.service)).toEqual(['web'])
      expect(run.stdout).toMatch(/web\s+deploy\s+changed/)
      expect(await containers(project)).toEqual(before)
      expect(await readFile(join(remoteDir, 'compose.yaml'), 'utf8')).toContain(fixture.images.webV1)
      expect(await serves(webPort)).toBe('web v1')
    },
    timeout
  )

  it(
    'one changed service: only its container is replaced',
    async () => {
      const before = await containers(project)
      const run = expectSuccess(await deploy(workspace, inputs()))
      expect(output(run, 'deployed')).toEqual(['web'])
      const after = await containers(project)
      expect(after.worker).toBe(before.worker)
      expect(after.web).not.toBe(before.web)
      expect(await serves(webPort)).toBe('web v2')
    },
    timeout
  )

  it(
    'a changed mounted file redeploys the service that mounts it',
    async () => {
      const before = await containers(project)
      await writeWorkspace(workspace, {
        web: fixture.images.webV2,
        worker: fixture.images.worker,
        webPort,
        motd: 'new motd\n'
      })
      const run = expectSuccess(await deploy(workspace, inputs()))
      expect(output(run, 'deployed')).toEqual(['web'])
      expect((await containers(project)).worker).toBe(before.worker)
      expect(await fetchMotd()).toBe('new motd\n')
    },
    timeout
  )

  it(
    'an image whose healthcheck fails: the step fails and the previous version serves again',
    async () => {
      const before = await containers(project)
      const composeBefore = await readFile(join(remoteDir, 'compose.yaml'), 'utf8')
      await writeWorkspace(workspace, {
        web: fixture.images.webBad,
        worker: fixture.images.worker,
        webPort,
        motd: 'new motd\n'
      })
      const run = expectFailure(await deploy(workspace, inputs({ 'health-timeout': '30s' })))

      expect(run.outputs['rolled-back']).toBe('true')
      // What went back, for bump-image-tag's restore: the image of the last good deploy, from the host's record.
      expect(output(run, 'rolled-back-images')).toEqual([
        expect.objectContaining({
          file: 'compose.yaml',
          service: 'web',
          failedImage: fixture.images.webBad,
          restoredImage: fixture.images.webV2,
          failed: true
        })
      ])
      expect(run.summary).toContain(`Running again: web ${fixture.images.webV2} (${fixture.images.webBad} failed)`)
      expect(run.annotations.find((a) => a.level === 'error')?.message).toMatch(
        /web is unhealthy; the previous version was restored/
      )
      // The bad image logs nothing: the failing service's diagnostics say so, then show its healthchecks.
      expect(run.stdout).toMatch(/web \(container [0-9a-f]{12}\) logged nothing\./)
      expect(run.stdout).toMatch(/Last healthchecks of web:/)
      expect(await readFile(join(remoteDir, 'compose.yaml'), 'utf8')).toBe(composeBefore)
      expect(await serves(webPort)).toBe('web v2')
      expect((await containers(project)).worker).toBe(before.worker)
      expect((await readJsonLines(state('audit.log'))).at(-1)).toMatchObject({
        result: 'rolled-back',
        services: ['web']
      })
    },
    timeout
  )

  it(
    'a container removed by hand (drift) is healed; the others keep their containers',
    async () => {
      await writeWorkspace(workspace, {
        web: fixture.images.webV2,
        worker: fixture.images.worker,
        webPort,
        motd: 'new motd\n'
      })
      const before = await containers(project)
      await exec('docker', ['rm', '-f', before.worker])
      const run = expectSuccess(await deploy(workspace, inputs()))
      expect(output(run, 'drifted')).toEqual(['worker'])
      expect(output(run, 'deployed')).toEqual(['worker'])
      const after = await containers(project)
      expect(after.web).toBe(before.web)
      expect(after.worker).toBeDefined()
    },
    timeout
  )

  it(
    'a wrong host key: refused before authenticating, nothing changed',
    async () => {
      const before = await containers(project)
      const audit = (await readJsonLines(state('audit.log'))).length
      const impostorKey = join(fixture.work, 'impostor_ed25519')
      await exec('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', impostorKey])
      const impostorLine = `[127.0.0.1]:${vm.port} ${(await readFile(`${impostorKey}.pub`, 'utf8')).split(' ').slice(0, 2).join(' ')}`
      await writeWorkspace(workspace, {
        web: fixture.images.webV1,
        worker: fixture.images.worker,
        webPort,
        motd: 'new motd\n'
      })
      const run = expectFailure(await deploy(workspace, inputs({ 'known-hosts': impostorLine })))
      const error = run.annotations.find((a) => a.level === 'error')?.message ?? ''
      expect(error).toContain(`offered ${vm.fingerprint}`)
      expect(error).toMatch(/trusted: SHA256:\S+ \(ssh-ed25519, known-hosts line 1\)/)
      expect(await containers(project)).toEqual(before)
      expect(await readJsonLines(state('audit.log'))).toHaveLength(audit)
      expect(await readFile(join(remoteDir, 'compose.yaml'), 'utf8')).toContain(fixture.images.webV2)
    },
    timeout
  )

  it(
    'two concurrent runs are serialized by the lock',
    async () => {
      // Both carry web v1; one deploys it, the other waits for the lock, re-plans and finds nothing to do.
      const runs = await Promise.all([deploy(workspace, inputs()), deploy(workspace, inputs())])
      runs.forEach(expectSuccess)
      const deployed = runs.map((run) => output(run, 'deployed') as string[])
      expect(deployed.flat()).toEqual(['web'])
      const waiter = runs[deployed.findIndex((d) => d.length === 0)]
      expect(waiter.stdout).toMatch(/Waiting for the deploy lock|Waited for the deploy lock|planning again/)
      expect(await serves(webPort)).toBe('web v1')
      const audit = await readJsonLines(state('audit.log'))
      expect(audit.filter((a) => a.result === 'success').at(-1)).toMatchObject({ services: ['web'] })
    },
    timeout
  )

  it(
    'a connection cut mid-deploy: the host finishes the deploy, and a rerun converges',
    async () => {
      await writeWorkspace(workspace, {
        web: fixture.images.webSlow,
        worker: fixture.images.worker,
        webPort,
        motd: 'new motd\n'
      })
      const first = deploy(workspace, inputs())
      const runs = join(remoteDir, '.gitops-lite', 'runs')
      let log = ''
      await waitUntil(
        'the deploy to recreate web',
        async () => {
          for (const run of existsSync(runs) ? await readdir(runs) : []) {
            const text = await readFile(join(runs, run, 'log'), 'utf8').catch(() => '')
            if (/phase health web/.test(text) && !existsSync(join(runs, run, 'rc'))) log = join(runs, run, 'log')
          }
          return log !== ''
        },
        { timeoutMs: 60_000, intervalMs: 100 }
      )
      await cutConnections(vm)
      const cut = await first
      expect(cut.exitCode).not.toBe(0)
      expect(cut.stdout).toMatch(/connection to .* was lost/)

      const rerun = expectSuccess(await deploy(workspace, inputs()))
      expect(rerun.stdout).toMatch(/Waiting for the deploy lock|Waited for the deploy lock|Nothing to do/)
      expect(await serves(webPort)).toBe('web slow')
      expect((await readJsonLines(state('audit.log'))).at(-1)).toMatchObject({ result: 'success' })
      expect(await readFile(log, 'utf8')).toMatch(/result success/)
    },
    timeout
  )

  it('the VM keeps its own .env and .web.env, untouched', async () => {
    expect(await fileState(join(remoteDir, '.env'))).toBe(secretsBefore.env)
    expect(await fileState(join(remoteDir, '.web.env'))).toBe(secretsBefore.webEnv)
  })

  it(
    'an uploaded file edited by hand on the VM is drift: put back, and the service that mounts it recreated',
    async () => {
      const before = await containers(project)
      await writeFile(join(remoteDir, 'conf', 'motd.txt'), 'hot fix made on the VM\n')
      const run = expectSuccess(await deploy(workspace, inputs()))
      expect(output(run, 'drifted')).toEqual(['web'])
      expect(output(run, 'deployed')).toEqual(['web'])
      expect(run.stdout).toMatch(/conf\/motd\.txt was edited on the host/)
      expect(await fetchMotd()).toBe('new motd\n')
      const after = await containers(project)
      expect(after.web).not.toBe(before.web)
      expect(after.worker).toBe(before.worker)
    },
    timeout
  )

  it(
    'a service removed from the file is stopped and removed; the other keeps its container',
    async () => {
      const before = await containers(project)
      await writeWorkspace(workspace, { web: fixture.images.webSlow, webPort, motd: 'new motd\n' })
      const run = expectSuccess(await deploy(workspace, inputs()))
      expect(output(run, 'removed')).toEqual(['worker'])
      expect(output(run, 'deployed')).toEqual([])
      expect(await containers(project)).toEqual({ web: before.web })
      expect((await readJsonLines(state('audit.log'))).at(-1)).toMatchObject({ result: 'success', removed: ['worker'] })
    },
    timeout
  )

  it(
    'a new top-level network is a full deploy: every service recreated on it',
    async () => {
      const before = await containers(project)
      const compose = `${composeFile({ web: fixture.images.webSlow, webPort })}    networks: [default, backend]\nnetworks:\n  backend: {}\n`
      await writeFile(join(workspace, 'compose.yaml'), compose)
      const run = expectSuccess(await deploy(workspace, inputs()))
      expect(output(run, 'deployed')).toEqual(['web'])
      const plan = Object.values(output(run, 'plan') as Record<string, { mode: string; fullReason?: string }>)[0]
      expect(plan).toMatchObject({ mode: 'full', fullReason: 'the top-level networks or volumes changed' })
      const after = await containers(project)
      expect(after.web).not.toBe(before.web)
      const { stdout } = await exec('docker', [
        'inspect',
        '--format',
        '{{range $name, $_ := .NetworkSettings.Networks}}{{$name}} {{end}}',
        after.web
      ])
      expect(stdout.trim().split(' ').sort()).toEqual([`${project}_backend`, `${project}_default`])
      expect(await serves(webPort)).toBe('web slow')
    },
    timeout
  )

  it(
    'refuses to upload a .env file, before connecting',
    async () => {
      const run = expectFailure(await deploy(workspace, inputs({ files: 'compose.yaml\n.web.env' })))
      expect(run.annotations[0]?.message).toMatch(/is a \.env file: secrets stay on the VM/)
    },
    timeout
  )

  async function fetchMotd(): Promise<string | undefined> {
    return (await httpGet(`http://127.0.0.1:${webPort}/motd.txt`))?.body
  }
})

/** Kills the VM's per-connection sshd processes (children of the sshd we started): the network "drops". */
async function cutConnections(host: SshHost): Promise<void> {
  const children = (await readFile(`/proc/${host.pid}/task/${host.pid}/children`, 'utf8'))
    .trim()
    .split(/\s+/)
    .filter(Boolean)
  for (const pid of children) process.kill(Number(pid), 'SIGKILL')
}
