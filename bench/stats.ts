/** Summary of repeated measurements, as every benchmark here reports them. */
export interface Stats {
  runs: number
  min: number
  median: number
  max: number
}

export function summarize(samples: number[]): Stats {
  if (samples.length === 0) throw new Error('no samples')
  const sorted = [...samples].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
  return { runs: sorted.length, min: sorted[0], median, max: sorted[sorted.length - 1] }
}

export function formatStats(stats: Stats, unit = 'ms', digits = 1): string {
  const f = (n: number) => `${n.toFixed(digits)} ${unit}`.trimEnd()
  return `median ${f(stats.median)} (min ${f(stats.min)}, max ${f(stats.max)}, ${stats.runs} runs)`
}

/** A markdown table from rows of cells; the first row is the header. */
export function markdownTable(rows: string[][]): string {
  const [header, ...body] = rows
  return [header, header.map(() => '---'), ...body].map((cells) => `| ${cells.join(' | ')} |`).join('\n')
}
