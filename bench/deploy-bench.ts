// The real parts the deploy benchmarks (items 3, 4, 6 and 8) run on: a local registry holding one
// busybox-httpd image per service (v1, and v2 of the service that changes), sshd "VMs" on
// 127.0.0.x each with its own home, remote directory, .env (project name, ports) and compose
// project, and an infra workspace holding compose.yaml. Every VM shares this machine's engine.
// The realistic stack (item 8) makes each service spend CPU before it listens, as real apps do.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  BASE_IMAGE,
  ProcessGroup,
  buildDemoHttpImage,
  buildImage,
  ensureBaseImage,
  ensureDocker,
  ensureNginxImage,
  exec,
  freePort,
  imageExists,
  nginxProxyConfig,
  runAction,
  sshClientArgs,
  startRegistry,
  startSshHost,
  type ActionRun,
  type Registry,
  type SshHost
} from '@gitops-lite/sandbox'
import { elapsedMs, progress } from './cli'
import { ApplyLogWatcher, HealthEventWatcher, phasesOf, type PhaseName, type StdoutClock } from './timeline'

export interface Vm {
  name: string
  ssh: SshHost
  /** The login's home on this "VM" (each VM has its own); the stack lives in <home>/stack. */
  home: string
  remoteDir: string
  project: string
  /** Published port of each service, in `services` order. */
  ports: number[]
}

export interface DeployBench {
  name: string
  group: ProcessGroup
  work: string
  registry: Registry
  /** svc-0 ... svc-(n-1); svc-0 is the one whose tag changes. */
  services: string[]
  vms: Vm[]
  /** The deploy key: VM A's client key, authorized on every VM. */
  client: SshHost
  /** The infra repository checkout the action uploads compose.yaml from. */
  workspace: string
  /** svc-0 is replaced start-first behind an nginx proxy, which publishes its port (see StartOptions). */
  startFirst?: { proxyImage: string }
  stack: StackKind
}

/**
 * busybox: httpd that listens at once (the best case for a full redeploy). realistic: every
 * service first spends `startCpuSeconds` of CPU (like a small JVM, Node or Python app), runs
 * under `init: true`, and the last one is Debian's nginx (a real package, built with debootstrap).
 */
export type StackKind = 'busybox' | 'realistic'

/** CPU each service of the realistic stack spends before it listens. */
export const startCpuSeconds = 1.5

/** The service every deploy benchmark changes, v1 -> v2. */
export const changed = 'svc-0'

export function imageOf(bench: DeployBench, service: string, tag: string): string {
  return `${bench.registry.address}/team/${service}:${tag}`
}

const portVariable = (service: string) => `${service.replace(/-/g, '_').toUpperCase()}_PORT`

/**
 * compose.yaml with every service on v1 except `changed`, which runs `tag`. Ports come from each
 * VM's .env. With startFirst, `changed` publishes nothing: nginx publishes its port and reaches it
 * by name, and it is replaced start-first (its new container serves beside the old one for 2 s).
 */
export function composeText(bench: DeployBench, tag: string): string {
  const lines = ['services:']
  for (const service of bench.services) {
    if (bench.startFirst && service === changed) {
      lines.push(
        `  ${service}:`,
        `    image: ${imageOf(bench, service, tag)}`,
        '    init: true',
        '    stop_grace_period: 1s',
        '    deploy: {update_config: {order: start-first, monitor: 2s}}',
        '  proxy:',
        `    image: ${bench.startFirst.proxyImage}`,
        `    ports: ["127.0.0.1:\${${portVariable(service)}}:80"]`,
        '    volumes: ["./conf/nginx.conf:/etc/nginx/nginx.conf:ro"]'
      )
      continue
    }
    lines.push(
      `  ${service}:`,
      `    image: ${imageOf(bench, service, service === changed ? tag : 'v1')}`,
      `    ports: ["127.0.0.1:\${${portVariable(service)}}:80"]`,
      bench.stack === 'realistic'
        ? // init passes SIGTERM on to the app, which stops at once.
          '    init: true'
        : // busybox httpd as PID 1 ignores SIGTERM: without this every recreate waits the default 10 s.
          '    stop_grace_period: 1s'
    )
  }
  return lines.join('\n') + '\n'
}

