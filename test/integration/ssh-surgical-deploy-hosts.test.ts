// ssh-surgical-deploy across two "VMs" (sshd on 127.0.0.1 and 127.0.0.2, each with its own
// home, .env and compose project), through a jump host, and with Compose v1 (docker-compose).
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { freePort, type SshHost } from '@gitops-lite/sandbox'
import {
  containers,
  deploy,
  deployInputs,
  expectFailure,
  expectSuccess,
  giveOwnHome,
  newWorkspace,
  output,
  readJsonLines,
  serves,
  startDeployFixture,
  startVm,
  timeout,
  writeVmSecrets,
  writeWorkspace,
  type DeployFixture,
  stopDeployFixture
} from './ssh-surgical-deploy/fixture'

let fixture: DeployFixture
let vmA: SshHost
let vmB: SshHost
const vms: { name: string; home: string; project: string; port: number }[] = []

beforeAll(async () => {
  fixture = await startDeployFixture('ssh-deploy-hosts')
  vmA = await startVm(fixture, 'vm-a', '127.0.0.1')
  vmB = await startVm(fixture, 'vm-b', '127.0.0.2')
  for (const name of ['vm-a', 'vm-b']) {
    const home = join(fixture.work, `${name}-home`)
    await giveOwnHome(fixture, name, home, vmA)
    const project = `gl-${name}-${process.pid}`
    const port = await freePort()
    fixture.group.trackComposeProject(project)
    // Each VM names its project and port in its own .env, as two real VMs would.
    await writeVmSecrets(join(home, 'stack'), { COMPOSE_PROJECT_NAME: project, WEB_PORT: String(port) })
    vms.push({ name, home, project, port })
  }
}, timeout)

afterAll(() => stopDeployFixture(fixture), timeout)

const bothHosts = () => ({
  host: [vmA, vmB].map((vm) => `${vm.username}@${vm.host}:${vm.port}`).join('\n'),
  'known-hosts': `${vmA.knownHostsLine}\n${vmB.knownHostsLine}`,
  'remote-dir': 'stack'
})

describe('ssh-surgical-deploy to two VMs in turn (VM1 -> health check -> VM2)', () => {
  let workspace: string

  it(
    'deploys to the first VM, waits for it to be healthy, then to the second',
    async () => {
      workspace = await newWorkspace(fixture, 'two-vms', { web: fixture.images.webV1, webPort: '${WEB_PORT}' })
      const run = expectSuccess(await deploy(workspace, deployInputs(vmA, bothHosts())))
      expect(output(run, 'deployed')).toEqual(['web'])
      for (const vm of vms) expect(await serves(vm.port)).toBe('web v1')
      const [auditA, auditB] = await Promise.all(
        vms.map((vm) => readJsonLines(join(vm.home, 'stack', '.gitops-lite', 'audit.log')))
      )
      expect(auditA).toHaveLength(1)
      expect(auditB).toHaveLength(1)
      const finishedA = Date.parse(String(auditA[0].time)) + Number(auditA[0].durationSeconds) * 1000
      expect(Date.parse(String(auditB[0].time))).toBeGreaterThanOrEqual(finishedA)
    },
    timeout
  )

  it(
    'stops at the first VM that fails: it is rolled back, the second is not touched',
    async () => {
      const before = await Promise.all(vms.map((vm) => containers(vm.project)))
      await writeWorkspace(workspace, { web: fixture.images.webBad, webPort: '${WEB_PORT}' })
      const run = expectFailure(await deploy(workspace, deployInputs(vmA, { ...bothHosts(), 'health-timeout': '30s' })))
      expect(run.outputs['rolled-back']).toBe('true')
      const plan = output(run, 'plan') as Record<string, { result: string }>
      expect(Object.values(plan).map((p) => p.result)).toEqual(['rolled-back', 'skipped'])
      expect(await serves(vms[0].port)).toBe('web v1')
      expect(await serves(vms[1].port)).toBe('web v1')
      expect(await containers(vms[1].project)).toEqual(before[1])
      expect(await readFile(join(vms[1].home, 'stack', 'compose.yaml'), 'utf8')).toContain(fixture.images.webV1)
    },
    timeout
  )

  it(
    'a VM whose host key is not trusted fails the run before any VM is changed',
    async () => {
      const before = await Promise.all(vms.map((vm) => containers(vm.project)))
      await writeWorkspace(workspace, { web: fixture.images.webV2, webPort: '${WEB_PORT}' })
      const run = expectFailure(
        await deploy(workspace, deployInputs(vmA, { ...bothHosts(), 'known-hosts': vmA.knownHostsLine }))
      )
      expect(run.stdout).toMatch(/Refusing 127\.0\.0\.2:\d+: its host key is not trusted/)
      expect(run.stdout).toMatch(/skipped, no host was deployed: .*127\.0\.0\.2.* could not be connected to/)
      const plan = output(run, 'plan') as Record<string, { result: string }>
      expect(Object.values(plan).map((p) => p.result)).toEqual(['skipped', 'failed'])
      expect(output(run, 'deployed')).toEqual([])
      for (const [index, vm] of vms.entries()) {
        expect(await serves(vm.port)).toBe('web v1')
        expect(await containers(vm.project)).toEqual(before[index])
      }
    },
    timeout
  )

  it(
    'reaches a VM through a jump host (proxy-host)',
    async () => {
      await writeWorkspace(workspace, { web: fixture.images.webV2, webPort: '${WEB_PORT}' })
      const run = expectSuccess(
        await deploy(
          workspace,
          deployInputs(vmA, {
            'remote-dir': 'stack',
            'known-hosts': vmA.knownHostsLine,
            'proxy-host': `${vmB.username}@${vmB.host}:${vmB.port}`,
            'proxy-known-hosts': vmB.knownHostsLine
          })
        )
      )
      expect(output(run, 'deployed')).toEqual(['web'])
      expect(await serves(vms[0].port)).toBe('web v2')
      expect(await serves(vms[1].port)).toBe('web v1')
    },
    timeout
  )
})

