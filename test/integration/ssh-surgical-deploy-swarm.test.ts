// orchestrator: swarm through the committed bundle, on a single-node swarm of the test engine
// (initialised here when the engine is in none, and left again at the end). Test stacks use
// endpoint_mode: dnsrr: the bench has no routing mesh and no virtual IPs.
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ensureSwarm, exec, freePort, leaveSwarm, removeSwarmStack, type SshHost } from '@gitops-lite/sandbox'
import type { ActionRun } from '../helpers/run-action'
import {
  deploy,
  deployInputs,
  expectFailure,
  expectSuccess,
  output,
  printed,
  readJsonLines,
  startDeployFixture,
  startVm,
  timeout,
  type DeployFixture
} from './ssh-surgical-deploy/fixture'

let bench: DeployFixture
let vm: SshHost
let workspace: string
let initialisedSwarm = false
let workerPort: number
const stack = `glswarm${process.pid}`
/** A second stack, first deployed with a pre-deploy command (its own remote-dir). */
const firstStack = `${stack}b`

async function docker(args: string[]): Promise<string> {
  return (await exec('docker', args)).stdout.trim()
}

/** The names of a stack's Swarm configs. */
function stackConfigs(name: string): Promise<string> {
  return docker(['config', 'ls', '--format', '{{.Name}}', '--filter', `label=com.docker.stack.namespace=${name}`])
}

beforeAll(async () => {
  bench = await startDeployFixture('ssh-deploy-swarm')
  vm = await startVm(bench, 'vm', '127.0.0.1')
  initialisedSwarm = (await ensureSwarm()).initialised
  await mkdir(vm.remoteDir, { recursive: true })
  await writeFile(join(vm.remoteDir, '.env'), 'GREETING=hello-from-the-vm\n')
  workspace = join(bench.work, 'workspace')
  await mkdir(join(workspace, 'conf'), { recursive: true })
  workerPort = await freePort()
}, 15 * 60_000)

afterAll(async () => {
  for (const name of [stack, firstStack]) await removeSwarmStack(name).catch(() => undefined)
  if (initialisedSwarm) await leaveSwarm()
  await bench?.group.cleanup()
}, timeout)

interface Stack {
  web: string
  worker?: string
  motd?: string
  /** Extra deploy lines for web. */
  webDeploy?: string[]
  /** web's x-gitops-lite.pre-deploy, a string (run with sh -c). */
  webPreDeploy?: string
}

async function writeStack(options: Stack): Promise<void> {
  const lines = [
    'services:',
    '  web:',
    `    image: ${options.web}`,
    '    environment:',
    '      GREETING: ${GREETING}',
    '    configs:',
    '      - source: motd',
    '        target: /www/motd.txt',
    '    deploy:',
    '      replicas: 2',
    '      endpoint_mode: dnsrr',
    '      update_config: {order: start-first, monitor: 2s}',
    ...(options.webDeploy ?? []),
    '    stop_grace_period: 1s',
    ...(options.webPreDeploy ? ['    x-gitops-lite:', `      pre-deploy: ${JSON.stringify(options.webPreDeploy)}`] : [])
  ]
  // A port published on the node (mode: host: the bench has no routing mesh).
  const ports = `    ports: [{target: 8080, published: ${workerPort}, mode: host}]`
  if (options.worker)
    lines.push(
      '  worker:',
      `    image: ${options.worker}`,
      ports,
      '    deploy:',
      '      endpoint_mode: dnsrr',
      '    stop_grace_period: 1s'
    )
  lines.push('configs:', '  motd:', '    file: ./conf/motd.txt')
  await writeFile(join(workspace, 'compose.yaml'), lines.join('\n') + '\n')
  await writeFile(join(workspace, 'conf', 'motd.txt'), options.motd ?? 'hello\n')
}

function swarmDeploy(inputs: Record<string, string> = {}) {
  return deploy(
    workspace,
    deployInputs(vm, {
      orchestrator: 'swarm',
      'project-name': stack,
      'remote-dir': vm.remoteDir,
      'health-timeout': '90s',
      ...inputs
    })
  )
}

interface LiveService {
  version: string
  updatedAt: string
  image: string
  tasks: string
}

async function live(service: string): Promise<LiveService> {
  const [version, updatedAt, image] = (
    await docker([
      'service',
      'inspect',
      `${stack}_${service}`,
      '--format',
      '{{.Version.Index}}|{{.UpdatedAt}}|{{.Spec.TaskTemplate.ContainerSpec.Image}}'
    ])
  ).split('|')
  const tasks = (await docker(['service', 'ps', '-q', '--filter', 'desired-state=running', `${stack}_${service}`]))
    .split('\n')
    .sort()
    .join(',')
  return { version, updatedAt, image, tasks }
}