export async function writeCompose(bench: DeployBench, tag: string): Promise<string> {
  const text = composeText(bench, tag)
  if (bench.startFirst) {
    await mkdir(join(bench.workspace, 'conf'), { recursive: true })
    await writeFile(
      join(bench.workspace, 'conf', 'nginx.conf'),
      nginxProxyConfig([{ listen: 80, service: changed, port: 80 }])
    )
  }
  await writeFile(join(bench.workspace, 'compose.yaml'), text)
  return text
}

/**
 * Lets `client`'s key into `vm` with HOME set to `home` (a relative remote-dir then differs per
 * VM, as on separate machines), for the action and for plain ssh alike.
 */
async function giveOwnHome(vmDir: string, home: string, client: SshHost): Promise<void> {
  await mkdir(home, { recursive: true })
  const wrapper = `command="cd ${home} && HOME=${home} exec sh -c \\"$SSH_ORIGINAL_COMMAND\\""`
  const publicKey = (await readFile(`${client.privateKeyPath}.pub`, 'utf8')).trim()
  await writeFile(join(vmDir, 'authorized_keys'), `${wrapper} ${publicKey}\n`)
}

export interface StartOptions {
  services?: number
  /** One "VM" per address. */
  addresses?: string[]
  /** Replace svc-0 start-first behind a real nginx (Debian's nginx-light, built once with debootstrap). */
  startFirst?: boolean
  /** Default busybox. */
  stack?: StackKind
}

/** A shell loop that keeps one core busy; its length is measured by burnIterations. */
const burnLoop = (iterations: number) => `i=0; while [ $i -lt ${iterations} ]; do i=$((i + 1)); done`

/**
 * How many burnLoop iterations cost `seconds` of CPU in `image`'s sh: timed by the kernel's CPU
 * accounting of that sh (utime + stime in /proc, 100 ticks per second), so the machine's load
 * does not change the answer the way a wall-clock timing would.
 */
async function burnIterations(image: string, seconds: number): Promise<number> {
  for (let iterations = 100_000; ; iterations *= 4) {
    const probe = `${burnLoop(iterations)}; cat /proc/$$/stat`
    const { stdout } = await exec('docker', [
      'run',
      '--rm',
      '--network',
      'none',
      '--entrypoint',
      'sh',
      image,
      '-c',
      probe
    ])
    const fields = stdout.trim().split(' ')
    const cpu = (Number(fields[13]) + Number(fields[14])) / 100
    if (cpu >= 0.3) return Math.round((iterations * seconds) / cpu)
  }
}

/**
 * The realistic stack's images: busybox httpd (the last service: Debian's nginx) started after
 * `startCpuSeconds` of CPU, with a 1 s healthcheck whose failures during the start-up do not count.
 */
async function buildRealisticImages(bench: DeployBench, images: string[][]): Promise<void> {
  const debian = await ensureNginxImage()
  const loops = {
    busybox: await burnIterations(BASE_IMAGE, startCpuSeconds),
    debian: await burnIterations(debian, startCpuSeconds)
  }
  progress(
    `a start-up of ${startCpuSeconds} s of CPU: ${loops.busybox} loop iterations in busybox sh, ${loops.debian} in Debian's dash`
  )
  const healthcheck = { intervalSeconds: 1, retries: 2, startPeriodSeconds: 120 }
  const last = bench.services[bench.services.length - 1]
  for (const [service, tag] of images) {
    const spec =
      service === last
        ? {
            from: debian,
            cmd: ['sh', '-c', `${burnLoop(loops.debian)}; exec nginx -g 'daemon off;'`],
            // Debian's minbase has no HTTP client: bash's /dev/tcp checks that nginx accepts connections.
            healthcheck: { ...healthcheck, test: ['bash', '-c', 'exec 3<>/dev/tcp/127.0.0.1/80'] }
          }
        : {
            cmd: ['sh', '-c', `${burnLoop(loops.busybox)}; exec httpd -f -p 80 -h /www`],
            healthcheck: { ...healthcheck, test: ['wget', '-q', '-O', '/dev/null', 'http://127.0.0.1/'] }
          }
    const image = imageOf(bench, service, tag)
    await buildImage({
      tag: image,
      group: bench.group,
      contextFiles: { 'www/index.html': `${service} ${tag}\n` },
      spec: { ...spec, expose: [80] }
    })
    await exec('docker', ['push', '-q', image])
  }
}

