// bump-image-tag's edit engine on synthetic compose files of 10, 100 and 1,000 services:
// time per plan (parse, locate, splice, verify) and memory, each size in a fresh process.
// Then the end-to-end action run on the same files: the committed bundle, run as the runner
// runs it, in a fresh clone of a bare repository, editing, committing and pushing one bump.
//   pnpm exec tsx bench/edit-engine.ts [--runs N] [--e2e-runs N]
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { planImageBump } from '@gitops-lite/core'
import { createGitRemote, exec, runAction } from '@gitops-lite/sandbox'
import { elapsedMs, numberOption } from './cli'
import { formatStats, markdownTable, summarize, type Stats } from './stats'

const sizes = [10, 100, 1000]
const runsArg = process.argv.indexOf('--runs')
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 30

/** A compose file shaped like real ones: comments, quotes, ports, env, healthchecks, an anchor. */
export function syntheticCompose(services: number): string {
  const lines = [
    '# generated for the edit-engine benchmark',
    'x-logging: &logging',
    '  driver: json-file',
    '',
    'services:'
  ]
  for (let i = 0; i < services; i++) {
    lines.push(
      `  svc-${i}:`,
      `    # service ${i}`,
      `    image: "registry.example.com/team/svc-${i}:v1.0.${i}"`,
      '    restart: unless-stopped',
      '    logging: *logging',
      '    ports:',
      `      - "127.0.0.1:${10000 + i}:80"`,
      '    environment:',
      `      SERVICE_INDEX: "${i}"`,
      '    healthcheck:',
      '      test: ["CMD", "wget", "-q", "-O-", "http://localhost/"]',
      '      interval: 10s',
      ''
    )
  }
  return lines.join('\n')
}

function measureInThisProcess(services: number): { time: Stats; heapMiB: number; rssMiB: number; bytes: number } {
  const text = syntheticCompose(services)
  const target = `svc-${Math.floor(services / 2)}`
  const request = { files: [{ path: 'compose.yaml', text }], targets: [{ service: target, tag: 'v2.0.0' }] }
  planImageBump(request) // warm-up: JIT and module initialisation are not the engine's steady cost
  const samples: number[] = []
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint()
    const plan = planImageBump(request)
    samples.push(Number(process.hrtime.bigint() - start) / 1e6)
    if (plan.files.length !== 1) throw new Error('the benchmark edit changed nothing')
  }
  const mib = (n: number) => n / 1024 / 1024
  return {
    time: summarize(samples),
    heapMiB: mib(process.memoryUsage().heapUsed),
    rssMiB: process.resourceUsage().maxRSS / 1024,
    bytes: Buffer.byteLength(text)
  }
}

if (process.argv[2] === '--one') {
  process.stdout.write(JSON.stringify(measureInThisProcess(Number(process.argv[3]))))
} else {
  const rows = [['services', 'file size', 'plan time', 'peak RSS', 'heap after']]
  for (const size of sizes) {
    const child = spawnSync(
      process.execPath,
      [...process.execArgv, import.meta.filename, '--one', String(size), '--runs', String(runs)],
      {
        encoding: 'utf8'
      }
    )
    if (child.status !== 0) throw new Error(child.stderr)
    const result = JSON.parse(child.stdout)
    rows.push([
      String(size),
      `${(result.bytes / 1024).toFixed(0)} KiB`,
      formatStats(result.time),
      `${result.rssMiB.toFixed(0)} MiB`,
      `${result.heapMiB.toFixed(1)} MiB`
    ])
  }
  console.log(markdownTable(rows))
  console.log(
    '\nEnd-to-end bump-image-tag run (spawn to exit: inputs, git, edit, commit, push to a local bare repository):\n'
  )
  console.log(await endToEnd(numberOption('--e2e-runs', 10)))
}

/** The committed bundle on each size: one bump per run, each in a fresh clone at the remote's head. */
async function endToEnd(e2eRuns: number): Promise<string> {
  const rows = [['services', 'action run (spawn to exit)', 'git diff of one run']]
  for (const size of sizes) {
    const scratch = await mkdtemp(join(tmpdir(), 'bench-e2e-bump-'))
    try {
      const remote = await createGitRemote({
        dir: join(scratch, 'remote'),
        files: { 'compose.yaml': syntheticCompose(size) }
      })
      const target = `svc-${Math.floor(size / 2)}`
      const samples: number[] = []
      let diffStat = ''
      for (let i = 0; i <= e2eRuns; i++) {
        const clone = await remote.clone(join(scratch, `clone-${i}`))
        const tag = `v2.0.${i}`
        const start = process.hrtime.bigint()
        const run = await runAction('bump-image-tag', { workspace: clone, inputs: { service: target, tag } })
        const ms = elapsedMs(start)
        if (run.exitCode !== 0) throw new Error(`bump-image-tag exited ${run.exitCode}\n${run.stdout}\n${run.stderr}`)
        const pushed = (await exec('git', ['-C', remote.bareDir, 'show', 'main:compose.yaml'])).stdout
        if (!pushed.includes(`/${target}:${tag}"`)) throw new Error(`the bump of ${target} to ${tag} is not on main`)
        if (i > 0) samples.push(ms) // the first run warms the page cache
        diffStat = (await exec('git', ['-C', remote.bareDir, 'diff', '--shortstat', 'main~1', 'main'])).stdout.trim()
        await rm(clone, { recursive: true, force: true })
      }
      rows.push([String(size), formatStats(summarize(samples)), diffStat])
    } finally {
      await rm(scratch, { recursive: true, force: true })
    }
  }
  return markdownTable(rows)
}
