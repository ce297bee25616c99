// Item 7: orchestrator: swarm, one changed service (svc-0: v1 <-> v2) of a 10-service stack on a
// single-node swarm of the test engine (initialised here when the engine is in none, and left at
// the end), deployed by the committed ssh-surgical-deploy bundle. Per repetition: wall time of the
// action run, tasks replaced across the stack, and HTTP probes (every 50 ms, on 127.0.0.1 through
// each service's mode: host port) against the 9 untouched services while it runs.
//   pnpm exec tsx bench/swarm.ts [--runs N] [--services N]
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  ProcessGroup,
  buildDemoHttpImage,
  ensureBaseImage,
  ensureDocker,
  exec,
  freePort,
  runAction,
  startProbes,
  startRegistry,
  startSshHost
} from '@gitops-lite/sandbox'
import { numberOption, progress } from './cli'
import { formatStats, markdownTable, summarize } from './stats'

const runs = numberOption('--runs', 5)
const serviceCount = numberOption('--services', 10)
const stack = `glbench${process.pid}`

async function docker(args: string[]): Promise<string> {
  return (await exec('docker', args)).stdout.trim()
}

/** Every running task id of the stack. */
async function taskIds(): Promise<Set<string>> {
  const services = (await docker(['service', 'ls', '-q', '--filter', `label=com.docker.stack.namespace=${stack}`]))
    .split('\n')
    .filter(Boolean)
  const ids = await Promise.all(
    services.map((s) => docker(['service', 'ps', '-q', '--filter', 'desired-state=running', s]))
  )
  return new Set(ids.join('\n').split('\n').filter(Boolean))
}

const group = new ProcessGroup('bench-swarm')
const work = await mkdtemp(join(tmpdir(), 'gitops-lite-bench-swarm-'))
let initialised = false
try {
  await ensureDocker()
  await ensureBaseImage()
  if ((await docker(['info', '--format', '{{.Swarm.LocalNodeState}}'])) === 'inactive') {
    await docker(['swarm', 'init', '--advertise-addr', '127.0.0.1'])
    initialised = true
  }
  const registry = await startRegistry({ dir: join(work, 'registry'), group })
  const images = { v1: `${registry.address}/bench/svc:v1`, v2: `${registry.address}/bench/svc:v2` }
  for (const [tag, image] of Object.entries(images)) {
    await buildDemoHttpImage({ tag: image, body: tag, healthy: true, group })
    await exec('docker', ['push', '-q', image])
  }
  const vm = await startSshHost({ dir: join(work, 'vm'), address: '127.0.0.1', group })
  const ports = await Promise.all(Array.from({ length: serviceCount }, () => freePort()))
  const workspace = join(work, 'workspace')
  await mkdir(workspace, { recursive: true })
  await mkdir(vm.remoteDir, { recursive: true })
  const writeStack = (first: string) =>
    writeFile(
      join(workspace, 'compose.yaml'),
      [
        'services:',
        ...ports.flatMap((port, i) => [
          `  svc-${i}:`,
          `    image: ${i === 0 ? first : images.v1}`,
          `    ports: [{target: 80, published: ${port}, mode: host}]`,
          '    deploy: {endpoint_mode: dnsrr, update_config: {monitor: 1s}}',
          '    stop_grace_period: 1s'
        ])
      ].join('\n') + '\n'
    )
  const deploy = () =>
    runAction('ssh-surgical-deploy', {
      workspace,
      timeoutMs: 300_000,
      inputs: {
        orchestrator: 'swarm',
        host: `${vm.username}@${vm.host}:${vm.port}`,
        key: vm.privateKey,
        'known-hosts': vm.knownHostsLine,
        'remote-dir': vm.remoteDir,
        'project-name': stack,
        'health-timeout': '120s'
      }
    })
  progress(`first deploy of the ${serviceCount}-service stack`)
  await writeStack(images.v1)
  const first = await deploy()
  if (first.exitCode !== 0) throw new Error(`the first deploy failed:\n${first.stdout}`)

  const rows = [['run', 'wall time', 'services updated', 'tasks replaced', 'probes on untouched services', 'failed']]
  const walls: number[] = []
  for (let run = 0; run < runs; run++) {
    await writeStack(run % 2 === 0 ? images.v2 : images.v1)
    const before = await taskIds()
    const probes = startProbes(
      ports.slice(1).map((port, i) => ({ name: `svc-${i + 1}`, url: `http://127.0.0.1:${port}/`, intervalMs: 50 }))
    )
    const started = Date.now()
    const result = await deploy()
    const wall = Date.now() - started
    const probed = await probes.stop()
    if (result.exitCode !== 0) throw new Error(`deploy ${run + 1} failed:\n${result.stdout}`)
    const after = await taskIds()
    const replaced = [...before].filter((id) => !after.has(id)).length
    walls.push(wall)
    const total = probed.reduce((n, p) => n + p.probes, 0)
    const failed = probed.reduce((n, p) => n + p.failures, 0)
    progress(
      `run ${run + 1}/${runs}: ${(wall / 1000).toFixed(2)} s, replaced ${replaced} task(s), ${failed} of ${total} probes failed`
    )
    rows.push([
      String(run + 1),
      `${(wall / 1000).toFixed(2)} s`,
      result.outputs.deployed ?? '',
      `${replaced} of ${before.size}`,
      String(total),
      String(failed)
    ])
  }
  console.log(
    `### Item 7: orchestrator: swarm, one changed service of ${serviceCount} (${runs} repetitions, single-node swarm)\n`
  )
  console.log(markdownTable(rows))
  console.log(`\nwall time: ${formatStats(summarize(walls.map((w) => w / 1000)), 's', 2)}`)
} finally {
  await exec('docker', ['stack', 'rm', stack]).catch(() => undefined)
  for (let i = 0; i < 30; i++) {
    if ((await docker(['service', 'ls', '-q', '--filter', `label=com.docker.stack.namespace=${stack}`])) === '') break
    await new Promise((resolve) => setTimeout(resolve, 1000))
  }
  const networks = (await docker(['network', 'ls', '-q', '--filter', `label=com.docker.stack.namespace=${stack}`]))
    .split('\n')
    .filter(Boolean)
  if (networks.length > 0) await exec('docker', ['network', 'rm', ...networks]).catch(() => undefined)
  if (initialised) await exec('docker', ['swarm', 'leave', '--force'])
  await group.cleanup()
  await rm(work, { recursive: true, force: true })
}
