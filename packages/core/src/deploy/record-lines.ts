import type { DeployOptions } from './deployer'
import type { HostPlan } from './plan'
import { jsonPrefix, RECORD_SCHEMA, type AuditEntry, type RecordedService, type RecordHeader } from './record'
import type { HostReport } from './report'

// The lines an apply writes on the host (see record.ts for the files): built here, completed there.

/** The record header and the lines of services this run does not touch. */
export function recordHead(report: HostReport, plan: HostPlan, options: DeployOptions): string {
  const header: RecordHeader = {
    kind: 'deploy',
    schema: RECORD_SCHEMA,
    sha: options.run.sha,
    time: new Date().toISOString(),
    runUrl: options.run.url,
    actor: options.run.actor,
    project: plan.project,
    compose: plan.compose,
    files: Object.fromEntries(options.files.map((f) => [f.path, f.digest])),
    topLevel: report.model.topLevel
  }
  const trusted =
    report.record?.header.project === plan.project && report.record.header.compose === plan.compose
      ? report.record
      : undefined
  const kept: RecordedService[] = []
  for (const service of plan.services) {
    if (service.deploy || service.change === 'removed') continue
    const previous = trusted?.services.get(service.service)
    if (previous) kept.push(previous)
    else if (service.change === 'unchanged') {
      const container = report.containers.find((c) => c.service === service.service && !c.oneoff)
      kept.push({
        kind: 'service',
        service: service.service,
        image: service.newImage,
        inputs: service.inputs,
        configHash: report.hashes.get(service.service) ?? '',
        containerHash: container?.configHash ?? ''
      })
    }
  }
  return [header, ...kept].map((line) => JSON.stringify(line)).join('\n') + '\n'
}

/** The start of each deployed service's record line; the host adds the hash of the container it created. */
export function servicePrefixes(report: HostReport, plan: HostPlan): Map<string, string> {
  return new Map(
    plan.services
      .filter((s) => s.deploy)
      // The hash the inspection computed: the next run's inspection computes it the same way.
      .map((s) => [
        s.service,
        jsonPrefix({
          kind: 'service',
          service: s.service,
          image: s.newImage,
          inputs: s.inputs,
          configHash: report.hashes.get(s.service) ?? ''
        })
      ])
  )
}

/** The start of the audit log's entry; the host adds the result and the duration. */
export function auditPrefix(host: string, plan: HostPlan, options: DeployOptions): string {
  return jsonPrefix({
    time: new Date().toISOString(),
    actor: options.run.actor,
    runUrl: options.run.url,
    sha: options.run.sha,
    host,
    project: plan.project,
    mode: plan.full ? 'full' : 'surgical',
    services: plan.deploy,
    removed: plan.removed.map((s) => s.service),
    ...(options.run.restores && { restores: options.run.restores })
  } satisfies AuditEntry)
}
