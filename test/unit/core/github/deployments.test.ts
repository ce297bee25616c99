import { UserError, createDeployment, createGitHubClient, setDeploymentStatus, type GitHubLog } from '@gitops-lite/core'
import { FakeGitHub, failures } from '../../../../packages/sandbox/src/fake-github'
import { openApiProblems, openApiResponseProblems } from '../../../helpers/openapi'

const token = `ghs_${'e'.repeat(36)}`
const quiet: GitHubLog = { debug: () => undefined, info: () => undefined, warning: () => undefined }
const target = { repository: { owner: 'acme', repo: 'infra' }, environment: 'production' }
const sha = 'c'.repeat(40)

describe('GitHub deployments', () => {
  let github: FakeGitHub
  beforeEach(async () => {
    github = await FakeGitHub.start({ repositories: ['acme/infra'], tokens: [token] })
  })
  afterEach(async () => {
    for (const request of github.requests) {
      expect(openApiProblems(request)).toEqual([])
      expect(openApiResponseProblems(request)).toEqual([])
    }
    await github.stop()
  })
  const client = () => createGitHubClient({ token, apiUrl: github.url, log: quiet, serverErrorRetries: 0 })

  it('creates a deployment of the commit as it is, and marks earlier successful ones inactive on success', async () => {
    const first = await createDeployment(client(), target, sha, 'ssh-surgical-deploy by octocat')
    const status = {
      description: 'x'.repeat(200),
      logUrl: 'https://github.com/acme/infra/actions/runs/1/attempts/1',
      environmentUrl: 'https://example.com'
    }
    await setDeploymentStatus(client(), target, first, { ...status, state: 'in_progress' })
    await setDeploymentStatus(client(), target, first, { ...status, state: 'success' })
    const second = await createDeployment(client(), target, sha, 'again')
    await setDeploymentStatus(client(), target, second, { ...status, state: 'failure' })
    expect(github.deployments('acme/infra')[0].statuses.map((s) => s.state)).toEqual(['in_progress', 'success'])
    const third = await createDeployment(client(), target, sha, 'again')
    await setDeploymentStatus(client(), target, third, { ...status, state: 'success' })

    const [a, b, c] = github.deployments('acme/infra')
    expect(a.statuses.map((s) => s.state)).toEqual(['in_progress', 'success', 'inactive'])
    expect(b.statuses.map((s) => s.state)).toEqual(['failure'])
    expect(c).toMatchObject({ sha, environment: 'production' })
    const create = github.requestsTo('POST', /\/deployments$/)[0].body
    expect(create).toEqual({
      ref: sha,
      environment: 'production',
      description: 'ssh-surgical-deploy by octocat',
      auto_merge: false,
      required_contexts: []
    })
    // GitHub refuses descriptions over 140 characters: cut, not refused.
    expect(a.statuses[0].description).toHaveLength(140)
    expect(a.statuses[0]).toMatchObject({ environmentUrl: 'https://example.com', logUrl: status.logUrl })
  }, 30_000)

  it('names the permission when the token may not create deployments', async () => {
    github.failNext(failures.notAccessible(), { path: /\/deployments$/ })
    const error = await createDeployment(client(), target, sha, 'x').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UserError)
    expect((error as UserError).describe()).toMatch(
      /Could not create a deployment of cccccccccccc to the 'production' environment of acme\/infra.*403.*'Deployments: write'/
    )
  }, 30_000)
})
