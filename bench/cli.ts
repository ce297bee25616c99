// Command-line options shared by the bench scripts: `--name value` pairs and bare flags.

/** The number after `name` on the command line, else `fallback`. */
export function numberOption(name: string, fallback: number): number {
  const at = process.argv.indexOf(name)
  if (at < 0) return fallback
  const value = Number(process.argv[at + 1])
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} needs a number, got '${process.argv[at + 1]}'`)
  return value
}

/** The word after `name` on the command line, else `fallback`. */
export function stringOption(name: string, fallback: string): string {
  const at = process.argv.indexOf(name)
  return at < 0 ? fallback : (process.argv[at + 1] ?? fallback)
}

/** Milliseconds since `start` (a process.hrtime.bigint() reading). */
export function elapsedMs(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6
}

/** One line on stderr, so progress never mixes with the tables on stdout. */
export function progress(message: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`)
}
