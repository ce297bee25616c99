// An HTTP probe loop: GETs against each target every few tens of milliseconds, bounded in time
// and count, then the failures and the longest unreachable window (first failed probe -> next
// success) per target.
import { setTimeout as sleep } from 'node:timers/promises'
import { httpGet } from './net'

export interface ProbeTarget {
  name: string
  url: string
  intervalMs: number
}

export interface ProbeResult {
  name: string
  probes: number
  failures: number
  /** Longest first-failure-to-next-success window, ms (0 when nothing failed). */
  longestOutageMs: number
  /** The last probe failed: the outage had not ended when probing stopped. */
  endedDown: boolean
  /** Body of the last successful answer. */
  lastBody?: string
  /** How many successful answers had each body (trimmed): which versions served. */
  bodies: Record<string, number>
}

interface Probe {
  t: number
  ok: boolean
  body?: string
}

export interface ProbeLoop {
  /** Whether every target's latest probe succeeded. */
  allUp(): boolean
  stop(): Promise<ProbeResult[]>
}

export function startProbes(
  targets: ProbeTarget[],
  { maxMs = 120_000, maxProbes = 20_000, timeoutMs = 1000 } = {}
): ProbeLoop {
  const deadline = Date.now() + maxMs
  const records = targets.map(() => [] as Probe[])
  let stopping = false
  const loops = targets.map(async (target, i) => {
    while (!stopping && Date.now() < deadline && records[i].length < maxProbes) {
      const t = Date.now()
      const response = await httpGet(target.url, timeoutMs)
      const ok = response?.status === 200
      records[i].push({ t, ok, body: ok ? response.body : undefined })
      await sleep(Math.max(0, target.intervalMs - (Date.now() - t)))
    }
  })
  return {
    allUp: () => records.every((r) => r.length > 0 && r[r.length - 1].ok),
    async stop() {
      stopping = true
      await Promise.all(loops)
      return targets.map((target, i) => summarizeProbes(target.name, records[i]))
    }
  }
}

function summarizeProbes(name: string, probes: Probe[]): ProbeResult {
  let longest = 0
  let downSince: number | undefined
  for (const probe of probes) {
    if (!probe.ok) downSince ??= probe.t
    else if (downSince !== undefined) {
      longest = Math.max(longest, probe.t - downSince)
      downSince = undefined
    }
  }
  const last = probes[probes.length - 1]
  if (downSince !== undefined && last) longest = Math.max(longest, last.t - downSince)
  return {
    name,
    probes: probes.length,
    failures: probes.filter((p) => !p.ok).length,
    longestOutageMs: longest,
    endedDown: downSince !== undefined,
    lastBody: [...probes].reverse().find((p) => p.ok)?.body,
    bodies: probes.reduce<Record<string, number>>((counts, p) => {
      if (p.ok) counts[p.body?.trim() ?? ''] = (counts[p.body?.trim() ?? ''] ?? 0) + 1
      return counts
    }, {})
  }
}