export async function startDeployBench(name: string, options: StartOptions = {}): Promise<DeployBench> {
  const group = new ProcessGroup(`bench-${name}`)
  const work = await mkdtemp(join(tmpdir(), `gitops-lite-bench-${name}-`))
  const stack = options.stack ?? 'busybox'
  const bench = {
    name,
    group,
    work,
    services: [],
    vms: [],
    workspace: join(work, 'workspace'),
    stack
  } as unknown as DeployBench
  try {
    await ensureDocker()
    await ensureBaseImage()
    bench.registry = await startRegistry({ dir: join(work, 'registry'), group })
    bench.services = Array.from({ length: options.services ?? 10 }, (_, i) => `svc-${i}`)
    progress(`building and pushing ${bench.services.length + 1} images of the ${stack} stack`)
    const images = [...bench.services.map((s) => [s, 'v1']), [changed, 'v2']]
    if (stack === 'realistic') await buildRealisticImages(bench, images)
    else {
      for (const [service, tag] of images) {
        const image = imageOf(bench, service, tag)
        await buildDemoHttpImage({ tag: image, body: `${service} ${tag}\n`, healthy: true, group })
        await exec('docker', ['push', '-q', image])
      }
    }
    if (options.startFirst) {
      progress('the nginx image (debootstrap on its first build, 1-2 minutes), pushed to the registry')
      const proxyImage = `${bench.registry.address}/team/proxy:nginx`
      await exec('docker', ['tag', await ensureNginxImage(), proxyImage])
      group.trackImage(proxyImage)
      await exec('docker', ['push', '-q', proxyImage])
      bench.startFirst = { proxyImage }
    }
    const addresses = options.addresses ?? ['127.0.0.1']
    for (const [i, address] of addresses.entries()) {
      const vmName = `vm-${String.fromCharCode(97 + i)}`
      const ssh = await startSshHost({ dir: join(work, vmName), address, group })
      bench.client ??= ssh
      const home = join(work, `${vmName}-home`)
      await giveOwnHome(join(work, vmName), home, bench.client)
      const remoteDir = join(home, 'stack')
      const project = `gl-bench-${name}-${vmName}-${process.pid}`
      group.trackComposeProject(project)
      // Distinct across every VM of the bench: two containers cannot publish one host port.
      const ports: number[] = []
      while (ports.length < bench.services.length) {
        const port = await freePort()
        if (!ports.includes(port) && !bench.vms.some((other) => other.ports.includes(port))) ports.push(port)
      }
      await mkdir(remoteDir, { recursive: true })
      const env = [`COMPOSE_PROJECT_NAME=${project}`, ...bench.services.map((s, j) => `${portVariable(s)}=${ports[j]}`)]
      await writeFile(join(remoteDir, '.env'), env.join('\n') + '\n')
      bench.vms.push({ name: vmName, ssh, home, remoteDir, project, ports })
    }
    await mkdir(bench.workspace, { recursive: true })
    await writeCompose(bench, 'v1')
    return bench
  } catch (error) {
    await stopDeployBench(bench).catch(() => {})
    throw error
  }
}

/** Takes everything down: compose projects, sshd, the registry (by PID), labelled images, the work dir. */
export async function stopDeployBench(bench: DeployBench): Promise<void> {
  try {
    await bench.group.cleanup()
  } finally {
    await rm(bench.work, { recursive: true, force: true })
  }
}

