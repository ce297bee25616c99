// orchestrator: swarm on a real two-node swarm: the test engine as the manager, and a second
// dockerd in a network namespace this test creates, joined as a worker (the only addresses used
// are the namespace's). The worker pulls the bench registry's loopback image names through two
// forwarders: 127.0.0.1:PORT in the namespace -> the manager's veth address -> 127.0.0.1:PORT.
import { randomBytes } from 'node:crypto'
import { createConnection, createServer, type Server } from 'node:net'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  exec,
  pushWithLogin,
  secretNeedles,
  startRegistry,
  waitUntil,
  type ManagedProcess,
  type Registry,
  type SshHost
} from '@gitops-lite/sandbox'
import type { ActionRun } from '../helpers/run-action'
import {
  deploy,
  deployInputs,
  expectFailure,
  expectSuccess,
  giveOwnHome,
  output,
  printed,
  startDeployFixture,
  startVm,
  timeout,
  type DeployFixture
} from './ssh-surgical-deploy/fixture'

const id = `gl${process.pid % 100000}`
const subnet = `10.213.${process.pid % 250}`
const managerAddress = `${subnet}.1`
const workerAddress = `${subnet}.2`
const namespace = `${id}-ns`
const hostVeth = `${id}h`
const workerVeth = `${id}w`
const workerSocket = `unix:///var/run/docker-${id}.sock`
const workerRoot = `/var/lib/docker-${id}`
const workerExecRoot = `/var/run/docker-${id}`
const stack = `glnodes${process.pid}`
const login = { username: 'deployer', password: `pw-${randomBytes(12).toString('hex')}` }

let bench: DeployFixture
let vm: SshHost
let workspace: string
let workerEngine: ManagedProcess | undefined
let workerNode = ''
const hostForwarders: Server[] = []
/** Requires `login`; holds an image the worker can get only with it. */
let privateRegistry: Registry
let privateImage = ''
/** The VM login's home and temporary folder: a deploy must leave no credentials there. */
let home = ''
let vmTmp = ''
/** Set when the engine was already in a swarm: this suite then does not run (it must create its own). */
let skip = false

async function docker(args: string[]): Promise<string> {
  return (await exec('docker', args)).stdout.trim()
}

/** A node script that forwards TCP connections from `from` to `to` (host:port each). */
function forwarderScript(from: string, to: string): string {
  const [fromHost, fromPort] = from.split(':')
  const [toHost, toPort] = to.split(':')
  return `const net = require('node:net'); net.createServer((c) => { const u = net.connect(${toPort}, '${toHost}'); c.pipe(u).pipe(c); c.on('error', () => u.destroy()); u.on('error', () => c.destroy()) }).listen(${fromPort}, '${fromHost}')`
}

/** Makes 127.0.0.1:port inside the namespace reach 127.0.0.1:port here (a registry), through the veth. */
async function forwardToWorker(port: number): Promise<void> {
  const forwarder = createServer((client) => {
    const upstream = createConnection(port, '127.0.0.1')
    client.pipe(upstream).pipe(client)
    client.on('error', () => upstream.destroy())
    upstream.on('error', () => client.destroy())
  })
  hostForwarders.push(forwarder)
  await new Promise<void>((resolve) => forwarder.listen(port, managerAddress, resolve))
  bench.group.start(`forwarder-in-namespace-${port}`, 'nsenter', [
    `--net=/var/run/netns/${namespace}`,
    process.execPath,
    '-e',
    forwarderScript(`127.0.0.1:${port}`, `${managerAddress}:${port}`)
  ])
}

function startWorkerEngine(): ManagedProcess {
  return bench.group.start(
    'dockerd-worker',
    'nsenter',
    [
      `--net=/var/run/netns/${namespace}`,
      'dockerd',
      '--data-root',
      workerRoot,
      '--exec-root',
      workerExecRoot,
      '-H',
      workerSocket,
      '--pidfile',
      `/var/run/docker-${id}.pid`,
      '--containerd-namespace',
      `${id}`,
      '--containerd-plugins-namespace',
      `${id}-plugins`,
      '--bridge=none',
      '--iptables=false',
      '--ip6tables=false'
    ],
    { logFile: join(bench.work, 'dockerd-worker.log') }
  )
}

async function waitForWorkerEngine(): Promise<void> {
  await waitUntil(
    'the worker dockerd',
    async () =>
      await exec('docker', ['-H', workerSocket, 'version']).then(
        () => true,
        () => false
      ),
    { timeoutMs: 60_000 }
  )
}

