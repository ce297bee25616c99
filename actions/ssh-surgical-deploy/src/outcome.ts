import { posix } from 'node:path'
import {
  imageFileOf,
  type DeploymentState,
  type HostOutcome,
  type Outcome,
  type RolledBackImage,
  type RunInfo
} from '@gitops-lite/core'
import type { Settings } from './input-helper'

function union(outcomes: readonly Outcome[], pick: (o: HostOutcome) => string[]): string {
  const names = new Set<string>()
  for (const outcome of outcomes) if (outcome.result !== 'skipped') for (const name of pick(outcome)) names.add(name)
  return JSON.stringify([...names].sort())
}

/** Per rolled-back host, the services whose image went back: the `rolled-back-images` output. */
export function rolledBackImages(outcomes: readonly Outcome[], settings: Settings, run: RunInfo): RolledBackImage[] {
  const composeFiles = settings.files
    .filter((f) => f.compose)
    .map((f) => ({ path: posix.join(settings.filesFolder, f.path), text: f.content.toString('utf8') }))
  return outcomes.flatMap((o) =>
    o.result === 'rolled-back' && o.rollback
      ? o.rollback.services.map((s) => ({
          host: o.host,
          file: imageFileOf(s.service, composeFiles),
          ...s,
          failedCommit: run.sha,
          restoredCommit: o.rollback!.restoredCommit,
          run: run.url
        }))
      : []
  )
}

/** The step's outputs, by name, from what happened on each host and the images that went back. */
export function deployOutputs(
  outcomes: readonly Outcome[],
  rolledBack: readonly RolledBackImage[]
): Record<string, string> {
  const deployedServices = (o: HostOutcome) => (o.result === 'deployed' ? (o.plan?.deploy ?? []) : [])
  return {
    deployed: union(outcomes, deployedServices),
    drifted: union(outcomes, (o) =>
      (o.plan?.services ?? []).filter((s) => s.change === 'drifted').map((s) => s.service)
    ),
    removed: union(outcomes, (o) => {
      if (o.result === 'removed') return (o.removal?.containers ?? []).map((c) => c.service)
      return o.result === 'deployed'
        ? (o.plan?.removed ?? []).map((s) => s.service).filter((s) => !o.removeFailed?.includes(s))
        : []
    }),
    stacks: JSON.stringify(outcomes.flatMap((o) => (o.stacks ?? []).map((stack) => ({ host: o.host, ...stack })))),
    'rolled-back': String(outcomes.some((o) => o.result === 'rolled-back')),
    'rolled-back-images': JSON.stringify(rolledBack),
    plan: JSON.stringify(Object.fromEntries(outcomes.map((o) => [o.host, planOutput(o)])))
  }
}

/** One host's entry in the `plan` output. */
function planOutput(o: Outcome): Record<string, unknown> {
  return {
    result: o.result,
    ...(o.plan && {
      project: o.plan.project,
      compose: o.plan.compose,
      mode: o.plan.full ? 'full' : 'surgical',
      ...(o.plan.fullReason && { fullReason: o.plan.fullReason }),
      services: o.plan.services.map((s) => ({
        service: s.service,
        change: s.change,
        deploy: s.deploy,
        ...(s.deploy && s.strategy && { strategy: s.strategy }),
        reasons: s.reasons,
        ...(s.oldImage && { oldImage: s.oldImage }),
        ...(s.newImage && { newImage: s.newImage }),
        ...(s.preDeploy && { preDeploy: s.preDeploy })
      })),
      files: o.plan.files.map((f) => ({ path: f.path, change: f.change }))
    }),
    ...(o.removal && { removal: o.removal }),
    ...(o.error && { error: o.error.message }),
    ...(o.result === 'skipped' && { reason: o.reason })
  }
}

/** The GitHub deployment's end: success when every host is deployed or unchanged, failure when a host was rolled back, error otherwise. */
export function deploymentResult(outcomes: readonly Outcome[]): [DeploymentState, string] {
  const hosts = (result: string) => outcomes.filter((o) => o.result === result).map((o) => o.host)
  if (outcomes.every((o) => o.result === 'deployed' || o.result === 'unchanged')) {
    const deployed = [
      ...new Set(outcomes.flatMap((o) => (o.result === 'deployed' ? (o.plan?.deploy ?? []) : [])))
    ].sort()
    return ['success', deployed.length > 0 ? `Deployed ${deployed.join(', ')}` : 'Nothing to change']
  }
  const failed = hosts('failed')
  if (failed.length > 0) return ['error', `The deploy to ${failed.join(', ')} failed; see the run log`]
  return ['failure', `Rolled back on ${hosts('rolled-back').join(', ')}: the new version did not become healthy`]
}
