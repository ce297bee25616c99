import { createGitHubClient, sendRepositoryDispatch, type GitHubLog } from '@gitops-lite/core'
import { FakeGitHub, failures } from '../../../../packages/sandbox/src/fake-github'

const token = 'github_pat_11CCCCCCC0clienttesttoken0123456789abcdefghijklmnopqrstuvwxyz'

function capture(): GitHubLog & { lines: string[] } {
  const lines: string[] = []
  return {
    lines,
    debug: (m) => lines.push(`debug ${m}`),
    info: (m) => lines.push(`info ${m}`),
    warning: (m) => lines.push(`warning ${m}`)
  }
}

describe('createGitHubClient', () => {
  let github: FakeGitHub
  beforeEach(async () => {
    github = await FakeGitHub.start({ repositories: ['acme/infra'], tokens: [token] })
  })
  afterEach(() => github.stop())

  it('logs each exchange at debug level without the token', async () => {
    const log = capture()
    github.failNext(failures.badGateway())
    const client = createGitHubClient({ token, apiUrl: `${github.url}/`, log })
    await sendRepositoryDispatch(client, {
      repository: { owner: 'acme', repo: 'infra' },
      eventType: 'deploy',
      clientPayload: { a: 1 }
    })
    expect(github.requests.map((r) => r.status)).toEqual([502, 204])
    expect(log.lines.filter((l) => l.startsWith('debug POST'))).toHaveLength(2)
    expect(log.lines.join('\n')).toMatch(/-> 204 \(x-github-request-id [0-9A-F]{4}:[0-9A-F]{8}\)/)
    expect(log.lines.join('\n')).not.toContain(token)
  }, 20_000)

  it('does not wait longer than maxRateLimitWaitSeconds for a rate limit', async () => {
    const log = capture()
    github.failNext(failures.secondaryRateLimit(3600))
    const client = createGitHubClient({ token, apiUrl: github.url, log, maxRateLimitWaitSeconds: 60 })
    await expect(
      sendRepositoryDispatch(client, {
        repository: { owner: 'acme', repo: 'infra' },
        eventType: 'deploy',
        clientPayload: {}
      })
    ).rejects.toThrow('GitHub asked to wait 3600 s more')
    expect(github.requests).toHaveLength(1)
    expect(log.lines.join('\n')).toContain('GitHub asks to wait 3600 s, longer than the 60 s this action waits')
  })
})