beforeAll(async () => {
  if ((await docker(['info', '--format', '{{.Swarm.LocalNodeState}}'])) !== 'inactive') {
    skip = true
    return
  }
  bench = await startDeployFixture('ssh-deploy-swarm-nodes')
  vm = await startVm(bench, 'vm', '127.0.0.1')
  bench.group.defer('delete the namespace and its veth', async () => {
    await exec('ip', ['link', 'del', hostVeth]).catch(() => undefined)
    await exec('ip', ['netns', 'del', namespace]).catch(() => undefined)
  })
  await exec('ip', ['netns', 'add', namespace])
  await exec('ip', ['link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', workerVeth])
  await exec('ip', ['link', 'set', workerVeth, 'netns', namespace])
  await exec('ip', ['addr', 'add', `${managerAddress}/24`, 'dev', hostVeth])
  await exec('ip', ['link', 'set', hostVeth, 'up'])
  await exec('ip', [
    'netns',
    'exec',
    namespace,
    'sh',
    '-c',
    `ip addr add ${workerAddress}/24 dev ${workerVeth} && ip link set ${workerVeth} up && ip link set lo up`
  ])
  // The registries, reached from the namespace's loopback.
  privateRegistry = await startRegistry({ dir: join(bench.work, 'private-registry'), group: bench.group, auth: login })
  privateImage = `${privateRegistry.address}/team/private:v1`
  await pushWithLogin(privateRegistry, login, [[bench.images.worker, privateImage]])
  for (const port of [bench.registry.port, privateRegistry.port]) await forwardToWorker(port)
  workerEngine = startWorkerEngine()
  await waitForWorkerEngine()
  await docker(['swarm', 'init', '--advertise-addr', managerAddress, '--listen-addr', `${managerAddress}:2377`])
  const token = await docker(['swarm', 'join-token', '-q', 'worker'])
  await exec('docker', [
    '-H',
    workerSocket,
    'swarm',
    'join',
    '--token',
    token,
    '--advertise-addr',
    workerAddress,
    '--listen-addr',
    `${workerAddress}:2377`,
    `${managerAddress}:2377`
  ])
  workerNode = await (await exec('docker', ['-H', workerSocket, 'info', '--format', '{{.Swarm.NodeID}}'])).stdout.trim()
  await docker(['node', 'update', '--label-add', 'role=worker', workerNode])
  home = join(bench.work, 'vm-home')
  vmTmp = join(bench.work, 'vm-tmp')
  await giveOwnHome(bench, 'vm', home, vm, vmTmp)
  await mkdir(vm.remoteDir, { recursive: true })
  await writeFile(join(vm.remoteDir, '.env'), '')
  workspace = join(bench.work, 'workspace')
  await mkdir(workspace, { recursive: true })
}, 15 * 60_000)

afterAll(async () => {
  if (skip) return
  await exec('docker', ['stack', 'rm', stack]).catch(() => undefined)
  await exec('docker', ['swarm', 'leave', '--force']).catch(() => undefined)
  if (workerEngine?.isRunning())
    await exec('docker', ['-H', workerSocket, 'swarm', 'leave', '--force']).catch(() => undefined)
  await workerEngine?.stop(20_000)
  for (const forwarder of hostForwarders) await new Promise<void>((resolve) => forwarder.close(() => resolve()))
  await bench?.group.cleanup()
  // The worker's network namespaces stay mounted under its exec-root after it stops.
  const mounts = (await exec('awk', [`$2 ~ /^\\/(var\\/)?run\\/docker-${id}\\// { print $2 }`, '/proc/mounts'])).stdout
    .split('\n')
    .filter(Boolean)
  for (const mount of mounts) await exec('umount', ['-l', mount]).catch(() => undefined)
  await rm(workerRoot, { recursive: true, force: true })
  await rm(workerExecRoot, { recursive: true, force: true })
}, timeout)

