import { UserError } from '../errors'

/** What a request was for, so a failure can say what was being done and what would fix it. */
export interface RequestPurpose {
  /** e.g. `send the repository_dispatch event to acme/infra` */
  action: string
  /** `owner/name` of the repository the request is about. */
  repository: string
  /** The token permission the request needs, e.g. `Contents: write`. */
  permission: string
  /** Whether the token is an installation token, as the workflow's own GITHUB_TOKEN is (see looksLikeWorkflowToken). */
  workflowToken?: boolean
}

/** The parts of octokit's RequestError this reads; plain objects in unit tests. */
export interface RequestFailure {
  status?: number
  message?: string
  /** What was asked; octokit keeps the authorization header out of the error. */
  request?: { method?: string; url?: string }
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

/** The longest excerpt of a text body quoted in a message: an HTML error page runs to kilobytes. */
const TEXT_QUOTE_LIMIT = 200

/** A text body (an HTML page from a proxy or a web server) by its <title>, else its first characters. */
export function quoteText(text: string): string {
  const title = /<title[^>]*>([^<]*)<\/title>/i.exec(text)?.[1].trim()
  const flat = (title || text).replace(/\s+/g, ' ').trim()
  return flat.length > TEXT_QUOTE_LIMIT ? `${flat.slice(0, TEXT_QUOTE_LIMIT)}...` : flat
}

/** Whether the body is text rather than GitHub's JSON, i.e. something other than the REST API answered. */
function hasTextBody(error: RequestFailure): boolean {
  return typeof error.response?.data === 'string'
}

/**
 * GitHub's own words: its message, then each entry of `errors` (a string, or an object with
 * `message`, `field`, `code`). A text body is quoted by its title or start.
 */
export function quoteGitHubMessage(error: RequestFailure): string {
  const data = error.response?.data
  if (typeof data === 'string') return quoteText(data) || 'an empty body'
  const body = bodyOf(error)
  const details = (body.errors ?? []).map((entry) => {
    if (typeof entry === 'string') return entry
    const e = entry as { message?: string; field?: string; code?: string; resource?: string }
    return e.message ?? [e.resource, e.field, e.code].filter(Boolean).join(' ')
  })
  const message = body.message ?? quoteText(error.message ?? 'no message')
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
  // ghs_ is every installation token: the workflow's GITHUB_TOKEN, but also a GitHub App's.
  const workflowToken = purpose.workflowToken
    ? " The token starts with ghs_: if it is the workflow's GITHUB_TOKEN, it has permissions only on the repository running the workflow;" +
      ` if it is a GitHub App token, the app must be installed on ${purpose.repository} with '${purpose.permission}'.`
    : ''
  return (
    `${workflowToken} Use a fine-grained personal access token or a GitHub App token with '${purpose.permission}' on ${purpose.repository}` +
    ' (a classic token needs the repo scope), stored as a secret.'
  ).trimStart()
}

/** Where a REST API root is, for fixes that point at a wrong API URL. */
const API_ROOT = "GitHub's REST API root (https://api.github.com, or https://HOST/api/v3 on GitHub Enterprise Server)"

/** Where the API URL comes from: dispatch-to-infra's input, the other actions the runner's. */
const API_URL_SETTING = "'api-url' (where the action has it) or the runner's GITHUB_API_URL"

/** `POST https://api.github.com/repos/acme/infra/dispatches`, as far as the failure tells. */
function describeRequest(error: RequestFailure): string {
  const { method, url } = error.request ?? {}
  return url === undefined ? 'the request' : `${method ?? ''} ${url}`.trim()
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
    return new UserError(
      `${tried}: the token's GitHub API rate limit is exhausted (${status} ${quoted}); ${rateLimitWait(failure)}`,
      {
        fix: 'Re-run the job once the limit has lifted, or use a GitHub App token, which has a rate limit of its own.',
        ...cause
      }
    )
  }
  if (status === 403) {
    return new UserError(`${tried}: the token is not allowed to (403 ${quoted})`, {
      fix: permissionFix(purpose),
      ...cause
    })
  }
  if (status === 404 && hasTextBody(failure)) {
    // GitHub's API answers 404 in JSON; a page means a web server or proxy answered instead.
    return new UserError(
      `${tried}: the API URL did not answer like GitHub's REST API: ${describeRequest(failure)} got 404 with a non-JSON body (${quoted})`,
      {
        fix: `Check the API URL, ${API_URL_SETTING}: it must be ${API_ROOT}.`,
        ...cause
      }
    )
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
  return new UserError(`${tried}: GitHub answered ${status} (${quoted}) to ${describeRequest(failure)}`, {
    fix:
      `Check that the API URL, ${API_URL_SETTING}, is ${API_ROOT}, then re-run the job;` +
      ' if GitHub keeps answering this, report it with this log.',
    ...cause
  })
}
