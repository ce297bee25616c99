// Start-first rollouts (deploy.update_config.order: start-first) through the committed bundle on
// the real bench: a real nginx (Debian's nginx-light, built with debootstrap) in front of web on
// the compose network, and a probe GETting through it every 20 ms during each deploy.
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  ensureNginxImage,
  exec,
  freePort,
  nginxProxyConfig,
  startProbes,
  type ProbeResult,
  type SshHost
} from '@gitops-lite/sandbox'
import {
  containers,
  deploy,
  deployInputs,
  expectFailure,
  expectSuccess,
  output,
  serves,
  startDeployFixture,
  startVm,
  timeout,
  writeVmSecrets,
  type DeployFixture,
  stopDeployFixture
} from './ssh-surgical-deploy/fixture'

let bench: DeployFixture
let vm: SshHost
let proxyImage: string
let workspace: string
const project = `gl-start-first-${process.pid}`
let port: number

beforeAll(async () => {
  bench = await startDeployFixture('ssh-deploy-start-first')
  vm = await startVm(bench, 'vm', '127.0.0.1')
  // Built once per package list and kept in the engine; pushed so the deploy can pull it.
  const built = await ensureNginxImage()
  proxyImage = `${bench.registry.address}/team/proxy:nginx`
  await exec('docker', ['tag', built, proxyImage])
  bench.group.trackImage(proxyImage)
  await exec('docker', ['push', '-q', proxyImage])
  bench.group.trackComposeProject(project)
  port = await freePort()
  await writeVmSecrets(vm.remoteDir, { COMPOSE_PROJECT_NAME: project, PROXY_PORT: String(port) })
  workspace = join(bench.work, 'workspace')
  await mkdir(join(workspace, 'conf'), { recursive: true })
  await writeFile(join(workspace, 'conf', 'nginx.conf'), nginxProxyConfig([{ listen: 80, service: 'web', port: 80 }]))
}, 15 * 60_000)

afterAll(() => stopDeployFixture(bench), timeout)

interface StackOptions {
  web: string
  /** Extra lines for web, e.g. a fixed published port. */
  webExtra?: string[]
  /** Extra lines for worker, e.g. a healthcheck that fails. */
  workerExtra?: string[]
}

async function writeStack(options: StackOptions): Promise<void> {
  const lines = [
    'services:',
    '  web:',
    `    image: ${options.web}`,
    // busybox httpd as PID 1 ignores SIGTERM; init forwards it.
    '    init: true',
    '    stop_grace_period: 2s',
    '    deploy:',
    '      replicas: 2',
    '      update_config: {order: start-first, parallelism: 1, monitor: 2s}',
    ...(options.webExtra ?? []),
    '  proxy:',
    `    image: ${proxyImage}`,
    '    ports: ["127.0.0.1:${PROXY_PORT}:80"]',
    '    volumes: ["./conf/nginx.conf:/etc/nginx/nginx.conf:ro"]',
    '  worker:',
    `    image: ${bench.images.worker}`,
    '    restart: unless-stopped',
    ...(options.workerExtra ?? [])
  ]
  await writeFile(join(workspace, 'compose.yaml'), lines.join('\n') + '\n')
}

const inputs = () => deployInputs(vm, { 'remote-dir': vm.remoteDir, files: 'compose.yaml\nconf/nginx.conf' })

/** Containers of web (sorted ids), and of the other services. */
async function webContainers(): Promise<string[]> {
  const { stdout } = await exec('docker', [
    'ps',
    '-aq',
    '--no-trunc',
    '--filter',
    `label=com.docker.compose.project=${project}`,
    '--filter',
    'label=com.docker.compose.service=web'
  ])
  return stdout.split('\n').filter(Boolean).sort()
}

/** Deploys while a probe GETs web through the proxy every 20 ms (from 0.5 s before until 1 s after). */
async function deployProbed(): Promise<{ run: Awaited<ReturnType<typeof deploy>>; probe: ProbeResult }> {
  const probes = startProbes([{ name: 'web', url: `http://127.0.0.1:${port}/`, intervalMs: 20 }], { maxMs: 300_000 })
  await new Promise((resolve) => setTimeout(resolve, 500))
  const run = await deploy(workspace, inputs())
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const [probe] = await probes.stop()
  return { run, probe }
}

