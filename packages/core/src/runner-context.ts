/**
 * What the runner says about the run, from its GITHUB_* variables: read here and nowhere else.
 * Unset variables read as '' (the actions also run outside a runner, in tests and the sandbox).
 */
export interface RunnerContext {
  /** GITHUB_WORKSPACE, or the current folder when it is unset. */
  workspace: string
  /** GITHUB_REPOSITORY: owner/name of the repository the workflow runs in. */
  repository: string
  /** GITHUB_SERVER_URL without a trailing slash; github.com when unset. */
  serverUrl: string
  /** GITHUB_API_URL, the REST API root; api.github.com when unset. */
  apiUrl: string
  runId: string
  runAttempt: string
  sha: string
  ref: string
  actor: string
  eventName: string
  /** GITHUB_EVENT_PATH: the file holding the event's payload. */
  eventPath: string
}

export function readRunnerContext(env: NodeJS.ProcessEnv = process.env): RunnerContext {
  return {
    workspace: env.GITHUB_WORKSPACE || process.cwd(),
    repository: env.GITHUB_REPOSITORY ?? '',
    serverUrl: (env.GITHUB_SERVER_URL || 'https://github.com').replace(/\/+$/, ''),
    apiUrl: env.GITHUB_API_URL || 'https://api.github.com',
    runId: env.GITHUB_RUN_ID ?? '',
    runAttempt: env.GITHUB_RUN_ATTEMPT ?? '',
    sha: env.GITHUB_SHA ?? '',
    ref: env.GITHUB_REF ?? '',
    actor: env.GITHUB_ACTOR ?? '',
    eventName: env.GITHUB_EVENT_NAME ?? '',
    eventPath: env.GITHUB_EVENT_PATH ?? ''
  }
}
