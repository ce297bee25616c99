import { formatDuration } from '@gitops-lite/core'
import { renderTable } from './narrator'
import { PipelineSandbox, type ReleaseResult, type ReleaseSpec, type SandboxOptions } from './sandbox'
import { stackTarget } from './target'

/** The README's story: a first deploy, a one-service update, a broken release that rolls back. */
export const RELEASES: readonly ReleaseSpec[] = [
  {
    number: 1,
    title: 'first deploy of both services',
    form: 'services',
    images: [
      { service: 'api', tag: 'v1', body: 'api v1\n', healthy: true },
      { service: 'worker', tag: 'v1', body: 'worker v1\n', healthy: true }
    ]
  },
  {
    number: 2,
    title: 'a new api only',
    form: 'single',
    images: [{ service: 'api', tag: 'v2', body: 'api v2\n', healthy: true }]
  },
  {
    number: 3,
    title: 'an api whose healthcheck fails',
    form: 'single',
    images: [{ service: 'api', tag: 'v3', body: 'api v3 (broken)\n', healthy: false }]
  }
]

export interface ScenarioResult {
  releases: ReleaseResult[]
  /** The final table, as printed. */
  table: string[]
  /** Whether every release ended as the story expects (deployed, deployed, rolled back with v2 serving). */
  asExpected: boolean
  /** What did not go as expected, one line each. */
  surprises: string[]
  durationMs: number
}

/** What each release should end as; a line per surprise. */
export function checkRelease(result: ReleaseResult): string[] {
  const surprises: string[] = []
  const n = result.spec.number
  const expect = (ok: boolean, text: string) => {
    if (!ok) surprises.push(`release ${n}: ${text}`)
  }
  if (n === 3) {
    expect(result.outcome === 'rolled back', `expected a rollback, got '${result.outcome}'`)
    expect(result.dispatch.exitCode !== 0, 'dispatch-to-infra (wait: true) should have failed with the deploy')
    expect(
      result.http.api?.body.trim() === 'api v2',
      `api should still serve "api v2", it serves ${JSON.stringify(result.http.api?.body.trim())}`
    )
    expect(result.restoreCommit !== undefined, 'the restore job should have written the restored image back to Git')
    expect(
      result.git.api === result.after.api?.image,
      `Git should name what ${stackTarget(result.orchestrator).where} runs (${result.after.api?.image}), it names ${result.git.api}`
    )
    expect(
      Boolean(result.dispatch.outputs['restore-commit']),
      "dispatch-to-infra should have reported the commit that put Git back ('restore-commit')"
    )
  } else {
    expect(result.outcome === 'deployed', `expected 'deployed', got '${result.outcome}'`)
    for (const image of result.spec.images) {
      const body = result.http[image.service]?.body
      expect(
        body === image.body,
        `${image.service} should serve ${JSON.stringify(image.body.trim())}, it serves ${JSON.stringify(body?.trim())}`
      )
    }
  }
  if (n > 1) {
    // api is replaced start-first behind the proxy: not one request may fail, on an update or a rollback.
    expect(
      result.probe.failures === 0,
      `${result.probe.failures} of ${result.probe.probes} requests to api through the proxy failed`
    )
    expect(
      result.probe.bodies['api v3 (broken)'] === undefined,
      'the broken api answered requests before it was healthy'
    )
  }
  if (n === 2) {
    const { replaced } = stackTarget(result.orchestrator)
    const worker = result.changes.find((c) => c.service === 'worker')
    expect(worker !== undefined && !worker.recreated, `worker should not have been ${replaced}`)
    expect(result.changes.find((c) => c.service === 'api')?.recreated === true, `api should have been ${replaced}`)
  }
  return surprises
}