/** private: a service of the private image on the worker, with a pre-deploy command when given. */
async function writeStack(web: string, options: { private?: boolean; preDeploy?: string } = {}): Promise<void> {
  const lines = [
    'services:',
    '  web:',
    `    image: ${web}`,
    '    deploy:',
    '      replicas: 2',
    '      endpoint_mode: dnsrr',
    '      placement: {constraints: ["node.labels.role == worker"]}',
    '      update_config: {order: start-first, monitor: 2s}',
    '    stop_grace_period: 1s',
    '  probe:',
    `    image: ${bench.images.worker}`,
    '    deploy:',
    '      endpoint_mode: dnsrr',
    '      placement: {constraints: ["node.role == manager"]}',
    '    stop_grace_period: 1s'
  ]
  if (options.private)
    lines.push(
      '  private:',
      `    image: ${privateImage}`,
      '    deploy:',
      '      endpoint_mode: dnsrr',
      '      placement: {constraints: ["node.role == worker"]}',
      '    stop_grace_period: 1s',
      ...(options.preDeploy ? ['    x-gitops-lite:', `      pre-deploy: ${JSON.stringify(options.preDeploy)}`] : [])
    )
  await writeFile(join(workspace, 'compose.yaml'), lines.join('\n') + '\n')
}

function swarmDeploy(inputs: Record<string, string> = {}): Promise<ActionRun> {
  return deploy(
    workspace,
    deployInputs(vm, {
      orchestrator: 'swarm',
      'project-name': stack,
      'remote-dir': vm.remoteDir,
      files: 'compose.yaml',
      'health-timeout': '120s',
      ...inputs
    })
  )
}

/** Spec version of each service of the stack. */
async function versions(): Promise<Record<string, string>> {
  const lines = await docker([
    'service',
    'ls',
    '--filter',
    `label=com.docker.stack.namespace=${stack}`,
    '--format',
    '{{.Name}}'
  ])
  const names = lines.split('\n').filter(Boolean)
  return Object.fromEntries(
    await Promise.all(
      names.map(async (name) => [name, await docker(['service', 'inspect', name, '--format', '{{.Version.Index}}'])])
    )
  )
}

/** Files on either node, or the VM login's folders, that hold the registry password (plain or base64). */
async function filesWithPassword(): Promise<string[]> {
  const needles = secretNeedles(login.password).flatMap((needle) => ['-e', needle])
  const places = [home, vmTmp, vm.remoteDir, '/var/lib/docker/swarm', workerRoot, workerExecRoot]
  const { stdout } = await exec('grep', ['-rlaF', ...needles, '--', ...places], { allowFailure: true })
  return stdout.split('\n').filter(Boolean)
}

/** Node of each running task of a service. */
async function taskNodes(service: string): Promise<string[]> {
  const tasks = (await docker(['service', 'ps', '-q', '--filter', 'desired-state=running', `${stack}_${service}`]))
    .split('\n')
    .filter(Boolean)
  return Promise.all(tasks.map((task) => docker(['inspect', task, '--format', '{{.NodeID}}'])))
}

