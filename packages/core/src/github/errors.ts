import { UserError } from '../errors'

/** What a request was for, so a failure can say what was being done and what would fix it. */
export interface RequestPurpose {
  /** e.g. `send the repository_dispatch event to acme/infra` */
  action: string
  /** `owner/name` of the repository the request is about. */
  repository: string
  /** The token permission the request needs, e.g. `Contents: write`. */
  permission: string
  /** Whether the token looks like the workflow's own GITHUB_TOKEN (see looksLikeWorkflowToken). */
  workflowToken?: boolean
}

/** The parts of octokit's RequestError this reads; plain objects in unit tests. */
export interface RequestFailure {
  status?: number
  message?: string
  response?: { headers?: Record<string, string | number | undefined>; data?: unknown }
}

interface GitHubErrorBody {
  message?: string
  documentation_url?: string
  errors?: unknown[]
}

function bodyOf(error: RequestFailure): GitHubErrorBody {
  const data = error.response?.data
  return typeof data === 'object' && data !== null ? (data as GitHubErrorBody) : {}
}

/** GitHub's own words: its message, then each entry of `errors` (a string, or an object with `message`, `field`, `code`). */
export function quoteGitHubMessage(error: RequestFailure): string {
  const body = bodyOf(error)
  const details = (body.errors ?? []).map((entry) => {
    if (typeof entry === 'string') return entry
    const e = entry as { message?: string; field?: string; code?: string; resource?: string }
    return e.message ?? [e.resource, e.field, e.code].filter(Boolean).join(' ')
  })
  const message = body.message ?? error.message ?? 'no message'
  return details.length > 0 ? `${message}: ${details.join('; ')}` : message
}

function header(error: RequestFailure, name: string): string | undefined {
  const value = error.response?.headers?.[name]
  return value === undefined ? undefined : String(value)
}

/** Whether a 403/429 is a rate limit rather than a missing permission, per GitHub's REST docs. */
export function isRateLimit(error: RequestFailure): boolean {
  if (error.status !== 403 && error.status !== 429) return false
  return (
    header(error, 'x-ratelimit-remaining') === '0' ||
    header(error, 'retry-after') !== undefined ||
    /rate limit/i.test(bodyOf(error).message ?? error.message ?? '')
  )
}

function rateLimitWait(error: RequestFailure): string {
  const retryAfter = header(error, 'retry-after')
  if (retryAfter !== undefined) return `GitHub asked to wait ${retryAfter} s more`
  const reset = Number(header(error, 'x-ratelimit-reset'))
  if (Number.isFinite(reset) && reset > 0) return `the limit resets at ${new Date(reset * 1000).toISOString()}`
  return 'GitHub did not say when it lifts'
}

/**
 * GitHub's installation tokens start with `ghs_`: the workflow's GITHUB_TOKEN is one, and so is
 * a GitHub App token. Only the former is confined to the repository running the workflow.
 */
export function looksLikeWorkflowToken(token: string): boolean {
  return token.startsWith('ghs_')
}

function permissionFix(purpose: RequestPurpose): string {
  const workflowToken = purpose.workflowToken
    ? " The token looks like the workflow's GITHUB_TOKEN, which can only reach the repository running the workflow."
    : ''
  return (
    `${workflowToken} Use a fine-grained personal access token or a GitHub App token with '${purpose.permission}' on ${purpose.repository}` +
    ' (a classic token needs the repo scope), stored as a secret.'
  ).trimStart()
}

/**
 * Turns a failed GitHub request into a UserError saying what happened, in GitHub's words
 * where it gave any, and what to do. Anything that is not a request failure is returned as is.
 */
export function explainRequestError(error: unknown, purpose: RequestPurpose): unknown {
  if (typeof error !== 'object' || error === null || typeof (error as RequestFailure).status !== 'number') return error
  const failure = error as RequestFailure
  const status = failure.status!
  const quoted = quoteGitHubMessage(failure)
  const cause = { cause: error }
  const tried = `Could not ${purpose.action}`

  if (status === 401) {
    return new UserError(`${tried}: GitHub rejected the token (401 ${quoted})`, {
      fix: `The token is wrong, expired or revoked. ${permissionFix(purpose)}`,
      ...cause
    })
  }
  if (isRateLimit(failure)) {
    return new UserError(`${tried}: the token's GitHub API rate limit is exhausted (${status} ${quoted}); ${rateLimitWait(failure)}`, {
      fix: 'Re-run the job once the limit has lifted, or use a GitHub App token, which has a rate limit of its own.',
      ...cause
    })
  }
  if (status === 403) {
    return new UserError(`${tried}: the token is not allowed to (403 ${quoted})`, { fix: permissionFix(purpose), ...cause })
  }
  if (status === 404) {
    return new UserError(`${tried}: ${purpose.repository} does not exist or the token cannot see it (404 ${quoted})`, {
      fix: `Check the repository name. ${permissionFix(purpose)}`,
      ...cause
    })
  }
  if (status === 422) {
    return new UserError(`${tried}: GitHub found the request invalid (422 ${quoted})`, {
      fix: 'Correct the value GitHub names above; the limits are in the action README.',
      ...cause
    })
  }
  if (failure.response === undefined) {
    return new UserError(`${tried}: no response from the GitHub API (${quoted})`, {
      fix: "Check 'api-url' and the runner's network; retries were exhausted.",
      ...cause
    })
  }
  if (status >= 500) {
    return new UserError(`${tried}: GitHub kept failing (${status} ${quoted}) after the retries`, {
      fix: 'GitHub may be having an incident (see its status page); re-run the job later.',
      ...cause
    })
  }
  return new UserError(`${tried}: GitHub answered ${status} (${quoted})`, { ...cause })
}
