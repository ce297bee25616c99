// What the GitHub runner makes of an action's stdout: the workflow commands it acts on and the
// log lines it shows, with the values registered by ::add-mask:: replaced by ***.

export interface RunnerLog {
  /** The lines the job log shows, masked as the runner masks them (from the registration on). */
  shown: string[]
  /** Each workflow command the runner acts on: its name (`add-mask`, `error`, ...) and its text. */
  commands: { name: string; line: string }[]
}

/** Commands an action emits on purpose; any other one came from text it printed. */
export const ownCommands = ['add-mask', 'error', 'warning', 'notice', 'debug', 'group', 'endgroup', 'stop-commands']

export function readAsRunner(stdout: string): RunnerLog {
  const masks: string[] = []
  const shown: string[] = []
  const commands: RunnerLog['commands'] = []
  const mask = (line: string) => masks.reduce((text, secret) => text.split(secret).join('***'), line)
  // The runner ignores commands inside a ::stop-commands::TOKEN fence until a `::TOKEN::` line.
  let fence: string | undefined
  for (const line of stdout.split('\n')) {
    const trimmed = line.trim()
    if (fence !== undefined) {
      if (trimmed === `::${fence}::`) fence = undefined
      else shown.push(mask(line))
      continue
    }
    const command = /^::([A-Za-z-]+)(?: [^:]*)?::(.*)$/.exec(trimmed)
    if (command === null && !line.includes('##[')) {
      shown.push(mask(line))
      continue
    }
    const name = command?.[1] ?? '##['
    commands.push({ name, line: mask(line) })
    const data = (command?.[2] ?? '').replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%')
    if (name === 'add-mask') masks.push(data)
    else if (name === 'stop-commands') fence = data
    else shown.push(mask(line))
  }
  return { shown, commands }
}

/** The commands the runner would act on that the action does not emit on purpose. */
export function injectedCommands(stdout: string): string[] {
  return readAsRunner(stdout)
    .commands.filter((c) => !ownCommands.includes(c.name))
    .map((c) => c.line)
}
