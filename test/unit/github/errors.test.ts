import { UserError, explainRequestError, isRateLimit, looksLikeWorkflowToken, quoteGitHubMessage, type RequestPurpose } from '@gitops-lite/core'

const purpose: RequestPurpose = { action: 'send the event to acme/infra', repository: 'acme/infra', permission: 'Contents: write' }

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
    const error = explain(failure(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' }))
    expect(error.message).toBe('Could not send the event to acme/infra: GitHub rejected the token (401 Bad credentials)')
    expect(error.fix).toContain("'Contents: write' on acme/infra")
  })

  it('403 without rate-limit signs: a missing permission, naming GITHUB_TOKEN when it looks like one', () => {
    const error = explain(failure(403, { message: 'Resource not accessible by integration' }), { ...purpose, workflowToken: true })
    expect(error.message).toContain('the token is not allowed to (403 Resource not accessible by integration)')
    expect(error.fix).toContain("looks like the workflow's GITHUB_TOKEN")
  })

  it('403/429 with rate-limit signs: when it lifts', () => {
    const secondary = explain(failure(403, { message: 'You have exceeded a secondary rate limit.' }, { 'retry-after': '60' }))
    expect(secondary.message).toContain('rate limit is exhausted')
    expect(secondary.message).toContain('GitHub asked to wait 60 s more')
    const primary = explain(failure(429, { message: 'API rate limit exceeded' }, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1700000000' }))
    expect(primary.message).toContain('the limit resets at 2023-11-14T22:13:20.000Z')
  })

  it('404: missing or invisible repository, with the permission', () => {
    const error = explain(failure(404, { message: 'Not Found' }))
    expect(error.message).toContain('acme/infra does not exist or the token cannot see it (404 Not Found)')
    expect(error.fix).toMatch(/^Check the repository name\. .*'Contents: write' on acme\/infra/)
  })

  it("422: GitHub's message and each validation error", () => {
    const error = explain(
      failure(422, { message: 'Validation Failed', errors: [{ resource: 'PullRequest', field: 'head', code: 'missing_field' }, 'event_type is too long'] })
    )
    expect(error.message).toContain('(422 Validation Failed: PullRequest head missing_field; event_type is too long)')
  })

  it('5xx after retries, and no response at all', () => {
    expect(explain(failure(502, { message: 'Server Error' })).message).toContain('GitHub kept failing (502 Server Error) after the retries')
    expect(explain({ status: 500, message: 'connect ECONNREFUSED 127.0.0.1:9' }).message).toContain(
      'no response from the GitHub API (connect ECONNREFUSED 127.0.0.1:9)'
    )
  })

  it('leaves anything that is not a request failure alone', () => {
    const bug = new TypeError('x is undefined')
    expect(explainRequestError(bug, purpose)).toBe(bug)
  })
})

describe('helpers', () => {
  it('quotes a text body as it is', () => {
    expect(quoteGitHubMessage({ status: 502, message: '<html>Bad gateway</html>', response: { data: '<html>Bad gateway</html>' } })).toBe(
      '<html>Bad gateway</html>'
    )
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
