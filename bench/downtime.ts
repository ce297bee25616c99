// Item 4: downtime while one service (svc-0: v1 -> v2) of a 10-service stack is deployed, seen by
// an HTTP probe loop against every service's published port (127.0.0.1): for the touched
// service the longest unreachable window (first failed probe -> next success), for the others
// the failed probes (target: none). Approaches as in item 3 (see deployApproaches); by default
// (a) the action, (b) RA-001's full fallback, which recreates everything, and (c) its per-service branch.
// Probing starts 0.5 s before the deploy and goes on until every service answers again (at
// least 1 s after the deploy returned, at most 60 s: the plain scripts return before their
// containers serve).
// --strategy start-first puts svc-0 behind a real nginx (which publishes its port and reaches it
// by name on the compose network) and has it replaced start-first; only (a) can deploy that.
//   pnpm exec tsx bench/downtime.ts [--runs N] [--services N] [--approaches a,b,c] [--touched-interval MS] [--others-interval MS]
//                                   [--strategy recreate|start-first]
import { setTimeout as sleep } from 'node:timers/promises'
import {
  changed,
  deployApproaches,
  loadAverage,
  measureApproaches,
  pickApproaches,
  resetToV1,
  withDeployBench
} from './deploy-bench'
import { numberOption, progress, stringOption } from './cli'
import { startProbes, type ProbeResult } from '@gitops-lite/sandbox'
import { formatStats, markdownTable, summarize } from './stats'

const runs = numberOption('--runs', 5)
const serviceCount = numberOption('--services', 10)
const touchedInterval = numberOption('--touched-interval', 20)
const othersInterval = numberOption('--others-interval', 50)
const startFirst = stringOption('--strategy', 'recreate') === 'start-first'

interface Sample {
  deployMs: number
  touched: ProbeResult
  untouched: ProbeResult[]
}

const loadBefore = await loadAverage()
await withDeployBench('downtime', { services: serviceCount, startFirst }, async (bench) => {
  const vm = bench.vms[0]
  const approaches = pickApproaches(
    deployApproaches(bench, vm),
    stringOption('--approaches', startFirst ? 'a' : 'a,b,c')
  )
  if (startFirst) for (const approach of approaches) approach.label += `, ${changed} start-first behind nginx`
  progress(`first deploy of the ${serviceCount}-service stack`)
  await resetToV1(bench)
  const samples = await measureApproaches(bench, approaches, runs, async (approach, text, rep): Promise<Sample> => {
    const probes = startProbes(
      bench.services.map((service, i) => ({
        name: service,
        url: `http://127.0.0.1:${vm.ports[i]}/`,
        intervalMs: service === changed ? touchedInterval : othersInterval
      })),
      { maxMs: 300_000 }
    )
    await sleep(500)
    const { ms } = await approach.run(text)
    await sleep(1000)
    const settleBy = Date.now() + 60_000
    while (!probes.allUp() && Date.now() < settleBy) await sleep(50)
    const results = await probes.stop()
    const touched = results.find((r) => r.name === changed)!
    if (touched.endedDown || touched.lastBody?.trim() !== `${changed} v2`) {
      throw new Error(`${approach.key}: ${changed} does not serve v2 after the deploy: ${JSON.stringify(touched)}`)
    }
    const untouched = results.filter((r) => r.name !== changed)
    const failed = untouched.reduce((n, r) => n + r.failures, 0)
    progress(
      `run ${rep + 1}/${runs} ${approach.key}: ${changed} down ${touched.longestOutageMs} ms, ${failed} failed probes on the others`
    )
    return { deployMs: ms, touched, untouched }
  })

  const rows = [
    [
      'approach',
      `${changed} (touched): longest unreachable`,
      `${changed}: failed probes / probes`,
      `untouched (${serviceCount - 1}): failed probes / probes`,
      'untouched: services with a failure',
      'untouched: longest unreachable',
      'deploy wall time'
    ]
  ]
  for (const approach of approaches) {
    const list = samples.get(approach.key)!
    const sum = (pick: (s: Sample) => number) => list.reduce((n, s) => n + pick(s), 0)
    const untouchedFailed = sum((s) => s.untouched.reduce((n, r) => n + r.failures, 0))
    const untouchedProbes = sum((s) => s.untouched.reduce((n, r) => n + r.probes, 0))
    const servicesHit = list.map((s) => s.untouched.filter((r) => r.failures > 0).length)
    rows.push([
      approach.label,
      formatStats(summarize(list.map((s) => s.touched.longestOutageMs / 1000)), 's', 2),
      `${sum((s) => s.touched.failures)} / ${sum((s) => s.touched.probes)}`,
      `${untouchedFailed} / ${untouchedProbes}`,
      `${Math.min(...servicesHit)}–${Math.max(...servicesHit)} per run`,
      formatStats(summarize(list.map((s) => Math.max(...s.untouched.map((r) => r.longestOutageMs)) / 1000)), 's', 2),
      formatStats(summarize(list.map((s) => s.deployMs / 1000)), 's', 2)
    ])
  }
  console.log(
    `### Item 4: downtime while ${changed} changes in a ${serviceCount}-service stack (${runs} repetitions; probes every ${touchedInterval} ms on ${changed}` +
      `${startFirst ? ' through nginx' : ''}, every ${othersInterval} ms on the others; ${changed} ${startFirst ? 'start-first' : 'recreated'})\n`
  )
  console.log(markdownTable(rows))
  console.log('\nTargets: touched service unreachable ≤ 1 s; no failed probe on an untouched service.')
})
console.log(`\nload average before: ${loadBefore}; after: ${await loadAverage()}`)
