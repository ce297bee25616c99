import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { restoresAfterRun } from '@gitops-lite/core'
import { FakeGitHub, createdFilter, failures, renderRunName } from '../../../packages/sandbox/src/fake-github'
import { createGitRemote } from '../../../packages/sandbox/src/git-remote'
import { openApiProblems, openApiResponseProblems } from '../../helpers/openapi'

const request = (method: string, path: string, body?: unknown, query: Record<string, string> = {}) => ({
  at: 0,
  method,
  path,
  query,
  headers: {},
  rawBody: body === undefined ? '' : JSON.stringify(body),
  body,
  status: 0
})

describe('renderRunName', () => {
  const context = { github: { event: { client_payload: { correlation_id: 'c-1' } }, sha: 'abc' } }
  it('evaluates property paths, literals and ||', () => {
    expect(renderRunName('deploy ${{ github.event.client_payload.correlation_id }}', context)).toBe('deploy c-1')
    expect(renderRunName("${{ github.event.client_payload.missing || 'push' }} ${{github.sha}}", context)).toBe(
      'push abc'
    )
  })
  it("renders the templates' run-name: object filters and join()", () => {
    const runName =
      "deploy ${{ github.event.client_payload.service || join(github.event.client_payload.services.*.service, ', ') }} (${{ github.event.client_payload.correlation_id }})"
    const several = {
      github: {
        event: { client_payload: { services: [{ service: 'api' }, { service: 'worker' }], correlation_id: 'c-2' } }
      }
    }
    expect(renderRunName(runName, several)).toBe('deploy api, worker (c-2)')
    expect(
      renderRunName(runName, { github: { event: { client_payload: { service: 'api', correlation_id: 'c-3' } } } })
    ).toBe('deploy api (c-3)')
    expect(renderRunName('${{ join(github.event.client_payload.services.*.service) }}', several)).toBe('api,worker')
  })

  it('refuses expressions it does not implement', () => {
    expect(() => renderRunName("${{ format('{0}', github.sha) }}", context)).toThrow('not supported')
  })
})

describe('createdFilter', () => {
  const at = (iso: string) => Date.parse(iso)
  it("implements GitHub's created qualifiers", () => {
    expect(createdFilter('>=2025-01-01T00:00:00Z')(at('2025-01-01T00:00:00Z'))).toBe(true)
    expect(createdFilter('>2025-01-01T00:00:00Z')(at('2025-01-01T00:00:00Z'))).toBe(false)
    expect(createdFilter('<2025-01-01')(at('2024-12-31T23:59:59Z'))).toBe(true)
    expect(createdFilter('2025-01-01..2025-01-31')(at('2025-01-15T00:00:00Z'))).toBe(true)
    expect(createdFilter('2025-01-01')(at('2025-01-02T00:00:00Z'))).toBe(false)
  })
})

describe("openApiProblems (the integration suite's contract check)", () => {
  it('accepts a conforming dispatch and run listing', () => {
    expect(
      openApiProblems(
        request('POST', '/repos/acme/infra/dispatches', { event_type: 'deploy', client_payload: { a: 1 } })
      )
    ).toEqual([])
    expect(
      openApiProblems(
        request('GET', '/repos/acme/infra/actions/runs', undefined, { event: 'repository_dispatch', per_page: '100' })
      )
    ).toEqual([])
  })
  it('flags unknown operations, bad bodies and bad query parameters', () => {
    expect(openApiProblems(request('POST', '/repos/acme/infra/dispatch', {}))).toEqual([
      "POST /repos/acme/infra/dispatch is not an operation of GitHub's REST API"
    ])
    expect(openApiProblems(request('POST', '/repos/acme/infra/dispatches', { client_payload: {} })).join()).toContain(
      "must have required property 'event_type'"
    )
    const eleven = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, i]))
    expect(
      openApiProblems(
        request('POST', '/repos/acme/infra/dispatches', { event_type: 'd', client_payload: eleven })
      ).join()
    ).toContain('must NOT have more than 10 properties')
    expect(
      openApiProblems(request('GET', '/repos/acme/infra/actions/runs', undefined, { per_page: 'many', evnt: 'x' }))
    ).toHaveLength(2)
  })
})

