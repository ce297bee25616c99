/**
 * The sandbox's narrative, kept in memory: `log` is the sandbox's line sink, and `withNarrative`
 * runs a test body so that a failed assertion comes with the narrative's last lines.
 */
export function sandboxNarrative(): {
  log: (line: string) => void
  withNarrative: (body: () => Promise<void> | void) => Promise<void>
} {
  const lines: string[] = []
  return {
    log: (line) => {
      lines.push(line)
    },
    withNarrative: async (body) => {
      try {
        await body()
      } catch (error) {
        const err = error as Error
        err.message += `\n\nLast lines of the sandbox narrative:\n${lines.slice(-60).join('\n')}`
        throw err
      }
    }
  }
}

/** An action output holding JSON, which must be there. */
export function json<T>(text: string | undefined): T {
  expect(text).toBeTruthy()
  return JSON.parse(text!) as T
}