/** Runs `body` on a fresh bench and always cleans up, also on Ctrl-C. */
export async function withDeployBench<T>(
  name: string,
  options: StartOptions,
  body: (bench: DeployBench) => Promise<T>
): Promise<T> {
  let bench: DeployBench | undefined
  let interrupted = false
  const onSignal = () => {
    if (interrupted) return
    interrupted = true
    progress('interrupted: cleaning up')
    const done = bench ? stopDeployBench(bench) : Promise.resolve()
    done.finally(() => process.exit(130))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    bench = await startDeployBench(name, options)
    return await body(bench)
  } finally {
    if (!interrupted && bench) await stopDeployBench(bench)
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

/** The action's inputs for a deploy of the workspace's compose.yaml to `vms`. */
export function deployInputs(
  bench: DeployBench,
  vms: Vm[],
  inputs: Record<string, string> = {}
): Record<string, string> {
  return {
    host: vms.map((vm) => `${vm.ssh.username}@${vm.ssh.host}:${vm.ssh.port}`).join('\n'),
    key: bench.client.privateKey,
    'known-hosts': vms.map((vm) => vm.ssh.knownHostsLine).join('\n'),
    'remote-dir': 'stack',
    files: bench.startFirst ? 'compose.yaml\nconf/nginx.conf' : 'compose.yaml',
    'health-timeout': '60s',
    'lock-timeout': '60s',
    ...inputs
  }
}

export interface TimedRun {
  run: ActionRun
  ms: number
  /** Date.now() just before the launch. */
  startedAt: number
}

/** ssh-surgical-deploy's committed bundle, run as the runner runs it; throws unless it succeeds. */
export async function actionDeploy(
  bench: DeployBench,
  vms: Vm[],
  inputs: Record<string, string> = {},
  env: Record<string, string> = {}
): Promise<TimedRun> {
  const startedAt = Date.now()
  const start = process.hrtime.bigint()
  const run = await runAction('ssh-surgical-deploy', {
    workspace: bench.workspace,
    inputs: deployInputs(bench, vms, inputs),
    env,
    timeoutMs: 300_000
  })
  const ms = elapsedMs(start)
  if (run.exitCode !== 0) throw new Error(`ssh-surgical-deploy exited ${run.exitCode}\n${run.stdout}\n${run.stderr}`)
  return { run, ms, startedAt }
}

/** The services the action says it recreated. */
export function deployedServices(run: ActionRun): string[] {
  return JSON.parse(run.outputs.deployed ?? '[]') as string[]
}

/** One plain `ssh` session to `vm` running `command` in the login's home, with `input` on stdin. */
export async function plainSsh(
  bench: DeployBench,
  vm: Vm,
  command: string,
  input = ''
): Promise<{ ms: number; startedAt: number }> {
  const startedAt = Date.now()
  const start = process.hrtime.bigint()
  const args = [...sshClientArgs(vm.ssh, { privateKeyPath: bench.client.privateKeyPath }), command]
  const result = await exec('ssh', args, { input, allowFailure: true, timeoutMs: 300_000 })
  const ms = elapsedMs(start)
  if (result.code !== 0) throw new Error(`ssh ${command} exited ${result.code}\n${result.stdout}\n${result.stderr}`)
  return { ms, startedAt }
}

/** RA-001's deploy steps over plain ssh: the compose file goes up on stdin of the same session. */
export const plainScripts = {
  /** The brief's full fallback: every service pulled and recreated. */
  full: () => 'cd stack && cat > compose.yaml && docker compose pull && docker compose up -d --force-recreate',
  /** RA-001's fallback as its deploy.sh writes it: compose recreates what its config hash says changed. */
  fallbackAsWritten: () =>
    'cd stack && cat > compose.yaml && docker compose pull && docker compose up -d --remove-orphans',
  /** RA-001's per-service branch. */
  service: (service: string) =>
    `cd stack && cat > compose.yaml && docker compose pull ${service} && docker compose up -d --force-recreate ${service}`,
  /** The full fallback waiting for health, as the action does (issue 12). */
  fullWait: () =>
    'cd stack && cat > compose.yaml && docker compose pull && docker compose up -d --force-recreate --wait',
  /** The per-service branch waiting for health, as the action does (issue 12). */
  serviceWait: (service: string) =>
    `cd stack && cat > compose.yaml && docker compose pull ${service} && docker compose up -d --force-recreate --wait ${service}`
}

interface ContainerHealth {
  service: string
  id: string
  state: string
  health: string
}

export async function containersOf(vm: Vm): Promise<ContainerHealth[]> {
  const ids = (
    await exec('docker', ['ps', '-aq', '--no-trunc', '--filter', `label=com.docker.compose.project=${vm.project}`])
  ).stdout
    .split('\n')
    .filter(Boolean)
  if (ids.length === 0) return []
  const format =
    '{{index .Config.Labels "com.docker.compose.service"}} {{.Id}} {{.State.Status}} {{with .State.Health}}{{.Status}}{{else}}none{{end}}'
  const { stdout } = await exec('docker', ['inspect', '--format', format, ...ids], { allowFailure: true })
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [service, id, state, health] = line.split(' ')
      return { service, id, state, health }
    })
}

