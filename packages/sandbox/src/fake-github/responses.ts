/**
 * GitHub's REST error responses, as its docs and api.github.com give them:
 * a JSON body `{ message, documentation_url, status, errors? }` and the headers that go with it.
 */
/** GitHub's 422 for a request body it refuses, with the validation details and the endpoint's documentation. */
export function validationFailed(errors: unknown[], documentationUrl: string): ErrorResponse {
  return { status: 422, message: 'Validation Failed', errors, documentationUrl }
}

export interface ErrorResponse {
  status: number
  message: string
  documentationUrl?: string
  /** Validation details of a 422: strings, or `{ resource, field, code, message? }` objects. */
  errors?: unknown[]
  headers?: Record<string, string>
  /** An HTML page sent instead of the JSON body, as a proxy in front of the API or a web server answers. */
  page?: string
}

const docs = 'https://docs.github.com/rest'

export function errorBody(response: ErrorResponse): Record<string, unknown> {
  return {
    message: response.message,
    documentation_url: response.documentationUrl ?? docs,
    ...(response.errors ? { errors: response.errors } : {}),
    status: String(response.status)
  }
}

/** An HTML error page of about 3 KB, the size of a load balancer's or GitHub's own (styles inline). */
export function htmlPage(title: string): string {
  const style =
    `body { font-family: -apple-system, BlinkMacSystemFont, "Segoe UI", Helvetica, Arial, sans-serif; }\n`.repeat(28)
  return `<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n<title>${title}</title>\n<style>\n${style}</style>\n</head>\n<body>\n<h1>${title}</h1>\n</body>\n</html>\n`
}

/** Ready-made failures for `FakeGitHub.failNext`. */
export const failures = {
  badGateway: (): ErrorResponse => ({ status: 502, message: 'Server Error' }),
  serviceUnavailable: (): ErrorResponse => ({ status: 503, message: 'Service Unavailable' }),
  /** A 502 from a proxy in front of the API: an HTML page, not GitHub's JSON. */
  badGatewayPage: (): ErrorResponse => ({ status: 502, message: '502 Bad Gateway', page: htmlPage('502 Bad Gateway') }),
  /** What GitHub Enterprise Server's web server answers for an API path without /api/v3. */
  webNotFoundPage: (): ErrorResponse => ({
    status: 404,
    message: 'Page not found',
    page: htmlPage('Page not found · GitHub Enterprise')
  }),
  badCredentials: (): ErrorResponse => ({ status: 401, message: 'Bad credentials' }),
  notFound: (): ErrorResponse => ({
    status: 404,
    message: 'Not Found',
    documentationUrl: `${docs}/repos/repos#create-a-repository-dispatch-event`
  }),
  /** What an installation token without the permission gets, e.g. the workflow's GITHUB_TOKEN on another repository. */
  notAccessible: (): ErrorResponse => ({
    status: 403,
    message: 'Resource not accessible by integration',
    documentationUrl: `${docs}/repos/repos#create-a-repository-dispatch-event`
  }),
  validationFailed: (errors: unknown[] = [], message = 'Validation Failed'): ErrorResponse => ({
    status: 422,
    message,
    errors
  }),
  /** A secondary rate limit: 403 (or 429) with `retry-after`, per "Rate limits for the REST API". */
  secondaryRateLimit: (retryAfterSeconds: number, status: 403 | 429 = 403): ErrorResponse => ({
    status,
    message:
      'You have exceeded a secondary rate limit. Please wait a few minutes before you try again. ' +
      'If you reach out to GitHub Support for help, please include the request ID 0000:0000:0000000:0000000:00000000.',
    documentationUrl: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits',
    headers: { 'retry-after': String(retryAfterSeconds) }
  }),
  /** The primary rate limit: `x-ratelimit-remaining: 0` until `x-ratelimit-reset` (epoch seconds). */
  primaryRateLimit: (resetInSeconds: number): ErrorResponse => ({
    status: 403,
    message: 'API rate limit exceeded for user ID 1.',
    documentationUrl: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-primary-rate-limits',
    headers: {
      'x-ratelimit-remaining': '0',
      'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000) + resetInSeconds)
    }
  })
}
