// Ten concurrent bump-image-tag runs (the committed bundle, run as the runner runs it), each
// bumping a different service in one compose file against one bare repository, with the
// action's default inputs. Reports total time, commit-and-push rounds and updates lost.
//   pnpm exec tsx bench/concurrent-bumps.ts [--rounds N] [--writers N]
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createGitRemote, runAction } from '@gitops-lite/sandbox'
import { formatStats, markdownTable, summarize } from './stats'

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(name)
  return at > 0 ? Number(process.argv[at + 1]) : fallback
}
const rounds = option('--rounds', 5)
const writers = option('--writers', 10)

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8' }).trim()

async function oneRound(): Promise<{ seconds: number; rounds: number[]; failed: number; lost: number }> {
  const scratch = mkdtempSync(join(tmpdir(), 'bench-bumps-'))
  try {
    const services = Array.from({ length: writers }, (_, i) => `svc${i}`)
    const text = `services:\n${services.map((s) => `  ${s}:\n    image: ghcr.io/acme/${s}:v0\n`).join('')}`
    const remote = await createGitRemote({ dir: join(scratch, 'remote'), files: { 'compose.yaml': text } })
    const clones = await Promise.all(services.map((s) => remote.clone(join(scratch, s))))
    const started = process.hrtime.bigint()
    const runs = await Promise.all(
      services.map((service, i) =>
        runAction('bump-image-tag', { workspace: clones[i], inputs: { service, tag: `v${i + 1}` } })
      )
    )
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    const final = git(remote.bareDir, 'show', 'main:compose.yaml')
    const lost = services.filter(
      (s, i) => !final.includes(`${s}:v${i + 1}\n`) && !final.endsWith(`${s}:v${i + 1}`)
    ).length
    return {
      seconds,
      rounds: runs.map((run) => Number(/Commit-and-push rounds: (\d+)/.exec(run.stdout)?.[1] ?? NaN)),
      failed: runs.filter((run) => run.exitCode !== 0).length,
      lost
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
}

const results = []
for (let i = 0; i < rounds; i++) results.push(await oneRound())
const allRounds = results.flatMap((r) => r.rounds).filter(Number.isFinite)
console.log(
  markdownTable([
    ['measure', `${writers} concurrent bumps, ${rounds} repetitions`],
    ['total time until all landed', formatStats(summarize(results.map((r) => r.seconds)), 's', 2)],
    ['commit-and-push rounds per run', formatStats(summarize(allRounds), 'rounds', 0)],
    ['runs that failed', String(results.reduce((n, r) => n + r.failed, 0))],
    ['updates lost (tag not on main afterwards)', String(results.reduce((n, r) => n + r.lost, 0))]
  ])
)
