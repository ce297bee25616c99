/**
 * Lines of an action's stdout or stderr the runner would act on as workflow commands, other
 * than the action's own: its annotations, masks and debug lines, and the ::stop-commands::
 * fences around text shown verbatim (whose token must be 32 hex digits, as log.fenced makes it).
 * Hostile test values carry the command `::<name>::INJECTED` or `##[`: an annotation of ours
 * whose text begins with an attacker's command, or that holds `##[`, counts as foreign.
 */
export function foreignCommands(output: string): string[] {
  const foreign: string[] = []
  for (const trimmed of linesOutsideFences(output, /^[0-9a-f]{32}$/)) {
    // A mask only hides its text, whatever it holds.
    if (trimmed.startsWith('::add-mask::')) continue
    if (
      /^::(error|warning|notice|debug)( [^:]*)?::/.test(trimmed) &&
      !/^::[a-z]+( [^:]*)?::(INJECTED|::)/.test(trimmed)
    ) {
      if (trimmed.includes('##[')) foreign.push(trimmed)
      continue
    }
    if (trimmed.startsWith('::') || trimmed.includes('##[')) foreign.push(trimmed)
  }
  return foreign
}

/**
 * The lines of `output` (trimmed) the runner reads for commands: those outside the
 * `::stop-commands::<token>` fences whose token matches `token`, the fence lines left out.
 */
export function linesOutsideFences(output: string, token: RegExp = /./): string[] {
  const lines: string[] = []
  let fence: string | undefined
  for (const line of output.split(/\r\n|\r|\n/)) {
    const trimmed = line.trim()
    if (fence !== undefined) {
      if (trimmed === `::${fence}::`) fence = undefined
      continue
    }
    const stop = /^::stop-commands::(.+)$/.exec(trimmed)
    if (stop && token.test(stop[1])) fence = stop[1]
    else lines.push(trimmed)
  }
  return lines
}