function servicesDeployed(result: ReleaseResult): string {
  const outputs = result.workflow?.deploy.run?.outputs ?? {}
  try {
    const deployed = outputs.deployed ? (JSON.parse(outputs.deployed) as string[]) : []
    if (deployed.length) return deployed.join(', ')
    // A rolled-back deploy deployed nothing: name what it tried, from its plan.
    const plan = outputs.plan
      ? (JSON.parse(outputs.plan) as Record<string, { services?: { service: string; deploy: boolean }[] }>)
      : {}
    const tried = [
      ...new Set(
        Object.values(plan).flatMap((host) => (host.services ?? []).filter((s) => s.deploy).map((s) => s.service))
      )
    ]
    return tried.length ? `${tried.join(', ')} (${outputs['rolled-back'] === 'true' ? 'rolled back' : 'failed'})` : '-'
  } catch {
    return outputs.deployed ?? '-'
  }
}

function resultText(result: ReleaseResult): string {
  if (result.outcome === 'rolled back') {
    const api = result.http.api?.body.trim()
    const restored = result.restoreCommit ? `; Git put back by ${result.restoreCommit.sha.slice(0, 7)}` : ''
    return `rolled back; ${api ? `"${api}" still serving` : 'api not answering'}${restored}`
  }
  if (result.outcome === 'deployed') {
    const kept = result.changes.filter((c) => !c.recreated && result.before[c.service]).map((c) => c.service)
    const refs = kept.map((s) => result.after[s]?.ref ?? '-').join(', ')
    // On Swarm a service's ref is its spec version; untouched also means the same tasks.
    const same = result.orchestrator === 'swarm' ? `${refs}, same tasks` : refs
    return kept.length ? `deployed; ${kept.join(', ')} untouched (${same})` : 'deployed'
  }
  const failed = result.workflow?.deploy.error ?? result.workflow?.bump.error ?? 'dispatch failed'
  return `FAILED: ${failed.slice(0, 80)}`
}

export function releaseTable(results: ReleaseResult[]): string[] {
  return renderTable(
    ['release', 'images', 'services deployed', 'dispatch (wait)', 'result', 'api probe: failed / requests', 'duration'],
    results.map((r) => [
      String(r.spec.number),
      r.spec.images.map((i) => `${i.service}:${i.tag}`).join(', '),
      servicesDeployed(r),
      r.dispatch.exitCode === 0
        ? r.dispatch.outputs.conclusion || 'ok'
        : `failed (${r.dispatch.outputs.conclusion || 'no conclusion'})`,
      resultText(r),
      `${r.probe.failures} / ${r.probe.probes}`,
      formatDuration(r.durationMs)
    ])
  )
}

/** Runs the three releases on an up sandbox and prints the final table. */
export async function runScenario(
  sandbox: PipelineSandbox,
  releases: readonly ReleaseSpec[] = RELEASES
): Promise<ScenarioResult> {
  const started = Date.now()
  const results: ReleaseResult[] = []
  for (const spec of releases) results.push(await sandbox.release(spec))
  const surprises = results.flatMap(checkRelease)
  const table = releaseTable(results)
  const { narrator } = sandbox
  narrator.heading('Summary')
  for (const line of table) narrator.line(`  ${line}`)
  const last = results.at(-1)
  if (last?.outcome === 'rolled back' && last.restoreCommit) {
    narrator.line('')
    const { where } = stackTarget(last.orchestrator)
    narrator.line(
      `  Release ${last.spec.number} was rolled back on ${where}, and ${last.restoreCommit.sha.slice(0, 7)} ("${last.restoreCommit.subject}")`
    )
    narrator.line(`  wrote the restored image back: Git and ${where} agree, and the next release starts from there.`)
  }
  if (surprises.length) {
    narrator.line('')
    narrator.line('  Not as expected:')
    for (const line of surprises) narrator.line(`  - ${line}`)
  }
  return { releases: results, table, asExpected: surprises.length === 0, surprises, durationMs: Date.now() - started }
}

/** up → three releases → down (or keep): what `scripts/sandbox.sh` runs. */
export async function runSandbox(options: SandboxOptions & { keep?: boolean } = {}): Promise<ScenarioResult> {
  const sandbox = await PipelineSandbox.up(options)
  try {
    return await runScenario(sandbox)
  } finally {
    if (options.keep) await sandbox.keep()
    else await sandbox.down()
  }
}
