// bump-image-tag's edit engine on synthetic compose files of 10, 100 and 1,000 services:
// time per plan (parse, locate, splice, verify) and memory, each size in a fresh process.
//   pnpm exec tsx bench/edit-engine.ts [--runs N]
import { spawnSync } from 'node:child_process'
import { planImageBump } from '@gitops-lite/core'
import { formatStats, markdownTable, summarize, type Stats } from './stats'

const sizes = [10, 100, 1000]
const runsArg = process.argv.indexOf('--runs')
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 30

/** A compose file shaped like real ones: comments, quotes, ports, env, healthchecks, an anchor. */
export function syntheticCompose(services: number): string {
  const lines = ['# generated for the edit-engine benchmark', 'x-logging: &logging', '  driver: json-file', '', 'services:']
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
    const child = spawnSync(process.execPath, [...process.execArgv, import.meta.filename, '--one', String(size), '--runs', String(runs)], {
      encoding: 'utf8'
    })
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
}