/** Container id per service, to tell which services a deploy recreated. */
export async function containerIds(vm: Vm): Promise<Record<string, string>> {
  return Object.fromEntries((await containersOf(vm)).map((c) => [c.service, c.id]))
}

/** Polls until every service of `vm` has one running, healthy container; returns when that was seen. */
export async function waitAllHealthy(
  bench: DeployBench,
  vm: Vm,
  timeoutMs = 120_000,
  intervalMs = 100
): Promise<number> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    // The proxy (startFirst) has no healthcheck and is not counted.
    const containers = (await containersOf(vm)).filter((c) => bench.services.includes(c.service))
    const healthy = containers.filter((c) => c.state === 'running' && c.health === 'healthy').length
    if (healthy === bench.services.length && containers.length === bench.services.length) return Date.now()
    if (Date.now() > deadline)
      throw new Error(`${vm.name}: not all healthy after ${timeoutMs} ms: ${JSON.stringify(containers)}`)
    await sleep(intervalMs)
  }
}

/**
 * The same starting point for every measured deploy: compose.yaml at v1 everywhere (deployed by
 * the action, so its record is right), every container healthy, and svc-0:v2 no longer in the
 * engine, so the measured deploy really downloads the new image as a real release would.
 */
export async function resetToV1(bench: DeployBench, vms: Vm[] = bench.vms): Promise<void> {
  const text = await writeCompose(bench, 'v1')
  await actionDeploy(bench, vms, { parallel: 'true' })
  for (const vm of vms) {
    if ((await readFile(join(vm.remoteDir, 'compose.yaml'), 'utf8')) !== text)
      throw new Error(`${vm.name}: compose.yaml is not v1 after the reset`)
    await waitAllHealthy(bench, vm)
  }
  const v2 = imageOf(bench, changed, 'v2')
  await exec('docker', ['image', 'rm', v2], { allowFailure: true })
  if (await imageExists(v2))
    throw new Error(`${v2} is still in the engine after the reset; the next deploy would not download it`)
  // Let the engine settle (recreated containers' first healthchecks, docker-proxy start-up).
  await sleep(1000)
}

/** The 1, 5 and 15 minute load averages, with this machine's core count to read them by. */
export async function loadAverage(): Promise<string> {
  const load = (await exec('uptime', [])).stdout.trim().replace(/^.*load average: /, '')
  return `${load} (${availableParallelism()} cores)`
}

export interface ApproachResult {
  ms: number
  startedAt: number
  /** Only for the action run with a clock. */
  phases?: Record<PhaseName, number>
  /** From the engine's last "healthy" event to the host's health wait saying so (action run with a clock). */
  healthReactionMs?: number
}

/** One way to deploy compose.yaml's change to `vm`. */
export interface Approach {
  key: string
  label: string
  waitsForHealth: boolean
  /** Deploys the change; `text` is the new compose.yaml (already in the workspace). */
  run(text: string): Promise<ApproachResult>
}

/**
 * The compared approaches, keyed a-f:
 *   (a) ssh-surgical-deploy (the committed bundle, run as the runner runs it);
 *   (b) RA-001's full fallback as the brief states it, over plain ssh: pull && up -d --force-recreate;
 *   (c) RA-001's per-service branch over plain ssh: pull svc && up -d --force-recreate svc;
 *   (d) RA-001's fallback exactly as its deploy.sh is written: pull && up -d --remove-orphans;
 *   (e) and (f): (b) and (c) with `up --wait`, so they wait for health as (a) does (issue 12).
 * With a clock, (a) also reports its phases. (a) fails unless it deployed exactly `changed`.
 */
