// Item 3: one changed service (svc-0: v1 -> v2) in a 10-service stack, deployed by
//   (a) ssh-surgical-deploy (the committed bundle, run as the runner runs it),
//   (b) RA-001's full fallback over plain ssh as the brief states it: pull && up -d --force-recreate,
//   (c) RA-001's per-service branch over plain ssh: pull svc-0 && up -d --force-recreate svc-0,
//   (d) RA-001's fallback exactly as its deploy.sh is written: pull && up -d --remove-orphans,
//   (e) and (f): (b) and (c) with `up --wait`, which wait for health as (a) does (issue 12).
// --stack realistic: services that spend 1.5 s of CPU before they listen (see deploy-bench.ts).
// Every repetition starts each approach from the same state (see resetToV1), in a rotating order.
// The plain scripts send compose.yaml on stdin of their one ssh session (cheaper than scp + ssh).
//   pnpm exec tsx bench/deploy-surgical-vs-full.ts [--runs N] [--services N] [--approaches a,b,c,d,e,f]
//     [--stack busybox|realistic]
import {
  containerIds,
  deployApproaches,
  loadAverage,
  measureApproaches,
  pickApproaches,
  resetToV1,
  waitAllHealthy,
  withDeployBench,
  type ApproachResult,
  type StackKind
} from './deploy-bench'
import { numberOption, progress, stringOption } from './cli'
import { formatStats, markdownTable, summarize } from './stats'
import { StdoutClock, phaseNames } from './timeline'

const runs = numberOption('--runs', 5)
const serviceCount = numberOption('--services', 10)
const stack = stringOption('--stack', 'busybox')
if (stack !== 'busybox' && stack !== 'realistic') throw new Error(`--stack is busybox or realistic, not '${stack}'`)

interface Sample extends ApproachResult {
  /** From the start until every container of the stack was seen running and healthy. */
  untilHealthyMs: number
  recreated: string[]
}

const loadBefore = await loadAverage()
await withDeployBench('surgical', { services: serviceCount, stack: stack as StackKind }, async (bench) => {
  const vm = bench.vms[0]
  const approaches = pickApproaches(
    deployApproaches(bench, vm, new StdoutClock(bench.work, 'action')),
    stringOption('--approaches', 'a,b,c,d')
  )
  progress(`first deploy of the ${serviceCount}-service stack`)
  await resetToV1(bench)
  const samples = await measureApproaches(bench, approaches, runs, async (approach, v2Text, rep): Promise<Sample> => {
    const before = await containerIds(vm)
    const result = await approach.run(v2Text)
    const healthyAt = await waitAllHealthy(bench, vm, 120_000, 50)
    const after = await containerIds(vm)
    const recreated = bench.services.filter((s) => before[s] !== after[s])
    progress(
      `run ${rep + 1}/${runs} ${approach.key}: ${(result.ms / 1000).toFixed(2)} s, recreated ${recreated.length}`
    )
    return { ...result, untilHealthyMs: healthyAt - result.startedAt, recreated }
  })

  const seconds = (values: number[]) => formatStats(summarize(values.map((v) => v / 1000)), 's', 2)
  const median = (key: string, pick: (s: Sample) => number) => summarize(samples.get(key)!.map(pick)).median
  const rows = [
    ['approach', 'wall time', 'waits for health', 'services recreated', 'start until every container healthy']
  ]
  for (const approach of approaches) {
    const list = samples.get(approach.key)!
    const recreated = [...new Set(list.map((s) => s.recreated.length))].join(' or ')
    rows.push([
      approach.label,
      seconds(list.map((s) => s.ms)),
      approach.waitsForHealth ? 'yes' : 'no',
      `${recreated} of ${serviceCount}`,
      seconds(list.map((s) => s.untilHealthyMs))
    ])
  }
  console.log(`### One changed service in a ${serviceCount}-service ${stack} stack (${runs} repetitions)\n`)
  console.log(markdownTable(rows))

  const withPhases = (samples.get('a') ?? []).filter((s) => s.phases)
  const healthWait = withPhases.length ? summarize(withPhases.map((s) => s.phases!['health wait'])).median : NaN
  const ratioRows = [['ratio (of medians)', 'value', 'target']]
  const ratio = (label: string, x: number, y: number, target = '—') => {
    if (Number.isFinite(x) && Number.isFinite(y)) ratioRows.push([label, (x / y).toFixed(2), target])
  }
  const has = (key: string) => samples.has(key)
  const wall = (key: string) => (has(key) ? median(key, (s) => s.ms) : NaN)
  const a = wall('a')
  ratio('(a) / (b): action vs full fallback', a, wall('b'), '≤ 0.35')
  ratio('(a − its health wait) / (b)', a - healthWait, wall('b'), '≤ 0.35')
  ratio('(a) / (b until every container healthy)', a, has('b') ? median('b', (s) => s.untilHealthyMs) : NaN, '≤ 0.35')
  ratio('(a) / (c): action vs per-service plain ssh', a, wall('c'))
  ratio('(a − its health wait) / (c)', a - healthWait, wall('c'))
  ratio('(a) / (d): action vs RA-001 fallback as written', a, wall('d'))
  ratio('(a) / (e): action vs full fallback, both waiting for health', a, wall('e'), '≤ 0.5')
  ratio('(a) / (f): action vs per-service plain ssh, both waiting for health', a, wall('f'), '≤ 1.5')
  if (ratioRows.length > 1) console.log('\n' + markdownTable(ratioRows))

  if (withPhases.length) {
    const phaseRows = [['phase of (a)', 'time']]
    for (const name of phaseNames)
      phaseRows.push([name, formatStats(summarize(withPhases.map((s) => s.phases![name])), 'ms', 0)])
    phaseRows.push([
      'sum of the phases (spawn to process exit)',
      formatStats(summarize(withPhases.map((s) => phaseNames.reduce((t, n) => t + s.phases![n], 0))), 'ms', 0)
    ])
    console.log(
      `\nWhere (a)'s time goes (${withPhases.length} runs; phase marks from its log lines and the host's apply log, ±20 ms):\n`
    )
    console.log(markdownTable(phaseRows))
  }
  const reactions = (samples.get('a') ?? []).flatMap((s) =>
    s.healthReactionMs === undefined ? [] : [s.healthReactionMs]
  )
  if (reactions.length) {
    console.log(
      `\nHealth wait reaction (the engine's last "healthy" event to the host's "phase healthy", log polled every 20 ms): ` +
        `${formatStats(summarize(reactions), 'ms', 0)}; goal ≤ 250 ms`
    )
  }
})
console.log(`\nload average before: ${loadBefore}; after: ${await loadAverage()}`)
