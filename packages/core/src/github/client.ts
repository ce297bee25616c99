import { getOctokit } from '@actions/github'
import { retry } from '@octokit/plugin-retry'
import { throttling } from '@octokit/plugin-throttling'
import { log } from '../log'

export type GitHubClient = ReturnType<typeof getOctokit>

/** Where the client writes what it does; the token never reaches it (octokit redacts `authorization`). */
export interface GitHubLog {
  debug(message: string): void
  info(message: string): void
  warning(message: string): void
}

export const actionsLog: GitHubLog = {
  debug: (message) => log.debug(message),
  info: (message) => log.info(message),
  warning: (message) => log.warning(message)
}

export interface GitHubClientOptions {
  token: string
  /** REST API root: https://api.github.com, or https://HOST/api/v3 on GitHub Enterprise Server. */
  apiUrl: string
  /** Retries of a 5xx or network failure (1 s, 4 s, 9 s, ... apart). */
  serverErrorRetries?: number
  /** Retries after a primary or secondary rate limit, each after the wait GitHub asks for. */
  rateLimitRetries?: number
  /** Longest wait for a rate limit to lift; a longer one fails at once rather than holding the job. */
  maxRateLimitWaitSeconds?: number
  log?: GitHubLog
}

export const DEFAULT_CLIENT_LIMITS = {
  serverErrorRetries: 3,
  rateLimitRetries: 3,
  maxRateLimitWaitSeconds: 600
} as const

/**
 * An octokit for `apiUrl` that retries 5xx responses a bounded number of times and, on a
 * 403/429 rate limit, waits as `retry-after` or `x-ratelimit-reset` asks, also bounded.
 * When the bound is reached the last error is thrown: `explainRequestError` words it.
 */
export function createGitHubClient(options: GitHubClientOptions): GitHubClient {
  const log = options.log ?? actionsLog
  const serverErrorRetries = options.serverErrorRetries ?? DEFAULT_CLIENT_LIMITS.serverErrorRetries
  const rateLimitRetries = options.rateLimitRetries ?? DEFAULT_CLIENT_LIMITS.rateLimitRetries
  const maxWait = options.maxRateLimitWaitSeconds ?? DEFAULT_CLIENT_LIMITS.maxRateLimitWaitSeconds

  const onLimit =
    (kind: string) =>
    (retryAfter: number, request: { method: string; url: string }, _octokit: unknown, retryCount: number): boolean => {
      const what = `${request.method} ${request.url} hit GitHub's ${kind}`
      if (retryCount >= rateLimitRetries) {
        log.warning(`${what}; giving up after ${retryCount} retries`)
        return false
      }
      if (retryAfter > maxWait) {
        log.warning(`${what}; GitHub asks to wait ${retryAfter} s, longer than the ${maxWait} s this action waits`)
        return false
      }
      log.info(`${what}; retrying in ${retryAfter} s (retry ${retryCount + 1} of ${rateLimitRetries})`)
      return true
    }

  return getOctokit(
    options.token,
    {
      baseUrl: options.apiUrl.replace(/\/+$/, ''),
      log: {
        debug: (message: string) => log.debug(message),
        info: (message: string) => log.info(message),
        warn: (message: string) => log.warning(message),
        error: (message: string) => log.warning(message)
      },
      // Rate limits (403 and 429) are the throttling plugin's: it knows how long GitHub asks to wait.
      retry: { retries: serverErrorRetries, doNotRetry: [400, 401, 403, 404, 410, 422, 429, 451] },
      throttle: {
        onRateLimit: onLimit('rate limit'),
        onSecondaryRateLimit: onLimit('secondary rate limit')
      }
    },
    // First, so it wraps each attempt rather than the retried whole.
    requestLog(log),
    retry,
    throttling
  )
}

/** One debug line per HTTP exchange (method, URL as sent, status, request id); headers are never logged. */
function requestLog(log: GitHubLog) {
  return (octokit: Pick<GitHubClient, 'hook'>) => {
    octokit.hook.wrap('request', async (request, options) => {
      try {
        const response = await request(options)
        log.debug(
          `${options.method} ${response.url} -> ${response.status} (x-github-request-id ${response.headers['x-github-request-id'] ?? 'none'})`
        )
        return response
      } catch (error) {
        const failure = error as { status?: number; request?: { url?: string } }
        log.debug(`${options.method} ${failure.request?.url ?? options.url} -> ${failure.status ?? 'no response'}`)
        throw error
      }
    })
  }
}