export function deployApproaches(bench: DeployBench, vm: Vm, clock?: StdoutClock): Approach[] {
  const plain = (key: string, label: string, script: string, waitsForHealth = false): Approach => ({
    key,
    label,
    waitsForHealth,
    run: (text) => plainSsh(bench, vm, script, text)
  })
  return [
    {
      key: 'a',
      label: '(a) ssh-surgical-deploy',
      waitsForHealth: true,
      async run() {
        const watcher = clock && new ApplyLogWatcher(vm.remoteDir)
        const healthEvents = clock && new HealthEventWatcher(vm.project)
        let apply
        let healthy
        let timed
        try {
          timed = await actionDeploy(bench, [vm], {}, clock?.env())
        } finally {
          apply = watcher?.stop()
          healthy = healthEvents?.stop()
        }
        const deployed = deployedServices(timed.run)
        if (deployed.join() !== changed)
          throw new Error(`the action deployed ${JSON.stringify(deployed)}, not ["${changed}"]:\n${timed.run.stdout}`)
        const phases =
          clock && apply ? phasesOf(timed.startedAt, clock.read(), apply, watcher?.scriptWritten) : undefined
        const sawHealthy = apply?.find((l) => / phase healthy$/.test(l.line))?.t
        const lastHealthy = healthy && healthy.length > 0 ? Math.max(...healthy) : undefined
        const healthReactionMs =
          sawHealthy !== undefined && lastHealthy !== undefined ? sawHealthy - lastHealthy : undefined
        return { ms: timed.ms, startedAt: timed.startedAt, phases, healthReactionMs }
      }
    },
    plain('b', '(b) RA-001 full fallback, plain ssh: `pull && up -d --force-recreate`', plainScripts.full()),
    plain(
      'c',
      `(c) RA-001 per-service branch, plain ssh: \`pull ${changed} && up -d --force-recreate ${changed}\``,
      plainScripts.service(changed)
    ),
    plain(
      'd',
      '(d) RA-001 fallback as its deploy.sh writes it: `pull && up -d --remove-orphans`',
      plainScripts.fallbackAsWritten()
    ),
    plain(
      'e',
      '(e) full fallback, plain ssh, waits: `pull && up -d --force-recreate --wait`',
      plainScripts.fullWait(),
      true
    ),
    plain(
      'f',
      `(f) per-service, plain ssh, waits: \`pull ${changed} && up -d --force-recreate --wait ${changed}\``,
      plainScripts.serviceWait(changed),
      true
    )
  ]
}

/** The approaches named in `keys` (e.g. 'a,b,c'), in the order given. */
export function pickApproaches(all: Approach[], keys: string): Approach[] {
  return keys.split(',').map((key) => {
    const found = all.find((a) => a.key === key.trim())
    if (!found) throw new Error(`no approach '${key}'; choose from ${all.map((a) => a.key).join(', ')}`)
    return found
  })
}

/**
 * Measures every approach `runs` times, each from the same state (the stack reset to v1, the
 * v2 compose file written), interleaved in a rotating order so that load changes fall on all
 * approaches alike. Returns the samples by approach key.
 */
export async function measureApproaches<S>(
  bench: DeployBench,
  approaches: Approach[],
  runs: number,
  measure: (approach: Approach, v2Text: string, repetition: number) => Promise<S>
): Promise<Map<string, S[]>> {
  const samples = new Map<string, S[]>(approaches.map((a) => [a.key, []]))
  for (let repetition = 0; repetition < runs; repetition++) {
    const order = approaches.map((_, i) => approaches[(i + repetition) % approaches.length])
    for (const approach of order) {
      await resetToV1(bench)
      const v2Text = await writeCompose(bench, 'v2')
      samples.get(approach.key)!.push(await measure(approach, v2Text, repetition))
    }
  }
  return samples
}