describe('ssh-surgical-deploy: a start-first service behind a reverse proxy', () => {
  it(
    'first deploy: web comes up at its declared scale, and the plan names each strategy',
    async () => {
      await writeStack({ web: bench.images.webV1 })
      const run = expectSuccess(await deploy(workspace, inputs()))
      const plan = output(run, 'plan') as Record<string, { services: { service: string; strategy?: string }[] }>
      expect(Object.values(plan)[0].services.map((s) => [s.service, s.strategy])).toEqual([
        ['proxy', 'recreate'],
        ['web', 'start-first'],
        ['worker', 'recreate']
      ])
      expect(run.stdout).toMatch(/web +deploy +new +start-first/)
      expect(await webContainers()).toHaveLength(2)
      expect(await serves(port)).toBe('web v1')
    },
    timeout
  )

  it(
    'an update: new containers beside the old ones, not one failed request, the others untouched',
    async () => {
      const web = await webContainers()
      const others = await containers(project)
      await writeStack({ web: bench.images.webV2 })
      const { run, probe } = await deployProbed()
      expectSuccess(run)
      expect(run.stdout).toContain('Replacing web start-first')
      expect(run.stdout).toContain('web: stopped 1 old container(s) (stop grace period 2 s)')
      expect(probe).toMatchObject({ failures: 0, lastBody: 'web v2' })
      expect(probe.probes).toBeGreaterThan(100)
      const now = await webContainers()
      expect(now).toHaveLength(2)
      expect(now.filter((id) => web.includes(id))).toEqual([])
      const after = await containers(project)
      expect([after.proxy, after.worker]).toEqual([others.proxy, others.worker])
    },
    timeout
  )

  it(
    'a release that never becomes healthy is removed; the old containers serve throughout',
    async () => {
      const web = await webContainers()
      await writeStack({ web: bench.images.webBad })
      const { run, probe } = await deployProbed()
      expectFailure(run)
      expect(run.outputs['rolled-back']).toBe('true')
      expect(probe).toMatchObject({ failures: 0, lastBody: 'web v2' })
      // Held off the service name until healthy, the bad release never answered.
      expect(Object.keys(probe.bodies)).toEqual(['web v2'])
      expect(await webContainers()).toEqual(web)
    },
    timeout
  )

  it(
    'when a recreated service fails, a start-first service already replaced goes back start-first',
    async () => {
      const web = await webContainers()
      const worker = (await containers(project)).worker
      await writeStack({
        web: bench.images.webV1,
        workerExtra: ['    healthcheck: {test: ["CMD", "false"], interval: 1s, retries: 1}']
      })
      const { run, probe } = await deployProbed()
      expectFailure(run)
      expect(run.outputs['rolled-back']).toBe('true')
      expect(run.stdout).toContain('Bringing the previous version of web back, start-first')
      expect(probe).toMatchObject({ failures: 0, lastBody: 'web v2' })
      const now = await webContainers()
      expect(now).toHaveLength(2)
      expect(now.filter((id) => web.includes(id))).toEqual([])
      expect((await containers(project)).worker).not.toBe(worker)
      expect(await serves(port)).toBe('web v2')
    },
    timeout
  )

  it(
    'refuses, before touching anything, a start-first service that publishes a fixed host port',
    async () => {
      const before = await containers(project)
      const fixed = await freePort()
      await writeStack({ web: bench.images.webV1, webExtra: [`    ports: ["127.0.0.1:${fixed}:80"]`] })
      const run = expectFailure(await deploy(workspace, inputs()))
      expect(run.stdout).toContain('web: its ports entry 1 (container port 80) publishes a fixed host port')
      expect(run.stdout).toContain('reverse proxy on the compose network')
      expect(await containers(project)).toEqual(before)
      expect(await serves(port)).toBe('web v2')
    },
    timeout
  )
})
