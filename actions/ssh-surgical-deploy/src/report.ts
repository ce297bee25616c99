import * as core from '@actions/core'
import { escapeHtml, formatRemoval, imageChange, strategyText, type Outcome } from '@gitops-lite/core'

/** The job summary: per host, its result, why it failed, what a removal took down or a listing found, and its services. */
export async function writeSummary(outcomes: readonly Outcome[], dryRun: boolean): Promise<void> {
  const summary = core.summary.addHeading(`ssh-surgical-deploy${dryRun ? ' (dry run)' : ''}`, 2)
  for (const outcome of outcomes) {
    const seconds = `${(outcome.durationMs / 1000).toFixed(1)} s`
    summary.addHeading(escapeHtml(`${outcome.host}: ${outcome.result} in ${seconds}`), 3)
    if (outcome.error) summary.addRaw(`<p>${escapeHtml(outcome.error.describe())}</p>`, true)
    if (outcome.result === 'skipped') summary.addRaw(`<p>Skipped: ${escapeHtml(outcome.reason)}.</p>`, true)
    const wentBack = outcome.result === 'rolled-back' ? (outcome.rollback?.services ?? []) : []
    if (wentBack.length > 0) {
      const images = wentBack.map(
        (s) => `${s.service} ${s.restoredImage} (${s.failedImage} ${s.failed ? 'failed' : 'went back with it'})`
      )
      summary.addRaw(
        `<p>Running again: ${escapeHtml(images.join('; '))}. Output rolled-back-images lists them for bump-image-tag's restore.</p>`,
        true
      )
    }
    if (outcome.removal)
      summary.addCodeBlock(escapeHtml(formatRemoval(outcome.host, outcome.removal, dryRun).join('\n')))
    if (outcome.stacks) {
      const lines = outcome.stacks.map(
        (s) => `${s.project}  ${s.remoteDir}  deployed ${s.time} (${s.sha.slice(0, 7)}) by ${s.actor}`
      )
      summary.addCodeBlock(escapeHtml(lines.join('\n') || 'No stacks.'))
    }
    const services = outcome.plan?.services ?? []
    if (services.length === 0) continue
    summary.addTable([
      [
        { data: 'Service', header: true },
        { data: 'Image', header: true },
        { data: 'Change', header: true },
        { data: 'Strategy', header: true },
        { data: 'Result', header: true }
      ],
      ...services.map((s) => [
        escapeHtml(s.service),
        escapeHtml(imageChange(s)),
        escapeHtml(s.reasons.length > 0 ? `${s.change} (${s.reasons.join('; ')})` : s.change),
        escapeHtml(strategyText(s) || '-'),
        escapeHtml(serviceResult(outcome, s.service, s.deploy, s.change === 'removed'))
      ])
    ])
  }
  await summary.write()
}

function serviceResult(outcome: Outcome, service: string, deploy: boolean, removed: boolean): string {
  if (outcome.result === 'skipped' || outcome.result === 'dry-run') return outcome.result
  if (removed && !outcome.plan?.removed.some((s) => s.service === service)) return 'kept'
  if (removed)
    return outcome.result !== 'deployed'
      ? 'kept'
      : outcome.removeFailed?.includes(service)
        ? 'removal failed'
        : 'removed'
  if (!deploy) return 'untouched'
  const health = outcome.health[service]
  if (outcome.result === 'deployed') return health ? `deployed (${health})` : 'deployed'
  return health ? `${outcome.result} (${health})` : outcome.result
}
