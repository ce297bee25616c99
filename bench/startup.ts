// Start-up of each committed bundle: process start to the end of input validation (the
// action's first real work), measured by running it with no inputs, which every action
// refuses right after reading them. Also the bundle sizes.
//   pnpm exec tsx bench/startup.ts [--runs N]
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { repoRoot } from '@gitops-lite/sandbox'
import { formatStats, markdownTable, summarize } from './stats'

const runsArg = process.argv.indexOf('--runs')
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 20
const actions = readdirSync(join(repoRoot, 'dist')).sort()

const scratch = mkdtempSync(join(tmpdir(), 'bench-startup-'))
const runnerFiles = Object.fromEntries(
  ['GITHUB_OUTPUT', 'GITHUB_STEP_SUMMARY', 'GITHUB_STATE', 'GITHUB_ENV', 'GITHUB_PATH'].map((name) => {
    const file = join(scratch, name)
    writeFileSync(file, '')
    return [name, file]
  })
)
const eventPath = join(scratch, 'event.json')
writeFileSync(eventPath, '{}')
const env = {
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  GITHUB_EVENT_PATH: eventPath,
  GITHUB_WORKSPACE: scratch,
  ...runnerFiles
}

function timeCommand(args: string[]): number[] {
  const samples: number[] = []
  for (let i = 0; i < runs + 1; i++) {
    const start = process.hrtime.bigint()
    spawnSync(process.execPath, args, { cwd: scratch, env, stdio: 'ignore' })
    if (i > 0) samples.push(Number(process.hrtime.bigint() - start) / 1e6) // the first run warms the page cache
  }
  return samples
}

const baseline = summarize(timeCommand(['-e', '']))
const rows = [['action', 'bundle size', 'start-up (node + bundle + input validation)', 'minus bare `node -e ""`']]
for (const action of actions) {
  const bundle = join(repoRoot, 'dist', action, 'index.js')
  const stats = summarize(timeCommand([bundle]))
  rows.push([
    action,
    `${(statSync(bundle).size / 1024).toFixed(0)} KiB`,
    formatStats(stats),
    `${(stats.median - baseline.median).toFixed(1)} ms`
  ])
}
console.log(markdownTable(rows))
console.log(`\nbare node -e "": ${formatStats(baseline)}`)
