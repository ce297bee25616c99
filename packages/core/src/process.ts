import { getExecOutput } from '@actions/exec'

/** What a local process printed, and its exit code. */
export interface ProcessResult {
  exitCode: number
  stdout: string
  stderr: string
}

export interface ProcessOptions {
  cwd: string
  /** Added to the environment the action runs with. */
  env?: Record<string, string>
}

/**
 * Runs a local program with an argument vector (never a shell string), its output captured, not
 * echoed. Nothing is written to its stdin: run only programs that read none (git with prompts off).
 * A non-zero exit is a result; it rejects only when the program cannot be started.
 */
export type ProcessRunner = (
  program: string,
  args: readonly string[],
  options: ProcessOptions
) => Promise<ProcessResult>

/** The runner's own way to run a program (@actions/exec), as actions/checkout runs git. */
export const runProcess: ProcessRunner = async (program, args, options) => {
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries({ ...process.env, ...options.env }))
    if (value !== undefined) env[name] = value
  const { exitCode, stdout, stderr } = await getExecOutput(program, [...args], {
    cwd: options.cwd,
    env,
    ignoreReturnCode: true,
    // No `input`: @actions/exec writes it after spawning, and a program that has already exited
    // makes that write fail with an EPIPE nothing can catch, which ends the action.
    silent: true
  })
  return { exitCode, stdout, stderr }
}
