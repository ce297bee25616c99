import * as core from '@actions/core'
import { UserError, errorMessage } from './errors'

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
    core.error(error.describe(), {
      title: error.message.length <= 80 ? error.message : undefined,
      file: location?.file,
      startLine: location?.line,
      startColumn: location?.column
    })
    process.exitCode = core.ExitCode.Failure
    return
  }
  if (error instanceof Error && error.stack) core.debug(error.stack)
  core.setFailed(`Unexpected error: ${errorMessage(error)}. This is a bug in gitops-lite: please report it with this log.`)
}
