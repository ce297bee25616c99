import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { CLOCK_SKEW_MS, parseDeployPayload } from '@gitops-lite/core'
import { exec } from '../../packages/sandbox/src/exec'
import {
  FakeGitHub,
  failures,
  renderRunName,
  startRunOnDispatch,
  type DispatchRunOptions
} from '../../packages/sandbox/src/fake-github'
import { createGitRemote } from '../../packages/sandbox/src/git-remote'
import { openApiProblems, openApiResponseProblems, operationOf } from '../helpers/openapi'
import { repoRoot, runAction, type ActionRun } from '../helpers/run-action'

/** Per-test limit: each test runs the bundle as a process; the 5xx retries alone take 14 s. */
const timeout = 60_000

const TOKEN = 'github_pat_11AAAAAAA0testtokenvalue0123456789abcdefghijklmnopqrstuvwxyz'
const DIGEST = `sha256:${'4f'.repeat(32)}`
const APP_ENV = {
  GITHUB_REPOSITORY: 'acme/app',
  GITHUB_SHA: 'a'.repeat(40),
  GITHUB_REF: 'refs/heads/main',
  GITHUB_RUN_ID: '4242',
  GITHUB_ACTOR: 'octocat'
}

/** The run-name line the README tells infra workflows to use, exactly as documented. */
const RUN_NAME = /^run-name: (.*correlation_id.*)$/m.exec(
  readFileSync(join(repoRoot, 'actions/dispatch-to-infra/README.md'), 'utf8')
)![1]

let github: FakeGitHub

beforeEach(async () => {
  github = await FakeGitHub.start({ repositories: ['acme/infra'], tokens: [TOKEN, `ghs_${'x'.repeat(36)}`] })
})

afterEach(async () => {
  // Whatever happened, every request sent must be one GitHub's OpenAPI description defines,
  // and every answer of the fake must have the documented shape.
  for (const request of github.requests) {
    expect(openApiProblems(request)).toEqual([])
    expect(openApiResponseProblems(request)).toEqual([])
  }
  await github.stop()
})

function dispatch(inputs: Record<string, string> = {}, env: Record<string, string> = {}): Promise<ActionRun> {
  return runAction('dispatch-to-infra', {
    inputs: {
      token: TOKEN,
      repository: 'acme/infra',
      service: 'api',
      image: 'ghcr.io/acme/api',
      tag: 'v1.2.3',
      digest: DIGEST,
      'api-url': github.url,
      ...inputs
    },
    env: { ...APP_ENV, ...env }
  })
}

function dispatches() {
  return github.requestsTo('POST', /^\/repos\/[^/]+\/[^/]+\/dispatches$/)
}

/** stdout and stderr without `::add-mask::`, the one line that hands the secret to the runner (which never prints it). */
function printed(run: ActionRun): string {
  return (run.stdout + run.stderr)
    .split('\n')
    .filter((line) => !line.startsWith('::add-mask::'))
    .join('\n')
}

function errors(run: ActionRun): string {
  return run.annotations
    .filter((a) => a.level === 'error')
    .map((a) => a.message)
    .join('\n')
}

function expectTokenHidden(run: ActionRun, token = TOKEN): void {
  expect(run.stdout).toContain(`::add-mask::${token}`)
  expect(printed(run)).not.toContain(token)
}

function waitFor(options: Partial<DispatchRunOptions>): void {
  github.onDispatch(
    startRunOnDispatch({ runName: RUN_NAME, appearAfterMs: 300, queuedMs: 300, inProgressMs: 700, ...options })
  )
}

/** A loopback URL nothing listens on: every connection is refused. */
async function refusingUrl(): Promise<string> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return `http://127.0.0.1:${port}`
}

/** Resolves once the action has been answered a listing with a run in it, i.e. has found its run. */
async function runListed(): Promise<void> {
  const listed = () =>
    github
      .requestsTo('GET', /\/actions\/runs$/)
      .some((r) => ((r.response as { workflow_runs?: unknown[] } | undefined)?.workflow_runs ?? []).length > 0)
  for (const deadline = Date.now() + 20_000; !listed(); await sleep(50)) {
    if (Date.now() > deadline) throw new Error('The action never listed its run')
  }
}