describe('openApiResponseProblems', () => {
  const answered = (path: string, status: number, response: unknown) => ({ ...request('GET', path), status, response })
  it("checks the types of the fake's fields against the documented response", () => {
    const run = {
      id: 7,
      status: 'completed',
      conclusion: 'success',
      display_title: 'deploy c',
      html_url: 'https://github.com/a/b/actions/runs/7'
    }
    expect(openApiResponseProblems(answered('/repos/a/b/actions/runs/7', 200, run))).toEqual([])
    expect(openApiResponseProblems(answered('/repos/a/b/actions/runs/7', 200, { ...run, id: '7' })).join()).toContain(
      'response/id must be integer'
    )
    expect(
      openApiResponseProblems(answered('/repos/a/b/actions/runs', 200, { total_count: 1, workflow_runs: [run] }))
    ).toEqual([])
  })
})

describe('FakeGitHub.failNext', () => {
  it('with handled, lets the request take effect and answers the failure (a gateway timing out after the API did the work)', async () => {
    const github = await FakeGitHub.start({ repositories: ['acme/infra'] })
    const delivered: string[] = []
    github.onDispatch((event) => void delivered.push(event.eventType))
    github.failNext(failures.badGateway(), { path: /\/dispatches$/, handled: true })
    github.failNext(failures.badGateway(), { path: /\/dispatches$/ })
    const post = () =>
      fetch(`${github.url}/repos/acme/infra/dispatches`, {
        method: 'POST',
        body: JSON.stringify({ event_type: 'deploy' })
      })
    expect([(await post()).status, (await post()).status, (await post()).status]).toEqual([502, 502, 204])
    await github.stop()
    expect(delivered).toEqual(['deploy', 'deploy'])
  })
})

describe('FakeGitHub GET /repos/{owner}/{repo}/commits', () => {
  it("lists the served branch's commits, newest first, in GitHub's documented shape, and 404 for a repository without one", async () => {
    const remote = await createGitRemote({
      dir: await mkdtemp(join(tmpdir(), 'fake-github-commits-')),
      files: { 'compose.yaml': 'services: {}\n' },
      message: 'The stack\n\nService: api'
    })
    const github = await FakeGitHub.start({ repositories: ['acme/infra', 'acme/app'] })
    github.serveCommits('acme/infra', { bareDir: remote.bareDir, branch: remote.branch })
    try {
      const since = new Date(Date.now() - 60_000).toISOString()
      const listed = await fetch(`${github.url}/repos/acme/infra/commits?since=${since}&per_page=100`)
      expect(listed.status).toBe(200)
      const commits = (await listed.json()) as { sha: string; html_url: string; commit: { message: string } }[]
      expect(commits).toEqual([
        expect.objectContaining({
          sha: await remote.head(),
          commit: expect.objectContaining({ message: 'The stack\n\nService: api' })
        })
      ])
      expect(commits[0].html_url).toBe(`https://github.com/acme/infra/commit/${commits[0].sha}`)
      expect((await fetch(`${github.url}/repos/acme/app/commits`)).status).toBe(404)
      for (const recorded of github.requests) {
        expect(openApiProblems(recorded)).toEqual([])
        expect(openApiResponseProblems(recorded)).toEqual([])
      }
    } finally {
      await github.stop()
      await rm(join(remote.bareDir, '..'), { recursive: true, force: true })
    }
  })
})

describe('restoresAfterRun', () => {
  const run = 'https://github.com/acme/infra/actions/runs/7'
  it('finds the Rolled-Back-Run trailer naming the run or one of its attempts, and nothing else', () => {
    expect(restoresAfterRun(`revert(deploy): api back to v2\n\nRolled-Back-Run: ${run}/attempts/2`, run)).toBe(true)
    expect(restoresAfterRun(`x\n\nRolled-Back-Run: ${run}`, run)).toBe(true)
    expect(restoresAfterRun(`x\n\nRolled-Back-Run: ${run}7/attempts/1`, run)).toBe(false)
    expect(restoresAfterRun(`x\n\nSource-Run: ${run}`, run)).toBe(false)
  })
})