describe('ssh-surgical-deploy with Compose v1 (compose-command: docker-compose)', () => {
  const project = `gl-v1-${process.pid}`
  let workspace: string
  let remoteDir: string
  let port: number
  const v1Inputs = () => deployInputs(vmA, { 'remote-dir': remoteDir, 'compose-command': 'docker-compose' })

  beforeAll(async () => {
    remoteDir = join(fixture.work, project)
    port = await freePort()
    fixture.group.trackComposeProject(project)
    await writeVmSecrets(remoteDir, { WEB_PORT: String(port) })
    workspace = await newWorkspace(fixture, 'v1', {
      web: fixture.images.webV1,
      worker: fixture.images.worker,
      webPort: '${WEB_PORT}'
    })
  }, timeout)

  it(
    'first deploy, then a run that recreates nothing',
    async () => {
      const first = expectSuccess(await deploy(workspace, v1Inputs()))
      expect(output(first, 'deployed')).toEqual(['web', 'worker'])
      expect(first.stdout).toMatch(/compose v1/)
      expect(await serves(port)).toBe('web v1')
      const before = await containers(project)
      const again = expectSuccess(await deploy(workspace, v1Inputs()))
      expect(output(again, 'deployed')).toEqual([])
      expect(await containers(project)).toEqual(before)
    },
    timeout
  )

  it(
    'one changed service is replaced; a failing one is rolled back, with our own health polling',
    async () => {
      const before = await containers(project)
      await writeWorkspace(workspace, {
        web: fixture.images.webV2,
        worker: fixture.images.worker,
        webPort: '${WEB_PORT}'
      })
      expect(output(expectSuccess(await deploy(workspace, v1Inputs())), 'deployed')).toEqual(['web'])
      expect((await containers(project)).worker).toBe(before.worker)
      expect(await serves(port)).toBe('web v2')

      await writeWorkspace(workspace, {
        web: fixture.images.webBad,
        worker: fixture.images.worker,
        webPort: '${WEB_PORT}'
      })
      const failed = expectFailure(await deploy(workspace, { ...v1Inputs(), 'health-timeout': '30s' }))
      expect(failed.outputs['rolled-back']).toBe('true')
      expect(await serves(port)).toBe('web v2')
    },
    timeout
  )
})
