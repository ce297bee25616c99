import { shellCommand } from '../shell'
import type { HostPlan, ServicePlan } from './plan'

/** `old -> new` when the image changes, the image alone otherwise. */
export function imageChange(service: Pick<ServicePlan, 'oldImage' | 'newImage'>): string {
  const { oldImage, newImage } = service
  if (oldImage && newImage && oldImage !== newImage) return `${oldImage} -> ${newImage}`
  return newImage ?? oldImage ?? ''
}

/** How a deployed service is replaced ('' for one this run does not deploy): start-first, or recreate (and why). */
export function strategyText(service: Pick<ServicePlan, 'deploy' | 'strategy' | 'strategyNote'>): string {
  if (!service.deploy || !service.strategy) return ''
  return service.strategyNote ? `${service.strategy} (${service.strategyNote})` : service.strategy
}

/** The plan as log lines: one per service, then the files. */
export function formatPlan(host: string, plan: HostPlan): string[] {
  const mode = plan.full ? `full deploy: ${plan.fullReason}` : 'surgical'
  const target =
    'kept' in plan ? `stack ${plan.project} on the swarm` : `project ${plan.project}, compose ${plan.compose}`
  const lines = [`Plan for ${host} (${target}, ${mode}):`]
  const width = Math.max(...plan.services.map((s) => s.service.length), 7)
  for (const service of plan.services) {
    const action =
      service.change === 'removed' && plan.removed.includes(service) ? 'remove' : service.deploy ? 'deploy' : 'keep'
    const why = service.reasons.length > 0 ? ` (${service.reasons.join('; ')})` : ''
    const strategy = service.deploy ? `${service.strategy ?? 'recreate'}  ` : ''
    const note = service.strategyNote ? ` [${service.strategyNote}]` : ''
    lines.push(
      `  ${service.service.padEnd(width)}  ${action.padEnd(6)}  ${service.change.padEnd(9)}  ${strategy}${imageChange(service)}${why}${note}`
    )
    if (service.preDeploy)
      lines.push(
        `  ${' '.repeat(width)}  first runs its pre-deploy command with the new image: ${shellCommand(service.preDeploy)}`
      )
  }
  if (plan.services.length === 0) lines.push('  (no services)')
  const files = plan.files.map((f) => `${f.path} ${f.change}`)
  if (files.length > 0) lines.push(`  files: ${files.join(', ')}`)
  if (!plan.needsApply) lines.push('  Nothing to do: the host already runs what the files say.')
  return lines
}