/** What web answers to the probe (a task on the manager) asking for it by name over the overlay. */
async function probeWeb(): Promise<string> {
  const container = (
    await docker(['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${stack}_probe`])
  ).split('\n')[0]
  // busybox's wget crashes (SIGSEGV) on the overlay network here: resolve with nslookup, ask with nc.
  const ask = [
    "a=$(nslookup web | awk '/^Address/ && !/:53$/ { print $NF; exit }')",
    'printf \'GET / HTTP/1.0\\r\\n\\r\\n\' | nc -w 5 "$a" 80 | tail -n 1'
  ].join(' && ')
  const result = await exec('docker', ['exec', container, 'sh', '-c', ask]).catch((error: Error) => ({
    stdout: error.message
  }))
  return result.stdout.trim()
}

/** Waits until the probe gets `body` from web; a timeout says what it got last. */
async function probeServes(body: string): Promise<void> {
  let last = ''
  await waitUntil(`${body} through the overlay`, async () => (last = await probeWeb()) === body, {
    timeoutMs: 60_000
  }).catch((error: Error) => {
    throw new Error(`${error.message}; the probe got: ${last}`)
  })
}

const maybe = (name: string, fn: () => Promise<void>) => it(name, async () => (skip ? undefined : fn()), timeout)

describe('orchestrator: swarm on two nodes', () => {
  maybe('places web on the worker; the probe on the manager reaches it by name', async () => {
    await writeStack(bench.images.webV1)
    expectSuccess(await swarmDeploy())
    expect(await taskNodes('web')).toEqual([workerNode, workerNode])
    await probeServes('web v1')
  })

  maybe('updates web on the worker; the probe keeps its spec version', async () => {
    const probeVersion = await docker(['service', 'inspect', `${stack}_probe`, '--format', '{{.Version.Index}}'])
    await writeStack(bench.images.webV2)
    const run = expectSuccess(await swarmDeploy())
    expect(output(run, 'deployed')).toEqual(['web'])
    expect(await taskNodes('web')).toEqual([workerNode, workerNode])
    await probeServes('web v2')
    expect(await docker(['service', 'inspect', `${stack}_probe`, '--format', '{{.Version.Index}}'])).toBe(probeVersion)
  })

  maybe(
    'a pre-deploy job whose image the worker cannot pull (no login) stops the deploy before any service changes',
    async () => {
      const before = await versions()
      await writeStack(bench.images.webV2, { private: true, preDeploy: 'echo never' })
      const run = expectFailure(await swarmDeploy())
      expect(printed(run)).toMatch(/the pre-deploy command of private could not run \(its task was rejected\)/)
      expect(printed(run)).toContain(`No such image: ${privateImage}`)
      expect(printed(run)).toContain("give 'registry', 'registry-username' and 'registry-password'")
      expect(await versions()).toEqual(before)
      expect(await docker(['service', 'ls', '-q', '--filter', 'label=io.gitops-lite.pre-deploy'])).toBe('')
    }
  )

  maybe(
    'a private image without the registry login: the worker cannot pull it, the deploy says so and changes nothing else',
    async () => {
      const before = await versions()
      await writeStack(bench.images.webV2, { private: true })
      const run = expectFailure(await swarmDeploy({ 'health-timeout': '150s' }))
      // The worker's tasks are rejected ("No such image": the registry refused it the image). Swarm
      // would retry them for ever: the wait stops after three, not at the health timeout.
      expect(printed(run)).toContain(`No such image: ${privateImage}`)
      expect(printed(run)).toContain('private failed: tasks rejected, the image could not be pulled')
      expect(printed(run)).not.toContain('not converged')
      expect(printed(run)).toMatch(/private could not start: the nodes could not pull its image/)
      expect(printed(run)).toContain("give 'registry', 'registry-username' and 'registry-password'")
      expect(await versions()).toEqual(before)
      expect(await docker(['service', 'ls', '-q', '--filter', `name=${stack}_private`])).toBe('')
    }
  )

  maybe(
    "a private image with the registry login: its pre-deploy job and its task pull it on the worker; no output keeps the password, no file but Swarm's own",
    async () => {
      await writeStack(bench.images.webV2, {
        private: true,
        preDeploy: 'echo "pre-deploy ran in $$(cat /etc/hostname)"'
      })
      const run = expectSuccess(
        await swarmDeploy({
          registry: privateRegistry.address,
          'registry-username': login.username,
          'registry-password': login.password
        })
      )
      expect(output(run, 'deployed')).toEqual(['private'])
      expect(printed(run)).toMatch(/pre-deploy ran in \S+/)
      expect(await docker(['service', 'ls', '-q', '--filter', 'label=io.gitops-lite.pre-deploy'])).toBe('')
      expect(await taskNodes('private')).toEqual([workerNode])
      for (const needle of secretNeedles(login.password)) expect(printed(run)).not.toContain(needle)
      // Swarm itself keeps the login the deploy handed it (--with-registry-auth), so a node can pull
      // again when a task is rescheduled: encrypted in the managers' raft log, and in the task
      // database of each worker that runs a task of the service. Nothing else may hold it.
      const found = await filesWithPassword()
      expect(found.filter((file) => file !== join(workerRoot, 'swarm', 'worker', 'tasks.db'))).toEqual([])
    }
  )

  maybe("the worker's engine stops during an update: the deploy fails and says so", async () => {
    await writeStack(bench.images.webV1)
    const running = swarmDeploy({ 'health-timeout': '30s' })
    // Stop the worker as soon as the update has started.
    await waitUntil(
      'the update of web to start',
      async () =>
        (
          await docker(['service', 'inspect', `${stack}_web`, '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}}'])
        ).includes(':v1'),
      { timeoutMs: 60_000 }
    )
    await workerEngine!.stop(20_000)
    const run = expectFailure(await running)
    expect(run.stdout).toMatch(/web/)
    expect(run.stdout).toMatch(/not converged|update/)
    // It says whether the previous spec was restored: here no node can run web, so it cannot converge.
    expect(run.stdout).toMatch(/rollback did not converge|went back to the previous spec/)
  })
})
