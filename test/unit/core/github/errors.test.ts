import {
  UserError,
  explainRequestError,
  isRateLimit,
  looksLikeWorkflowToken,
  quoteGitHubMessage,
  quoteText,
  type RequestPurpose
} from '@gitops-lite/core'

const purpose: RequestPurpose = {
  action: 'send the event to acme/infra',
  repository: 'acme/infra',
  permission: 'Contents: write'
}

function failure(status: number, data: unknown, headers: Record<string, string> = {}) {
  return { status, message: 'octokit message', response: { headers, data } }
}

function explain(error: unknown, p: RequestPurpose = purpose): UserError {
  const explained = explainRequestError(error, p)
  expect(explained).toBeInstanceOf(UserError)
  return explained as UserError
}

describe('explainRequestError', () => {
  it('401: the token is bad, and what token to use instead', () => {
    const error = explain(
      failure(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' })
    )
    expect(error.message).toBe(
      'Could not send the event to acme/infra: GitHub rejected the token (401 Bad credentials)'
    )
    expect(error.fix).toContain("'Contents: write' on acme/infra")
  })

  it('403 without rate-limit signs: a missing permission; for a ghs_ token, what GITHUB_TOKEN and an App token each need', () => {
    const error = explain(failure(403, { message: 'Resource not accessible by integration' }), {
      ...purpose,
      workflowToken: true
    })
    expect(error.message).toContain('the token is not allowed to (403 Resource not accessible by integration)')
    // ghs_ is also a GitHub App token's prefix: the hint must not claim it is GITHUB_TOKEN.
    expect(error.fix).toContain(
      "The token starts with ghs_: if it is the workflow's GITHUB_TOKEN, it has permissions only on the repository running the workflow"
    )
    expect(error.fix).toContain(
      "if it is a GitHub App token, the app must be installed on acme/infra with 'Contents: write'"
    )
    expect(explain(failure(403, { message: 'x' })).fix).not.toContain('ghs_')
  })

  it('403/429 with rate-limit signs: when it lifts', () => {
    const secondary = explain(
      failure(403, { message: 'You have exceeded a secondary rate limit.' }, { 'retry-after': '60' })
    )
    expect(secondary.message).toContain('rate limit is exhausted')
    expect(secondary.message).toContain('GitHub asked to wait 60 s more')
    const primary = explain(
      failure(
        429,
        { message: 'API rate limit exceeded' },
        { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1700000000' }
      )
    )
    expect(primary.message).toContain('the limit resets at 2023-11-14T22:13:20.000Z')
  })

  it('404: missing or invisible repository, with the permission', () => {
    const error = explain(failure(404, { message: 'Not Found' }))
    expect(error.message).toContain('acme/infra does not exist or the token cannot see it (404 Not Found)')
    expect(error.fix).toMatch(/^Check the repository name\. .*'Contents: write' on acme\/infra/)
  })

  it("422: GitHub's message and each validation error", () => {
    const error = explain(
      failure(422, {
        message: 'Validation Failed',
        errors: [{ resource: 'PullRequest', field: 'head', code: 'missing_field' }, 'event_type is too long']
      })
    )
    expect(error.message).toContain('(422 Validation Failed: PullRequest head missing_field; event_type is too long)')
  })

  it('5xx after retries, and no response at all', () => {
    expect(explain(failure(502, { message: 'Server Error' })).message).toContain(
      'GitHub kept failing (502 Server Error) after the retries'
    )
    expect(explain({ status: 500, message: 'connect ECONNREFUSED 127.0.0.1:9' }).message).toContain(
      'no response from the GitHub API (connect ECONNREFUSED 127.0.0.1:9)'
    )
  })

  it('404 with a page rather than JSON: the API URL is not the REST API (e.g. GHES without /api/v3)', () => {
    const page = `<!DOCTYPE html><html><head><title>Page not found · GitHub</title></head><body>${'<p>lost</p>'.repeat(300)}</body></html>`
    const error = explain({
      ...failure(404, page),
      request: { method: 'POST', url: 'https://github.example.com/repos/acme/infra/dispatches' }
    })
    expect(error.message).toBe(
      "Could not send the event to acme/infra: the API URL did not answer like GitHub's REST API: " +
        'POST https://github.example.com/repos/acme/infra/dispatches got 404 with a non-JSON body (Page not found · GitHub)'
    )
    expect(error.message).not.toContain('does not exist')
    expect(error.fix).toContain('https://HOST/api/v3 on GitHub Enterprise Server')
    expect(error.fix).toContain("'api-url'")
  })

  it.each([
    [400, { message: 'Problems parsing JSON' }],
    [410, { message: 'Repository access blocked' }],
    [429, { message: 'Too many requests' }]
  ])('%i (no explanation of its own): a fix naming the request and the API URL', (status, body) => {
    const error = explain({
      ...failure(status, body),
      request: { method: 'POST', url: 'https://api.github.com/repos/acme/infra/dispatches' }
    })
    expect(error.message).toBe(
      `Could not send the event to acme/infra: GitHub answered ${status} (${body.message}) to POST https://api.github.com/repos/acme/infra/dispatches`
    )
    expect(error.fix).toMatch(
      /^Check that the API URL, 'api-url' \(where the action has it\) or the runner's GITHUB_API_URL, is GitHub's REST API root/
    )
    expect(error.fix).toContain('then re-run the job')
  })

  it('leaves anything that is not a request failure alone', () => {
    const bug = new TypeError('x is undefined')
    expect(explainRequestError(bug, purpose)).toBe(bug)
  })
})

describe('helpers', () => {
  it('quotes a short text body as it is', () => {
    expect(
      quoteGitHubMessage({
        status: 502,
        message: '<html>Bad gateway</html>',
        response: { data: '<html>Bad gateway</html>' }
      })
    ).toBe('<html>Bad gateway</html>')
  })

  it('quotes an HTML page by its title, and long text by its first 200 characters', () => {
    const page = `<html><head>\n<title>\n  502 Bad Gateway\n</title><style>${'x'.repeat(3000)}</style></head></html>`
    expect(quoteGitHubMessage({ status: 502, message: page, response: { data: page } })).toBe('502 Bad Gateway')
    const text = `upstream connect error ${'y'.repeat(3000)}`
    const quoted = quoteGitHubMessage({ status: 503, message: text, response: { data: text } })
    expect(quoted).toBe(`${text.slice(0, 200)}...`)
    expect(quoteText('<title></title>no title')).toBe('<title></title>no title')
    expect(quoteGitHubMessage({ status: 502, response: { data: '' } })).toBe('an empty body')
  })

  it('tells rate limits from permission failures', () => {
    expect(isRateLimit(failure(403, { message: 'Resource not accessible by integration' }))).toBe(false)
    expect(isRateLimit(failure(403, { message: 'x' }, { 'x-ratelimit-remaining': '0' }))).toBe(true)
    expect(isRateLimit(failure(404, { message: 'x' }, { 'retry-after': '1' }))).toBe(false)
  })

  it('recognises installation tokens by their prefix', () => {
    expect(looksLikeWorkflowToken('ghs_abc')).toBe(true)
    expect(looksLikeWorkflowToken('github_pat_abc')).toBe(false)
    expect(looksLikeWorkflowToken('ghp_abc')).toBe(false)
  })
})
