// Item 6: the same change (svc-0: v1 -> v2) deployed by ssh-surgical-deploy to two sshd "VMs"
// (127.0.0.1 and 127.0.0.2, each its own home, remote directory, .env and compose project, one
// 10-service stack each), one host at a time (parallel: false, the default) and all at once
// (parallel: true), against the same deploy to one host alone. Both "VMs" share this machine's
// two cores and its one Docker engine (so the new image is downloaded once, not once per VM).
//   pnpm exec tsx bench/multi-host.ts [--runs N] [--services N]
import {
  changed,
  actionDeploy,
  containerIds,
  deployedServices,
  loadAverage,
  resetToV1,
  withDeployBench,
  writeCompose,
  type Vm
} from './deploy-bench'
import { numberOption, progress } from './cli'
import { formatStats, markdownTable, summarize } from './stats'

const runs = numberOption('--runs', 5)
const serviceCount = numberOption('--services', 10)

interface Mode {
  label: string
  hosts: (vms: Vm[]) => Vm[]
  parallel: boolean
}

const modes: Mode[] = [
  { label: 'one host (127.0.0.1) alone', hosts: (vms) => vms.slice(0, 1), parallel: false },
  { label: 'two hosts, one at a time (`parallel: false`, default)', hosts: (vms) => vms, parallel: false },
  { label: 'two hosts at once (`parallel: true`)', hosts: (vms) => vms, parallel: true }
]

/** Per-host durations from the step summary's headings: "<host>: deployed in 3.1 s". */
function hostSeconds(summary: string): number[] {
  return [...summary.matchAll(/<h3>[^<]*: deployed in ([\d.]+) s<\/h3>/g)].map((m) => Number(m[1]))
}

const loadBefore = await loadAverage()
await withDeployBench('hosts', { services: serviceCount, addresses: ['127.0.0.1', '127.0.0.2'] }, async (bench) => {
  const samples = modes.map(() => ({ ms: [] as number[], perHost: [] as number[] }))
  progress(`first deploy of the ${serviceCount}-service stack to both hosts`)
  await resetToV1(bench)
  for (let rep = 0; rep < runs; rep++) {
    for (let k = 0; k < modes.length; k++) {
      const index = (k + rep) % modes.length
      const mode = modes[index]
      await resetToV1(bench)
      const vms = mode.hosts(bench.vms)
      const before = await Promise.all(vms.map((vm) => containerIds(vm)))
      await writeCompose(bench, 'v2')
      const { run, ms } = await actionDeploy(bench, vms, { parallel: String(mode.parallel) })
      const deployed = deployedServices(run)
      const after = await Promise.all(vms.map((vm) => containerIds(vm)))
      const recreated = vms.map((_, i) => bench.services.filter((s) => before[i][s] !== after[i][s]).join(','))
      if (deployed.join() !== changed || recreated.some((r) => r !== changed)) {
        throw new Error(
          `${mode.label}: expected only ${changed} recreated on each host, got ${JSON.stringify({ deployed, recreated })}\n${run.stdout}`
        )
      }
      samples[index].ms.push(ms)
      samples[index].perHost.push(...hostSeconds(run.summary))
      progress(`run ${rep + 1}/${runs} ${mode.label}: ${(ms / 1000).toFixed(2)} s`)
    }
  }
  const alone = summarize(samples[0].ms).median
  const rows = [
    [
      'deploy of the same change',
      'wall time (action run)',
      'each host, from the step summary',
      'median / one host alone'
    ]
  ]
  modes.forEach((mode, i) => {
    const wall = summarize(samples[i].ms)
    const perHost = samples[i].perHost.length ? formatStats(summarize(samples[i].perHost), 's', 1) : '—'
    rows.push([
      mode.label,
      formatStats(summarize(samples[i].ms.map((v) => v / 1000)), 's', 2),
      perHost,
      (wall.median / alone).toFixed(2)
    ])
  })
  console.log(
    `### Item 6: one changed service, ${serviceCount}-service stack per host, two sshd "VMs" (${runs} repetitions)\n`
  )
  console.log(markdownTable(rows))
})
console.log(`\nload average before: ${loadBefore}; after: ${await loadAverage()}`)