function planOf(run: ActionRun): {
  result: string
  services: { service: string; change: string; deploy: boolean; reasons: string[] }[]
} {
  return Object.values(output(run, 'plan') as Record<string, never>)[0]
}

/** The pre-deploy job services left on the swarm (none, after any deploy). */
async function jobs(): Promise<string> {
  return docker(['service', 'ls', '-q', '--filter', 'label=io.gitops-lite.pre-deploy'])
}

function change(run: ActionRun, service: string): string | undefined {
  return planOf(run).services.find((s) => s.service === service)?.change
}

describe('ssh-surgical-deploy with orchestrator: swarm', () => {
  it(
    'first deploy: creates the stack with the .env interpolated on the VM and content-named configs',
    async () => {
      await writeStack({ web: bench.images.webV1, worker: bench.images.worker })
      const run = expectSuccess(await swarmDeploy())
      expect(output(run, 'deployed')).toEqual(['web', 'worker'])
      const env = await docker([
        'service',
        'inspect',
        `${stack}_web`,
        '--format',
        '{{json .Spec.TaskTemplate.ContainerSpec.Env}}'
      ])
      expect(env).toContain('GREETING=hello-from-the-vm')
      const configs = await stackConfigs(stack)
      expect(configs).toMatch(new RegExp(`^${stack}_motd_[0-9a-f]{12}$`))
      expect((await live('web')).tasks.split(',')).toHaveLength(2)
      const audit = await readJsonLines(join(vm.remoteDir, '.gitops-lite', 'audit.log'))
      expect(audit.at(-1)).toMatchObject({ result: 'success', services: ['web', 'worker'] })
    },
    timeout
  )

  it(
    'no-op: nothing changes, no spec version moves',
    async () => {
      const before = { web: await live('web'), worker: await live('worker') }
      const run = expectSuccess(await swarmDeploy())
      expect(output(run, 'deployed')).toEqual([])
      expect(planOf(run).result).toBe('unchanged')
      expect({ web: await live('web'), worker: await live('worker') }).toEqual(before)
    },
    timeout
  )

  it(
    'dry run shows the change and changes nothing',
    async () => {
      await writeStack({ web: bench.images.webV2, worker: bench.images.worker })
      const before = await live('web')
      const run = expectSuccess(await swarmDeploy({ 'dry-run': 'true' }))
      expect(planOf(run).result).toBe('dry-run')
      expect(planOf(run).services.find((s) => s.service === 'web')).toMatchObject({
        change: 'changed',
        reasons: ['image changed']
      })
      expect(await live('web')).toEqual(before)
    },
    timeout
  )

  it(
    'one-service update: web gets the new image; worker keeps its spec version and tasks',
    async () => {
      const worker = await live('worker')
      const run = expectSuccess(await swarmDeploy())
      expect(output(run, 'deployed')).toEqual(['web'])
      expect((await live('web')).image).toContain(bench.images.webV2)
      expect(await live('worker')).toEqual(worker)
    },
    timeout
  )

  it(
    'drift: an image changed by hand is reported and put back',
    async () => {
      await docker(['service', 'update', '--detach', '--image', bench.images.webV1, `${stack}_web`])
      const worker = await live('worker')
      const run = expectSuccess(await swarmDeploy())
      expect(output(run, 'drifted')).toEqual(['web'])
      expect(
        planOf(run)
          .services.find((s) => s.service === 'web')
          ?.reasons.join(' ')
      ).toContain('changed by hand')
      expect((await live('web')).image).toContain(bench.images.webV2)
      expect(await live('worker')).toEqual(worker)
    },
    timeout
  )

  it(
    'config content change: a new config named by content, the old one removed',
    async () => {
      const old = await stackConfigs(stack)
      await writeStack({ web: bench.images.webV2, worker: bench.images.worker, motd: 'changed\n' })
      const run = expectSuccess(await swarmDeploy())
      expect(output(run, 'deployed')).toEqual(['web'])
      expect(planOf(run).services.find((s) => s.service === 'web')?.reasons).toEqual(['configs changed'])
      const now = await stackConfigs(stack)
      expect(now).not.toBe(old)
      expect(now.split('\n')).toHaveLength(1)
    },
    timeout
  )

  it(
    'unhealthy update: fails, names the service, and rolls back to the previous spec',
    async () => {
      const before = await live('web')
      await writeStack({ web: bench.images.webBad, worker: bench.images.worker, motd: 'changed\n' })
      const run = expectFailure(await swarmDeploy({ 'health-timeout': '40s' }))
      expect(run.outputs['rolled-back']).toBe('true')
      expect(output(run, 'rolled-back-images')).toEqual([
        expect.objectContaining({
          service: 'web',
          failedImage: bench.images.webBad,
          restoredImage: bench.images.webV2,
          failed: true
        })
      ])
      // The failure names the service, its failed tasks and its last log lines.
      expect(run.stdout).toMatch(
        /web failed: update (paused|rollback started|rollback completed)|web failed: not converged/
      )
      expect(run.stdout).toContain('Tasks of web that failed or were shut down:')
      expect(run.stdout).toContain('log lines of web:')
      expect((await live('web')).image).toBe(before.image)
      const audit = await readJsonLines(join(vm.remoteDir, '.gitops-lite', 'audit.log'))
      expect(audit.at(-1)).toMatchObject({ result: 'rolled-back' })
    },
    timeout
  )

  it(
    'removed service: reported and kept without prune, removed with prune',
    async () => {
      await writeStack({ web: bench.images.webV2, motd: 'changed\n' })
      const kept = expectSuccess(await swarmDeploy())
      expect(change(kept, 'worker')).toBe('removed')
      expect(output(kept, 'removed')).toEqual([])
      expect(await docker(['service', 'ls', '-q', '--filter', `name=${stack}_worker`])).not.toBe('')
      const pruned = expectSuccess(await swarmDeploy({ prune: 'true' }))
      expect(output(pruned, 'removed')).toEqual(['worker'])
      expect(await docker(['service', 'ls', '-q', '--filter', `name=${stack}_worker`])).toBe('')
    },
    timeout
  )

  it(
    'an unset variable without a default fails before anything changes',
    async () => {
      const compose = await readFile(join(workspace, 'compose.yaml'), 'utf8')
      await writeFile(join(workspace, 'compose.yaml'), compose.replace('${GREETING}', '${NOT_SET_ANYWHERE}'))
      const before = await live('web')
      const run = expectFailure(await swarmDeploy())
      expect(run.stdout + run.stderr).toContain('NOT_SET_ANYWHERE')
      expect(await live('web')).toEqual(before)
      await writeFile(join(workspace, 'compose.yaml'), compose)
    },
    timeout
  )

  it(
    'several managers listed: one that cannot be reached is skipped, the next one deploys',
    async () => {
      const closed = await freePort()
      const hosts = `${vm.username}@127.0.0.1:${closed}\n${vm.username}@${vm.host}:${vm.port}`
      const run = expectSuccess(await swarmDeploy({ host: hosts, 'dry-run': 'true', 'connect-timeout': '5s' }))
      expect(run.stdout).toContain('trying the next manager')
      expect(Object.keys(output(run, 'plan') as object)).toEqual([`${vm.username}@${vm.host}:${vm.port}`])
    },
    timeout
  )

  it(
    'refuses a manager whose host key is not the trusted one, before changing anything',
    async () => {
      const impostorKey = join(bench.work, 'impostor_ed25519')
      await exec('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', impostorKey])
      const impostorLine = `[127.0.0.1]:${vm.port} ${(await readFile(`${impostorKey}.pub`, 'utf8')).split(' ').slice(0, 2).join(' ')}`
      const before = await live('web')
      const run = expectFailure(await swarmDeploy({ 'known-hosts': impostorLine, mode: 'full' }))
      expect(run.stdout).toMatch(/host key/i)
      expect(await live('web')).toEqual(before)
    },
    timeout
  )
  it(
    'pre-deploy on a first deploy: a Swarm job with the new image, the environment and the config, on the network it creates for the stack',
    async () => {
      const remoteDir = `${vm.remoteDir}-first`
      const firstWorkspace = join(bench.work, 'workspace-first')
      await mkdir(remoteDir, { recursive: true })
      await writeFile(join(remoteDir, '.env'), 'GREETING=hello-from-the-vm\n')
      await mkdir(firstWorkspace, { recursive: true })
      await writeFile(
        join(firstWorkspace, 'compose.yaml'),
        [
          'services:',
          '  app:',
          `    image: ${bench.images.webV2}`,
          '    environment:',
          '      GREETING: ${GREETING}',
          '      PLAIN: "a$$b c"',
          '    configs: [{source: motd, target: /motd.txt}]',
          '    deploy: {endpoint_mode: dnsrr}',
          '    x-gitops-lite:',
          '      pre-deploy: ["sh", "-c", "echo \\"proof: $$(cat /www/index.html) plain=$$PLAIN greeting=$$GREETING motd=$$(cat /motd.txt)\\""]',
          'configs:',
          '  motd: {file: ./motd.txt}',
          ''
        ].join('\n')
      )
      await writeFile(join(firstWorkspace, 'motd.txt'), 'first\n')
      const run = expectSuccess(
        await deploy(
          firstWorkspace,
          deployInputs(vm, {
            orchestrator: 'swarm',
            'project-name': firstStack,
            'remote-dir': remoteDir,
            files: 'compose.yaml\nmotd.txt',
            'health-timeout': '90s'
          })
        )
      )
      expect(output(run, 'deployed')).toEqual(['app'])
      // The new image's file, a plain value, the .env's value (masked in the log), and the config.
      expect(run.stdout).toContain('proof: web v2 plain=a$b c greeting=*** motd=first')
      expect(printed(run)).not.toContain('hello-from-the-vm')
      expect(run.stdout.indexOf('Running the pre-deploy command of app')).toBeLessThan(
        run.stdout.indexOf('Recreating the services')
      )
      // The job made the stack's network as `stack deploy` would, and the stack deploy adopted it.
      const network = `${firstStack}_default`
      expect(
        await docker([
          'network',
          'inspect',
          network,
          '--format',
          '{{index .Labels "com.docker.stack.namespace"}} {{.Driver}}'
        ])
      ).toBe(`${firstStack} overlay`)
      expect(await docker(['network', 'ls', '-q', '--filter', `name=^${network}$`])).not.toContain('\n')
      const attached = await docker([
        'service',
        'inspect',
        `${firstStack}_app`,
        '--format',
        '{{range .Spec.TaskTemplate.Networks}}{{.Target}} {{end}}'
      ])
      expect(attached.trim()).toBe(await docker(['network', 'inspect', network, '--format', '{{.Id}}']))
      // So did the content-named config: one, the service's.
      const configs = await stackConfigs(firstStack)
      expect(configs).toMatch(new RegExp(`^${firstStack}_motd_[0-9a-f]{12}$`))
      expect(
        await docker([
          'service',
          'inspect',
          `${firstStack}_app`,
          '--format',
          '{{(index .Spec.TaskTemplate.ContainerSpec.Configs 0).ConfigName}}'
        ])
      ).toBe(configs)
      expect(await jobs()).toBe('')
    },
    timeout
  )

  it(
    'pre-deploy on an update: shown in the dry run, then run with the new image, reaching a service of the stack by name',
    async () => {
      const proof =
        'echo "new image: $$(cat /www/index.html) motd: $$(cat /www/motd.txt)"; echo "reached: $$(wget -q -O - http://web/)"'
      await writeStack({ web: bench.images.webV1, motd: 'changed\n', webPreDeploy: proof })
      const dry = expectSuccess(await swarmDeploy({ 'dry-run': 'true' }))
      expect(dry.stdout).toContain('first runs its pre-deploy command with the new image: sh -c')
      const planned = planOf(dry).services.find((s) => s.service === 'web') as { preDeploy?: string[] }
      expect(planned.preDeploy).toEqual(['sh', '-c', proof.replace(/\$\$/g, '$')])
      expect(await jobs()).toBe('')
      const run = expectSuccess(await swarmDeploy())
      expect(output(run, 'deployed')).toEqual(['web'])
      // Its own image is the new one; the running web (v2, until the stack deploy) answered by name.
      expect(run.stdout).toContain('new image: web v1 motd: changed')
      expect(run.stdout).toContain('reached: web v2')
      expect((await live('web')).image).toContain(bench.images.webV1)
      expect(await jobs()).toBe('')
    },
    timeout
  )

  it(
    'a failing pre-deploy command stops the deploy before any service changes, quoting its output',
    async () => {
      const before = await live('web')
      const composeBefore = await readFile(join(vm.remoteDir, 'compose.yaml'), 'utf8')
      await writeStack({ web: bench.images.webV2, motd: 'changed\n', webPreDeploy: 'echo migrating to v2; exit 3' })
      const run = expectFailure(await swarmDeploy())
      expect(run.stderr + run.stdout).toMatch(
        /the pre-deploy command of web exited with code 3; its last lines:(%0A|\n|\\n) {2}\| migrating to v2/
      )
      expect(run.stderr + run.stdout).toContain('stopped before changing any service')
      expect(run.stderr + run.stdout).toContain("Fix the command (sh -c 'echo migrating to v2; exit 3')")
      expect(await live('web')).toEqual(before)
      expect(await readFile(join(vm.remoteDir, 'compose.yaml'), 'utf8')).toBe(composeBefore)
      expect(await jobs()).toBe('')
      const audit = await readJsonLines(join(vm.remoteDir, '.gitops-lite', 'audit.log'))
      expect(audit.at(-1)).toMatchObject({ result: 'failed' })
    },
    timeout
  )

  it(
    'a pre-deploy command that outlives command-timeout is stopped and its job removed',
    async () => {
      const before = await live('web')
      await writeStack({ web: bench.images.webV2, motd: 'changed\n', webPreDeploy: 'echo started; sleep 120' })
      const run = expectFailure(await swarmDeploy({ 'command-timeout': '10s' }))
      expect(run.stderr + run.stdout).toMatch(
        /the pre-deploy command of web timed out \(command-timeout\); its last lines:(%0A|\n|\\n) {2}\| started/
      )
      expect(await live('web')).toEqual(before)
      expect(await jobs()).toBe('')
    },
    timeout
  )
})
