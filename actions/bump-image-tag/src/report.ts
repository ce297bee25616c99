import {
  ROLLBACK_TRAILERS,
  escapeHtml,
  parseImageReference,
  type PayloadSource,
  type RolledBackImage,
  type ServiceUpdate
} from '@gitops-lite/core'

export interface MessageContext {
  environment?: string
  source?: Partial<PayloadSource>
  /** A restore: the rolled-back images (those the commit writes back are named in its body). */
  restore?: readonly RolledBackImage[]
  /** The compose file a promotion ('from-file') copied the images from. */
  promotedFrom?: string
}

function tagOf(image: string): string {
  return parseImageReference(image)?.tag ?? image
}

function unique(values: string[]): string[] {
  return [...new Set(values)]
}

/**
 * The commit message: the template with {services}, {tag}, {previous}, {environment} (and, for
 * a restore, {failed} and {host}) filled in, then trailers naming each service, the new image
 * and, when known, the source (the dispatching repository, or the file a promotion copied
 * from); a restore adds a paragraph on what failed and its trailers.
 */
export function commitMessage(template: string, updates: ServiceUpdate[], context: MessageContext): string {
  const changed = updates.filter((u) => u.changed)
  const restored = (context.restore ?? []).filter((r) => changed.some((u) => u.service === r.service))
  const fill: Record<string, string> = {
    services: changed.map((u) => u.service).join(', '),
    tag: unique(changed.map((u) => tagOf(u.image))).join(', '),
    previous: unique(changed.map((u) => tagOf(u.previous))).join(', '),
    environment: context.environment ?? '',
    failed: unique(restored.map((r) => tagOf(r.failedImage))).join(', '),
    host: unique(restored.map((r) => r.host)).join(', ')
  }
  const text = template
    .replace(/\{(services|tag|previous|environment|failed|host)\}/g, (_, key: string) => fill[key])
    .trim()
  const { source } = context
  const why = restored.map(
    (r) =>
      `- ${r.service}: ${r.failedImage} ${r.failed ? 'failed' : 'went back with it'}; ${r.restoredImage} runs again on ${r.host}.`
  )
  const body =
    restored.length === 0
      ? ''
      : [
          `The deploy of ${unique(restored.map((r) => r.failedCommit)).join(', ')} was rolled back (${unique(restored.map((r) => r.run)).join(', ')}); this puts Git back to what the VM runs:`,
          ...why
        ].join('\n') + '\n\n'
  const trailers = [
    ...changed.map((u) => `Service: ${u.service}`),
    ...unique(changed.map((u) => u.image)).map((image) => `Image: ${image}`),
    ...(context.environment ? [`Environment: ${context.environment}`] : []),
    ...(context.promotedFrom ? [`Promoted-From: ${context.promotedFrom}`] : []),
    ...(source?.repository ? [`Source-Repository: ${source.repository}`] : []),
    ...(source?.sha ? [`Source-Commit: ${source.sha}`] : []),
    ...(source?.run_url ? [`Source-Run: ${source.run_url}`] : []),
    ...unique(restored.map((r) => `${ROLLBACK_TRAILERS.commit}: ${r.failedCommit}`)),
    ...unique(restored.map((r) => `${ROLLBACK_TRAILERS.host}: ${r.host}`)),
    ...unique(restored.map((r) => `${ROLLBACK_TRAILERS.run}: ${r.run}`))
  ]
  return `${text}\n\n${body}${trailers.join('\n')}\n`
}

/** A new branch per run for pull-request mode, so a re-run never needs to overwrite one. */
export function pullRequestBranch(updates: ServiceUpdate[], runId: string, runAttempt: string): string {
  const changed = updates.filter((u) => u.changed)
  const what = `${changed.map((u) => u.service).join('-')}-${unique(changed.map((u) => tagOf(u.image))).join('-')}`
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .slice(0, 80)
    .replace(/-+$/, '')
  const run = `${runId}-${runAttempt}`.replace(/[^0-9-]/g, '') || `${Date.now()}`
  return `gitops-lite/${what}-run${run}`
}

/** A table cell's text: HTML escaped, and neither a `|` nor a line break can end the cell or the row. */
function cell(text: string): string {
  return escapeHtml(text)
    .replace(/\|/g, '&#124;')
    .replace(/[\r\n]+/g, ' ')
}

function codeCell(text: string): string {
  return `<code>${cell(text)}</code>`
}

/** The job summary: a table of service, old image, new image, and what became of the change. */
export function summaryMarkdown(updates: ServiceUpdate[], outcome: string): string {
  const rows = updates.map(
    (u) =>
      `| ${cell(u.service)} | ${codeCell(u.previous)} | ${u.changed ? codeCell(u.image) : 'unchanged'} | ${cell(`${u.file}:${u.line}`)} |`
  )
  return [
    '### bump-image-tag',
    '',
    '| Service | Old image | New image | Edited |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
    escapeHtml(outcome),
    ''
  ].join('\n')
}