describe('dispatch-to-infra', () => {
  it(
    'sends a schema 1 repository_dispatch that conforms to GitHub OpenAPI and outputs it',
    async () => {
      const run = await dispatch({ environment: 'production', 'client-payload': '{"pr": 42}' })
      expect(errors(run)).toBe('')
      expect(run.exitCode).toBe(0)

      const [request] = dispatches()
      expect(dispatches()).toHaveLength(1)
      expect(operationOf(request)).toBe('repos/create-dispatch-event')
      expect(request.headers.authorization).toBe(`token ${TOKEN}`)
      const body = request.body as { event_type: string; client_payload: Record<string, unknown> }
      expect(body.event_type).toBe('deploy')
      expect(body.client_payload).toEqual({
        schema: 1,
        service: 'api',
        image: 'ghcr.io/acme/api',
        tag: 'v1.2.3',
        digest: DIGEST,
        environment: 'production',
        source: {
          repository: 'acme/app',
          sha: APP_ENV.GITHUB_SHA,
          ref: 'refs/heads/main',
          run_id: '4242',
          run_url: 'https://github.com/acme/app/actions/runs/4242',
          actor: 'octocat'
        },
        correlation_id: run.outputs['correlation-id'],
        extra: { pr: 42 }
      })
      expect(run.outputs['correlation-id']).toMatch(/^[0-9a-f-]{36}$/)
      expect(JSON.parse(run.outputs.payload)).toEqual(body.client_payload)
      // bump-image-tag reads what was sent.
      expect(parseDeployPayload(body.client_payload).updates).toEqual([
        { service: 'api', image: 'ghcr.io/acme/api', tag: 'v1.2.3', digest: DIGEST }
      ])
      expect(run.outputs['run-id']).toBeUndefined()
      expectTokenHidden(run)
    },
    timeout
  )

  it(
    'sends the services form for several images',
    async () => {
      const services = [
        { service: 'api', image: 'ghcr.io/acme/api', tag: 'v2' },
        { service: 'worker', image: 'ghcr.io/acme/worker', tag: 'v2', digest: DIGEST }
      ]
      const run = await dispatch({
        service: '',
        image: '',
        tag: '',
        digest: '',
        services: JSON.stringify(services),
        'event-type': 'deploy-staging'
      })
      expect(run.exitCode).toBe(0)
      const body = dispatches()[0].body as { event_type: string; client_payload: Record<string, unknown> }
      expect(body.event_type).toBe('deploy-staging')
      expect(body.client_payload.services).toEqual(services)
      expect(parseDeployPayload(body.client_payload).updates).toEqual(services)
    },
    timeout
  )

  it(
    'retries a 502 and succeeds',
    async () => {
      github.failNext(failures.badGateway(), { path: /\/dispatches$/ })
      const run = await dispatch()
      expect(errors(run)).toBe('')
      expect(run.exitCode).toBe(0)
      expect(dispatches().map((r) => r.status)).toEqual([502, 204])
    },
    timeout
  )

  it(
    "fails clearly when GitHub keeps answering 5xx, after bounded retries, quoting a proxy's HTML page by its title",
    async () => {
      github.failNext(failures.serviceUnavailable(), { path: /\/dispatches$/, times: 3 })
      github.failNext(failures.badGatewayPage(), { path: /\/dispatches$/ })
      const run = await dispatch()
      expect(run.exitCode).toBe(1)
      // The first try and 3 retries; the last answer is a 3 KB page, quoted by its title alone.
      expect(dispatches().map((r) => r.status)).toEqual([503, 503, 503, 502])
      expect(dispatches()[3].page?.length).toBeGreaterThan(2500)
      expect(errors(run)).toContain('GitHub kept failing (502 502 Bad Gateway) after the retries')
      expect(errors(run)).not.toContain('<')
      expect(errors(run).length).toBeLessThan(400)
      expectTokenHidden(run)
    },
    timeout
  )

  it(
    'fails clearly when the API cannot be reached at all, after bounded retries',
    async () => {
      const run = await dispatch({ 'api-url': await refusingUrl() })
      expect(run.exitCode).toBe(1)
      expect(errors(run)).toMatch(
        /Could not send the 'deploy' repository_dispatch event to acme\/infra: no response from the GitHub API \(.*ECONNREFUSED/
      )
      expect(errors(run)).toContain("Check 'api-url' and the runner's network; retries were exhausted.")
      expect(github.requests).toHaveLength(0)
      expectTokenHidden(run)
    },
    timeout
  )

  it(
    'explains a 404 page (an api-url that is not the REST API root, e.g. GHES without /api/v3) without blaming the repository',
    async () => {
      github.failNext(failures.webNotFoundPage(), { path: /\/dispatches$/ })
      const run = await dispatch()
      expect(run.exitCode).toBe(1)
      expect(errors(run)).toContain(
        `the API URL did not answer like GitHub's REST API: POST ${github.url}/repos/acme/infra/dispatches got 404 with a non-JSON body (Page not found · GitHub Enterprise)`
      )
      expect(errors(run)).toContain('https://HOST/api/v3 on GitHub Enterprise Server')
      expect(errors(run)).not.toContain('does not exist')
    },
    timeout
  )

  it(
    'waits out a secondary rate limit as retry-after asks, then succeeds',
    async () => {
      github.failNext(failures.secondaryRateLimit(1), { path: /\/dispatches$/ })
      const run = await dispatch()
      expect(errors(run)).toBe('')
      expect(run.exitCode).toBe(0)
      const [limited, sent] = dispatches()
      expect([limited.status, sent.status]).toEqual([403, 204])
      expect(run.stdout).toContain("hit GitHub's secondary rate limit; retrying in 1 s")
    },
    timeout
  )

  it(
    'waits for the primary rate limit reset (429, x-ratelimit-reset), then succeeds',
    async () => {
      github.failNext({ ...failures.primaryRateLimit(1), status: 429 }, { path: /\/dispatches$/ })
      const run = await dispatch()
      expect(errors(run)).toBe('')
      expect(dispatches().map((r) => r.status)).toEqual([429, 204])
    },
    timeout
  )

  it(
    'gives up on a rate limit after bounded retries with a clear error',
    async () => {
      github.failNext(failures.secondaryRateLimit(1), { path: /\/dispatches$/, times: 10 })
      const run = await dispatch()
      expect(run.exitCode).toBe(1)
      expect(dispatches()).toHaveLength(4)
      expect(errors(run)).toMatch(
        /rate limit is exhausted \(403 You have exceeded a secondary rate limit.*\); GitHub asked to wait 1 s more/
      )
      expectTokenHidden(run)
    },
    timeout
  )

  it(
    'explains 401: a bad token, sent once, never printed',
    async () => {
      const bad = 'github_pat_11BBBBBBB0revokedtoken0123456789abcdefghijklmnopqrstuvwxyz'
      const run = await dispatch({ token: bad })
      expect(run.exitCode).toBe(1)
      expect(dispatches()).toHaveLength(1)
      expect(errors(run)).toContain('GitHub rejected the token (401 Bad credentials)')
      expect(errors(run)).toContain("'Contents: write' on acme/infra")
      expectTokenHidden(run, bad)
    },
    timeout
  )

  it(
    'explains 404: the repository is missing or invisible to the token, naming the permission',
    async () => {
      const run = await dispatch({ repository: 'acme/infra-typo' })
      expect(run.exitCode).toBe(1)
      expect(errors(run)).toContain('acme/infra-typo does not exist or the token cannot see it (404 Not Found)')
      expect(errors(run)).toContain("'Contents: write' on acme/infra-typo")
    },
    timeout
  )

  it(
    'sends with a GitHub App token (ghs_, as the README recommends) without a warning',
    async () => {
      const appToken = `ghs_${'x'.repeat(36)}`
      const run = await dispatch({ token: appToken })
      expect(run.exitCode).toBe(0)
      expect(run.annotations).toEqual([])
      expect(dispatches()[0].headers.authorization).toBe(`token ${appToken}`)
      expectTokenHidden(run, appToken)
    },
    timeout
  )

  it(
    'explains 403 for a missing permission; for a ghs_ token, what GITHUB_TOKEN and an App token each need',
    async () => {
      const workflowToken = `ghs_${'x'.repeat(36)}`
      github.failNext(failures.notAccessible(), { path: /\/dispatches$/ })
      const run = await dispatch({ token: workflowToken })
      expect(run.exitCode).toBe(1)
      expect(dispatches()).toHaveLength(1)
      expect(run.annotations.filter((a) => a.level === 'warning')).toEqual([])
      expect(errors(run)).toContain('the token is not allowed to (403 Resource not accessible by integration)')
      expect(errors(run)).toContain(
        "if it is a GitHub App token, the app must be installed on acme/infra with 'Contents: write'"
      )
      expect(errors(run)).toContain(
        "if it is the workflow's GITHUB_TOKEN, it has permissions only on the repository running the workflow"
      )
      expectTokenHidden(run, workflowToken)
    },
    timeout
  )

  it(
    "explains 422 in GitHub's words",
    async () => {
      github.failNext(
        failures.validationFailed([
          { resource: 'Repository', field: 'event_type', code: 'invalid', message: 'event_type is reserved' }
        ]),
        {
          path: /\/dispatches$/
        }
      )
      const run = await dispatch()
      expect(run.exitCode).toBe(1)
      expect(dispatches()).toHaveLength(1)
      expect(errors(run)).toContain('GitHub found the request invalid (422 Validation Failed: event_type is reserved)')
      expectTokenHidden(run)
    },
    timeout
  )

  it(
    'refuses a payload over 64 KB, quoting the size and the limit, and sends nothing',
    async () => {
      const run = await dispatch({ 'client-payload': JSON.stringify({ notes: 'x'.repeat(70_000) }) })
      expect(run.exitCode).toBe(1)
      expect(errors(run)).toMatch(/The dispatch body is 70\d{3} bytes; GitHub accepts less than 65536 bytes \(64 KB\)/)
      expect(github.requests).toHaveLength(0)
    },
    timeout
  )

  it.each<[string, Record<string, string>, string]>([
    ['an empty token', { token: '' }, "Input 'token' is required"],
    ['a repository without owner', { repository: 'infra' }, `Input 'repository' "infra" is not a GitHub repository`],
    ['a bad service name', { service: '-api' }, `Input 'service' "-api" is not a valid compose service name`],
    [
      'an image with a tag',
      { image: 'ghcr.io/acme/api:v1' },
      `Input 'image' "ghcr.io/acme/api:v1" is not an image repository`
    ],
    ['a bad tag', { tag: 'v1/2' }, `Input 'tag' "v1/2" is not a valid image tag`],
    ['a bad digest', { digest: 'sha256:abc' }, `Input 'digest' "sha256:abc" is not a valid image digest`],
    ['a missing tag', { tag: '' }, "Input 'tag' is required with 'service'"],
    [
      'no service at all',
      { service: '', image: '', tag: '', digest: '' },
      "Neither 'service' nor 'services' was given"
    ],
    [
      'service and services',
      { services: '[]' },
      "Inputs 'services' and 'service', 'image', 'tag', 'digest' were both given"
    ],
    [
      'services that are not JSON',
      { service: '', image: '', tag: '', digest: '', services: '[{service: api}]' },
      "Input 'services' is not valid JSON"
    ],
    [
      'a bad service in services',
      { service: '', image: '', tag: '', digest: '', services: '[{"service":"a b","image":"x/y","tag":"1"}]' },
      'services[0].service "a b"'
    ],
    [
      'a tag in services that is not a string',
      { service: '', image: '', tag: '', digest: '', services: '[{"service":"api","image":"x/y","tag":1}]' },
      'Input \'services\': services[0].tag must be a string, got "1"'
    ],
    [
      'an event type over 100 characters',
      { 'event-type': 'e'.repeat(101) },
      'event-type is 101 characters; GitHub accepts 1 to 100'
    ],
    [
      'an event type over 100 characters in wait mode',
      { 'event-type': 'e'.repeat(101), wait: 'true' },
      'event-type is 101 characters; GitHub accepts 1 to 100'
    ],
    [
      'a payload over 64 KB in wait mode',
      { 'client-payload': JSON.stringify({ notes: 'x'.repeat(70_000) }), wait: 'true' },
      'GitHub accepts less than 65536 bytes (64 KB)'
    ],
    ['client-payload that is not JSON', { 'client-payload': '{pr: 42}' }, "Input 'client-payload' is not valid JSON"],
    [
      'a bad environment',
      { environment: 'prod env' },
      `Input 'environment' must be a name of letters, digits, _ . and -, got "prod env"`
    ],
    [
      'a bad wait-timeout',
      { 'wait-timeout': 'soon' },
      `Input 'wait-timeout' must be a duration such as '90s', '15m' or '1h' (a bare number is seconds), got "soon"`
    ],
    ['a bad wait', { wait: 'yes' }, `Input 'wait' must be 'true' or 'false', got "yes"`],
    ['a bad api-url', { 'api-url': 'api.github.com' }, `Input 'api-url' must be an http(s) URL, got "api.github.com"`],
    [
      'a plain http api-url to another host',
      { 'api-url': 'http://github.example.com/api/v3' },
      'is plain http to github.example.com: the token would cross the network unencrypted'
    ]
  ])(
    'refuses %s and sends nothing',
    async (_, inputs, message) => {
      const run = await dispatch(inputs)
      expect(run.exitCode).toBe(1)
      expect(errors(run)).toContain(message)
      expect(github.requests).toHaveLength(0)
    },
    timeout
  )

  it(
    'waits for the infra run named by the correlation id and reports its success',
    async () => {
      waitFor({ conclusion: 'success' })
      const run = await dispatch({ wait: 'true' })
      expect(errors(run)).toBe('')
      expect(run.exitCode).toBe(0)
      const id = run.outputs['run-id']
      expect(github.workflowRun(Number(id))?.display_title).toContain(run.outputs['correlation-id'])
      expect(run.outputs['run-url']).toBe(`https://github.com/acme/infra/actions/runs/${id}`)
      expect(run.outputs.conclusion).toBe('success')
      expect(run.summary).toContain(`<a href="${run.outputs['run-url']}">run ${id}</a>`)
      // The first listing checks, before the dispatch, that the token may read the runs.
      const [preflight, ...listed] = github.requestsTo('GET', /\/actions\/runs$/)
      expect(preflight.query).toEqual({ event: 'repository_dispatch', per_page: '1' })
      expect(github.requests.indexOf(preflight)).toBeLessThan(github.requests.indexOf(dispatches()[0]))
      expect(listed.length).toBeGreaterThan(0)
      expect(listed[0].query).toMatchObject({ event: 'repository_dispatch', per_page: '100' })
      expect(listed[0].query.created).toMatch(/^>=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
      // As the README says: runs created from 2 minutes before the dispatch on (clock skew), to the second.
      const margin = dispatches()[0].at - Date.parse(listed[0].query.created.slice(2))
      expect(margin).toBeGreaterThanOrEqual(CLOCK_SKEW_MS)
      expect(margin).toBeLessThan(CLOCK_SKEW_MS + 2000)
      // Polling lists the runs again (a second run of the same event would show up there).
      expect(listed.length).toBeGreaterThan(1)
      expectTokenHidden(run)
    },
    timeout
  )

  it.each<[string, () => void, string]>([
    [
      '403',
      () => github.failNext(failures.notAccessible(), { path: /\/actions\/runs$/ }),
      'the token is not allowed to (403 Resource not accessible by integration)'
    ],
    [
      '404',
      () => github.failNext(failures.notFound(), { path: /\/actions\/runs$/ }),
      'acme/infra does not exist or the token cannot see it (404 Not Found)'
    ]
  ])(
    'in wait mode, checks that the token can read workflow runs before dispatching (%s: nothing sent)',
    async (_, fail, message) => {
      waitFor({ conclusion: 'success' })
      fail()
      const run = await dispatch({ wait: 'true' })
      expect(run.exitCode).toBe(1)
      expect(errors(run)).toContain(
        "Could not list the workflow runs of acme/infra, which 'wait: true' needs (checked before dispatching, so nothing was sent)"
      )
      expect(errors(run)).toContain(message)
      expect(errors(run)).toContain("'Actions: read' on acme/infra")
      expect(dispatches()).toHaveLength(0)
      expect(github.requestsTo('GET', /\/actions\/runs$/)).toHaveLength(1)
      expect(run.outputs['correlation-id']).toBeUndefined()
    },
    timeout
  )

  it(
    'ignores runs of other dispatches and finds its own',
    async () => {
      github.createWorkflowRun({
        repository: 'acme/infra',
        displayTitle: 'deploy 00000000-0000-0000-0000-000000000000',
        conclusion: 'failure'
      })
      waitFor({ conclusion: 'success' })
      const run = await dispatch({ wait: 'true' })
      expect(run.exitCode).toBe(0)
      expect(run.outputs.conclusion).toBe('success')
    },
    timeout
  )

  it.each(['failure', 'cancelled', 'timed_out'])(
    "fails the step when the deploy run concludes '%s'",
    async (conclusion) => {
      waitFor({ conclusion })
      const run = await dispatch({ wait: 'true' })
      expect(run.exitCode).toBe(1)
      expect(run.outputs.conclusion).toBe(conclusion)
      expect(errors(run)).toContain(`The deploy run ${run.outputs['run-url']} concluded '${conclusion}'`)
      expect(run.summary).toContain(`concluded <code>${conclusion}</code>`)
    },
    timeout
  )

  it(
    "keeps the result when GitHub's API fails after the run was found: conclusion unknown, the run linked, what to do",
    async () => {
      waitFor({ inProgressMs: Infinity })
      github.onDispatch(async () => {
        await runListed()
        github.failNext(failures.notAccessible(), { path: /\/actions\/runs$/, times: 10 })
      })
      const run = await dispatch({ wait: 'true' })
      expect(run.exitCode).toBe(1)
      const url = run.outputs['run-url']
      expect(github.workflowRun(Number(run.outputs['run-id']))?.display_title).toContain(run.outputs['correlation-id'])
      expect(url).toBe(`https://github.com/acme/infra/actions/runs/${run.outputs['run-id']}`)
      expect(run.outputs.conclusion).toBe('unknown')
      expect(errors(run)).toContain(
        `The 'deploy' event was sent to acme/infra, and the deploy run ${url} may still be running, but reading it failed: ` +
          'Could not list the repository_dispatch workflow runs of acme/infra: the token is not allowed to (403 Resource not accessible by integration)'
      )
      expect(errors(run)).toContain(
        'See the run for how the deploy ends; re-running this job would send the event again.'
      )
      expect(errors(run)).toContain("'Actions: read' on acme/infra")
      expect(run.summary).toContain(`<a href="${url}">run ${run.outputs['run-id']}</a> was still <code>`)
      expect(run.summary).toContain('it may still be running')
      expectTokenHidden(run)
    },
    timeout
  )

  it(
    'waits for both runs when a retried dispatch was delivered twice, and fails with the one that failed',
    async () => {
      // The first POST takes effect but its answer is a 502; the retry delivers the event again.
      const conclusions = ['success', 'failure']
      github.onDispatch((event, fake) =>
        startRunOnDispatch({
          runName: RUN_NAME,
          appearAfterMs: 300,
          queuedMs: 300,
          inProgressMs: 3000,
          conclusion: conclusions.shift()
        })(event, fake)
      )
      github.failNext(failures.badGateway(), { path: /\/dispatches$/, handled: true })
      const run = await dispatch({ wait: 'true' })
      expect(dispatches().map((r) => r.status)).toEqual([502, 204])
      const runs = github
        .requestsTo('GET', /\/actions\/runs$/)
        .flatMap((r) => (r.response as { workflow_runs: { id: number; display_title: string }[] }).workflow_runs)
      const [first, second] = [...new Set(runs.map((r) => r.id))].sort()
      expect(github.workflowRun(first)?.display_title).toContain(run.outputs['correlation-id'])
      expect(github.workflowRun(second)?.display_title).toContain(run.outputs['correlation-id'])

      expect(run.exitCode).toBe(1)
      expect(run.outputs.conclusion).toBe('failure')
      expect(run.outputs['run-id']).toBe(String(second))
      expect(run.stdout).toContain(
        `https://github.com/acme/infra/actions/runs/${second} carries the correlation id too: 2 runs do (a retried delivery`
      )
      expect(errors(run)).toContain(
        `The deploy run ${run.outputs['run-url']} concluded 'failure' (one of 2 runs carrying the correlation id`
      )
      expect(run.summary).toContain('2 runs carry the correlation id')
      expect(run.summary).toContain(`run ${first}</a> concluded <code>success</code>`)
      expect(run.summary).toContain(`run ${second}</a> concluded <code>failure</code>`)
    },
    timeout
  )

  it(
    'reports a failed run whose rollback was written back to Git, with the link to that commit',
    async () => {
      // The infra repository's main, served by the fake: the run's restoring commit lands before the run completes.
      const infra = await createGitRemote({
        dir: await mkdtemp(join(tmpdir(), 'dispatch-restore-')),
        files: { 'compose.yaml': 'services: {}\n' },
        message: 'The stack'
      })
      github.serveCommits('acme/infra', { bareDir: infra.bareDir, branch: infra.branch })
      github.onDispatch(async (event, fake) => {
        const github = {
          event_name: 'repository_dispatch',
          repository: event.repository,
          event: { action: event.eventType, client_payload: event.clientPayload }
        }
        const runId = fake.createWorkflowRun({
          repository: event.repository,
          displayTitle: renderRunName(RUN_NAME, { github }),
          inProgressMs: 2000,
          conclusion: 'failure'
        })
        const clone = await infra.clone(join(infra.bareDir, '..', 'work'))
        const git = (...args: string[]) =>
          exec('git', ['-C', clone, '-c', 'user.name=bot', '-c', 'user.email=bot@acme.invalid', ...args])
        await git(
          'commit',
          '-q',
          '--allow-empty',
          '-m',
          `revert(deploy): api back to v1.2.2\n\nRolled-Back-Run: https://github.com/acme/infra/actions/runs/${runId}/attempts/1`
        )
        await git('push', '-q', 'origin', 'HEAD:main')
      })
      try {
        const run = await dispatch({ wait: 'true' })
        const commit = `https://github.com/acme/infra/commit/${await infra.head()}`
        expect(run.exitCode).toBe(1)
        expect(run.outputs.conclusion).toBe('failure')
        expect(run.outputs['restore-commit']).toBe(commit)
        expect(errors(run)).toContain(
          `concluded 'failure'; the VMs were rolled back and Git was put back to what they run by ${commit}`
        )
        expect(run.summary).toContain(`Git was put back to what the VMs run by <a href="${commit}">`)
        expect(github.requestsTo('GET', /\/commits$/)).toEqual([
          expect.objectContaining({ status: 200, query: expect.objectContaining({ per_page: '100' }) })
        ])
      } finally {
        await rm(join(infra.bareDir, '..'), { recursive: true, force: true })
      }
    },
    timeout
  )

  it(
    'a failed run without a restoring commit (or a token that cannot list commits) fails as before, with a warning',
    async () => {
      waitFor({ conclusion: 'failure' })
      const run = await dispatch({ wait: 'true' })
      expect(run.exitCode).toBe(1)
      expect(run.outputs['restore-commit']).toBe('')
      expect(errors(run)).toContain("concluded 'failure'. The change did not reach the VMs")
      expect(
        run.annotations.some(
          (a) => a.level === 'warning' && a.message.startsWith('Could not look for the commit that puts Git back')
        )
      ).toBe(true)
    },
    timeout
  )

  it(
    'fails the step when the deploy run does not complete within wait-timeout',
    async () => {
      waitFor({ inProgressMs: Infinity })
      const run = await dispatch({ wait: 'true', 'wait-timeout': '3s' })
      expect(run.exitCode).toBe(1)
      expect(github.workflowRun(Number(run.outputs['run-id']))?.display_title).toContain(run.outputs['correlation-id'])
      expect(run.outputs['run-url']).toBe(`https://github.com/acme/infra/actions/runs/${run.outputs['run-id']}`)
      // Our own timeout, documented, and distinct from GitHub's 'timed_out' conclusion.
      expect(run.outputs.conclusion).toBe('wait-timeout')
      expect(errors(run)).toContain(
        `The deploy run ${run.outputs['run-url']} did not complete within 3s; it is still in_progress`
      )
    },
    timeout
  )

  it(
    'fails with the run-name line to add when no run carries the correlation id (a bare wait-timeout is seconds)',
    async () => {
      const run = await dispatch({ wait: 'true', 'wait-timeout': '2' })
      expect(run.exitCode).toBe(1)
      expect(errors(run)).toContain(
        `No repository_dispatch run of acme/infra has '${run.outputs['correlation-id']}' in its name within 2s`
      )
      expect(errors(run)).toContain(`run-name: ${RUN_NAME}`)
      expect(run.outputs.conclusion).toBe('run-not-found')
      expect(run.outputs['run-id']).toBeUndefined()
    },
    timeout
  )

  it(
    "reports the wait to the application repository's deployments: in progress, then the infra run's result",
    async () => {
      github.addRepository('acme/app')
      const report = {
        'deployment-environment': 'staging',
        'environment-url': 'https://staging.example.com',
        'deployment-token': `ghs_${'x'.repeat(36)}`
      }
      const conclusions = ['success', 'failure']
      github.onDispatch((event, fake) =>
        startRunOnDispatch({
          runName: RUN_NAME,
          appearAfterMs: 300,
          queuedMs: 300,
          inProgressMs: 700,
          conclusion: conclusions.shift()
        })(event, fake)
      )
      expect((await dispatch({ wait: 'true', ...report })).exitCode).toBe(0)
      expect((await dispatch({ wait: 'true', ...report })).exitCode).toBe(1)

      const [first, second] = github.deployments('acme/app')
      expect(first).toMatchObject({ sha: APP_ENV.GITHUB_SHA, environment: 'staging' })
      expect(first.statuses.map((s) => s.state)).toEqual(['in_progress', 'success'])
      expect(second.statuses.map((s) => s.state)).toEqual(['in_progress', 'failure'])
      expect(second.statuses[1]).toMatchObject({
        environmentUrl: 'https://staging.example.com',
        logUrl: 'https://github.com/acme/app/actions/runs/4242'
      })
      // The deployment exists before the event is sent.
      expect(github.requests.indexOf(github.requestsTo('POST', /\/deployments$/)[0])).toBeLessThan(
        github.requests.indexOf(dispatches()[0])
      )
    },
    timeout
  )

  it(
    'refuses deployment-environment without wait, and sends nothing',
    async () => {
      const run = await dispatch({ 'deployment-environment': 'staging', 'deployment-token': TOKEN })
      expect(run.exitCode).toBe(1)
      expect(errors(run)).toContain("Input 'deployment-environment' needs 'wait: true'")
      expect(github.requests).toHaveLength(0)
    },
    timeout
  )
})
