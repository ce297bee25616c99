import { UserError, errorMessage } from './errors'
import { log } from './log'

/**
 * Runs an action's body and turns any error into a failed step: a UserError becomes one
 * annotated error (file and line when known); anything else is reported as unexpected,
 * with its stack in the debug log.
 */
export async function runAction(body: () => Promise<void>): Promise<void> {
  try {
    await body()
  } catch (error) {
    reportFailure(error)
  }
}

function reportFailure(error: unknown): void {
  if (error instanceof UserError) {
    const location = error.location
    log.error(error.describe(), {
      title: error.message.length <= 80 ? error.message : undefined,
      file: location?.file,
      startLine: location?.line,
      startColumn: location?.column
    })
    process.exitCode = 1
    return
  }
  if (error instanceof Error && error.stack) log.debug(error.stack)
  log.error(`Unexpected error: ${errorMessage(error)}. This is a bug in gitops-lite: please report it with this log.`)
  process.exitCode = 1
}
