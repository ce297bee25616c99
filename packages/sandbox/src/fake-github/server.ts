import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exec } from '../exec'
import { errorBody, validationFailed, type ErrorResponse } from './responses'
import { renderRunName } from './run-name'

/** How a route handler answers: a JSON reply, or one of GitHub's error responses. */
type Reply = (status: number, json?: unknown) => void
type Fail = (response: ErrorResponse) => void

/** One request as the server received it, with the status it answered. */
export interface RecordedRequest {
  /** When it arrived (epoch milliseconds). */
  at: number
  method: string
  /** Path without the query, e.g. `/repos/acme/infra/dispatches`. */
  path: string
  query: Record<string, string>
  headers: Record<string, string | string[] | undefined>
  /** The raw body text, and the body parsed as JSON when it is JSON. */
  rawBody: string
  body: unknown
  status: number
  /** The JSON body answered, if any. */
  response?: unknown
  /** The HTML page answered instead of JSON, if any (a proxy's or web server's, not the API's). */
  page?: string
}

export interface DispatchEvent {
  repository: string
  eventType: string
  clientPayload: Record<string, unknown>
  request: RecordedRequest
}

/** Called after each accepted repository_dispatch, once GitHub's 204 has been sent. */
export type DispatchHook = (event: DispatchEvent, github: FakeGitHub) => void | Promise<void>

export interface WorkflowRunScript {
  repository: string
  /** The workflow's `name`. */
  name?: string
  /** The run's title: what the workflow's `run-name` rendered to. */
  displayTitle: string
  event?: string
  headBranch?: string
  headSha?: string
  /** Time spent queued, then in progress; `Infinity` keeps it running until `completeRun`. */
  queuedMs?: number
  inProgressMs?: number
  /** The conclusion once completed (GitHub's values: success, failure, cancelled, timed_out, ...). */
  conclusion?: string
}

interface FakeRun {
  id: number
  repository: string
  script: Required<Omit<WorkflowRunScript, 'repository'>>
  createdAt: number
  runNumber: number
  /** Set by completeRun: completes the run now, whatever its timings. */
  completion?: { at: number; conclusion: string }
}

export interface FakePullRequest {
  number: number
  repository: string
  title: string
  body: string | null
  head: string
  base: string
  draft: boolean
  state: 'open' | 'closed'
}

export interface FakeDeploymentStatus {
  state: string
  description: string
  environmentUrl: string
  logUrl: string
}

export interface FakeDeployment {
  id: number
  repository: string
  sha: string
  environment: string
  description: string | null
  transient: boolean
  /** Oldest first; inactive ones added by a later deployment's auto_inactive included. */
  statuses: FakeDeploymentStatus[]
}

export interface FakeGitHubOptions {
  /** Repositories (`owner/name`) that exist; requests about any other answer 404, as GitHub does. */
  repositories?: string[]
  /** Tokens GitHub accepts; any other (or none) gets 401 Bad credentials. Any token passes when unset. */
  tokens?: string[]
  /** The web root in `html_url`s. */
  serverUrl?: string
}

interface QueuedFailure {
  method?: string
  path?: RegExp
  /** Handle the request first, as when a gateway gives up after the API did the work. */
  handled?: boolean
  response: ErrorResponse
}

const rateLimit = { limit: 5000 }

/**
 * A local stand-in for GitHub's REST API on 127.0.0.1 (a random port) implementing
 * repository dispatches, workflow runs, pull request creation and deployments per GitHub's REST docs,
 * with their status codes, headers and error bodies. It records every request and lets
 * tests queue failures, require a token, and react to dispatches.
 */
export class FakeGitHub {
  readonly requests: RecordedRequest[] = []
  /** Errors thrown by dispatch hooks; `stop()` rethrows the first. */
  readonly hookErrors: unknown[] = []
  private readonly repositories: Set<string>
  private readonly runs: FakeRun[] = []
  private readonly pulls: FakePullRequest[] = []
  private readonly deploymentList: FakeDeployment[] = []
  private readonly failures: QueuedFailure[] = []
  private readonly hooks: DispatchHook[] = []
  private readonly pending = new Set<Promise<void>>()
  /** Bare git repositories whose default branch GET .../commits lists, by `owner/name`. */
  private readonly gitRepositories = new Map<string, { bareDir: string; branch: string }>()
  private remaining = rateLimit.limit
  private nextRunId = 1000

  private constructor(
    private readonly server: Server,
    readonly url: string,
    private readonly options: FakeGitHubOptions
  ) {
    this.repositories = new Set(options.repositories ?? [])
  }

  static async start(options: FakeGitHubOptions = {}): Promise<FakeGitHub> {
    const server = createServer()
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', resolve)
    })
    const { port } = server.address() as AddressInfo
    const fake = new FakeGitHub(server, `http://127.0.0.1:${port}`, options)
    server.on('request', (req, res) => void fake.handle(req, res))
    return fake
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.pending])
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
    if (this.hookErrors.length > 0) throw this.hookErrors[0]
  }

  addRepository(fullName: string): void {
    this.repositories.add(fullName)
  }

  /**
   * Answers the next `times` requests matching `method` and `path` (all when left out) with
   * `response` instead of handling them, in the order queued. With `handled`, each request
   * takes effect all the same (a dispatch is delivered), as when a gateway times out after
   * the API did the work: the client sees a failure and retries a request that succeeded.
   */
  failNext(
    response: ErrorResponse,
    match: { method?: string; path?: RegExp; times?: number; handled?: boolean } = {}
  ): void {
    for (let i = 0; i < (match.times ?? 1); i++)
      this.failures.push({ method: match.method, path: match.path, handled: match.handled, response })
  }

  /** Serves GET /repos/{owner}/{repo}/commits from the branch of a bare git repository. */
  serveCommits(repository: string, git: { bareDir: string; branch: string }): void {
    this.gitRepositories.set(repository, git)
  }

  onDispatch(hook: DispatchHook): void {
    this.hooks.push(hook)
  }

  /** Requests for one route, e.g. `requestsTo('POST', /\/dispatches$/)`. */
  requestsTo(method: string, path: RegExp): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && path.test(r.path))
  }

  createWorkflowRun(script: WorkflowRunScript): number {
    const id = this.nextRunId++
    this.runs.push({
      id,
      repository: script.repository,
      createdAt: Date.now(),
      runNumber: this.runs.filter((r) => r.repository === script.repository).length + 1,
      script: {
        name: script.name ?? 'deploy',
        displayTitle: script.displayTitle,
        event: script.event ?? 'repository_dispatch',
        headBranch: script.headBranch ?? 'main',
        headSha: script.headSha ?? '0'.repeat(40),
        queuedMs: script.queuedMs ?? 0,
        inProgressMs: script.inProgressMs ?? 0,
        conclusion: script.conclusion ?? 'success'
      }
    })
    return id
  }

  /** Completes a run now with `conclusion`, e.g. when the work it stands for has finished. */
  completeRun(id: number, conclusion: string): void {
    const run = this.runs.find((r) => r.id === id)
    if (!run) throw new Error(`FakeGitHub: no workflow run ${id}`)
    run.completion = { at: Date.now(), conclusion }
  }

  /** A workflow run as GET /repos/{owner}/{repo}/actions/runs/{run_id} returns it. */
  workflowRun(id: number): Record<string, unknown> | undefined {
    const run = this.runs.find((r) => r.id === id)
    return run && this.runJson(run)
  }

  pullRequests(repository: string): FakePullRequest[] {
    return this.pulls.filter((p) => p.repository === repository)
  }

  deployments(repository: string): FakeDeployment[] {
    return this.deploymentList.filter((d) => d.repository === repository)
  }

  private webUrl(): string {
    return (this.options.serverUrl ?? 'https://github.com').replace(/\/+$/, '')
  }

  private runJson(run: FakeRun): Record<string, unknown> {
    const elapsed = Date.now() - run.createdAt
    const { queuedMs, inProgressMs } = run.script
    const completed = run.completion !== undefined || elapsed >= queuedMs + inProgressMs
    const status = completed ? 'completed' : elapsed >= queuedMs ? 'in_progress' : 'queued'
    const conclusion = completed ? (run.completion?.conclusion ?? run.script.conclusion) : null
    const created = new Date(run.createdAt).toISOString().replace(/\.\d{3}Z$/, 'Z')
    const [owner] = run.repository.split('/')
    return {
      id: run.id,
      name: run.script.name,
      display_title: run.script.displayTitle,
      node_id: `WFR_${run.id}`,
      head_branch: run.script.headBranch,
      head_sha: run.script.headSha,
      path: '.github/workflows/deploy.yml',
      run_number: run.runNumber,
      run_attempt: 1,
      event: run.script.event,
      status,
      conclusion,
      workflow_id: 1,
      url: `${this.url}/repos/${run.repository}/actions/runs/${run.id}`,
      html_url: `${this.webUrl()}/${run.repository}/actions/runs/${run.id}`,
      created_at: created,
      updated_at: new Date(Math.min(Date.now(), run.createdAt + queuedMs + inProgressMs)).toISOString(),
      run_started_at: created,
      repository: { full_name: run.repository, owner: { login: owner } }
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const rawBody = Buffer.concat(chunks).toString('utf8')
    const url = new URL(req.url ?? '/', this.url)
    let body: unknown
    try {
      body = rawBody === '' ? undefined : JSON.parse(rawBody)
    } catch {
      body = undefined
    }
    const record: RecordedRequest = {
      at: Date.now(),
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      rawBody,
      body,
      status: 0
    }
    this.requests.push(record)
    const reply = (status: number, json?: unknown, headers: Record<string, string> = {}) => {
      record.status = status
      record.response = json
      this.remaining = Math.max(0, this.remaining - 1)
      res.writeHead(status, {
        'x-github-request-id': `${randomBytes(2).toString('hex').toUpperCase()}:${randomBytes(4).toString('hex').toUpperCase()}`,
        'x-github-api-version-selected': '2022-11-28',
        'x-ratelimit-limit': String(rateLimit.limit),
        'x-ratelimit-remaining': String(this.remaining),
        'x-ratelimit-used': String(rateLimit.limit - this.remaining),
        'x-ratelimit-reset': String(Math.ceil(Date.now() / 3_600_000) * 3600),
        'x-ratelimit-resource': 'core',
        ...(json === undefined ? {} : { 'content-type': 'application/json; charset=utf-8' }),
        ...headers
      })
      res.end(json === undefined ? undefined : JSON.stringify(json))
    }
    const answerPage = (status: number, page: string) => {
      record.status = status
      record.page = page
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' })
      res.end(page)
    }
    const fail = (response: ErrorResponse) =>
      response.page === undefined
        ? reply(response.status, errorBody(response), response.headers)
        : answerPage(response.status, response.page)
    try {
      if (!this.authorized(req.headers.authorization)) return fail({ status: 401, message: 'Bad credentials' })
      const queued = this.failures.findIndex(
        (f) =>
          (f.method === undefined || f.method === record.method) && (f.path === undefined || f.path.test(record.path))
      )
      if (queued >= 0) {
        const [failure] = this.failures.splice(queued, 1)
        if (failure.handled)
          this.route(
            record,
            () => undefined,
            () => undefined
          )
        return fail(failure.response)
      }
      this.route(record, reply, fail)
    } catch (error) {
      fail({ status: 500, message: `FakeGitHub: ${(error as Error).message}` })
    }
  }

  private authorized(header: string | undefined): boolean {
    if (this.options.tokens === undefined) return true
    const match = /^(?:token|bearer)\s+(.+)$/i.exec(header ?? '')
    return match !== null && this.options.tokens.includes(match[1])
  }

  private route(request: RecordedRequest, reply: Reply, fail: Fail): void {
    const notFound = () => fail({ status: 404, message: 'Not Found' })
    const match = /^\/repos\/([^/]+)\/([^/]+)(\/.*)$/.exec(request.path)
    if (!match) return notFound()
    const repository = `${match[1]}/${match[2]}`
    if (!this.repositories.has(repository)) return notFound()
    const rest = match[3]
    const route = `${request.method} ${rest.replace(/^\/actions\/runs\/\d+$/, '/actions/runs/{id}').replace(/^\/deployments\/\d+\//, '/deployments/{id}/')}`
    switch (route) {
      case 'POST /dispatches':
        return this.dispatch(repository, request, reply, fail)
      case 'GET /actions/runs':
        return reply(200, this.listRuns(repository, request.query))
      case 'GET /actions/runs/{id}': {
        const run = this.runs.find((r) => r.repository === repository && `/actions/runs/${r.id}` === rest)
        return run ? reply(200, this.runJson(run)) : notFound()
      }
      case 'POST /pulls':
        return this.createPull(repository, request, reply, fail)
      case 'POST /deployments':
        return this.createDeployment(repository, request, reply, fail)
      case 'POST /deployments/{id}/statuses': {
        const deployment = this.deploymentList.find(
          (d) => d.repository === repository && rest.startsWith(`/deployments/${d.id}/`)
        )
        return deployment ? this.createDeploymentStatus(deployment, request, reply, fail) : notFound()
      }
      case 'GET /commits':
        return void this.listCommits(repository, request.query).then(
          (commits) => (commits ? reply(200, commits) : notFound()),
          (error: Error) => fail({ status: 500, message: `FakeGitHub: ${error.message}` })
        )
      default:
        return notFound()
    }
  }

  /** POST /repos/{owner}/{repo}/dispatches: 204 No Content, or 422 with GitHub's limits. */
  private dispatch(repository: string, request: RecordedRequest, reply: Reply, fail: Fail): void {
    const body = request.body as { event_type?: unknown; client_payload?: unknown } | undefined
    const invalid = (problem: string) =>
      fail({
        status: 422,
        message: `Invalid request.\n\n${problem}`,
        documentationUrl: 'https://docs.github.com/rest/repos/repos#create-a-repository-dispatch-event'
      })
    if (typeof body !== 'object' || body === null) return fail({ status: 400, message: 'Problems parsing JSON' })
    if (typeof body.event_type !== 'string' || body.event_type.length === 0)
      return invalid('"event_type" wasn\'t supplied.')
    if (body.event_type.length > 100) return invalid('event_type is too long (maximum is 100 characters)')
    const payload = body.client_payload ?? {}
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload))
      return invalid("For 'properties/client_payload', it is not an object.")
    if (Object.keys(payload).length > 10)
      return invalid('client_payload has too many top-level properties (maximum is 10)')
    if (Buffer.byteLength(request.rawBody) >= 64 * 1024)
      return invalid('client_payload is too large (maximum is 64 KB)')
    reply(204)
    const event: DispatchEvent = {
      repository,
      eventType: body.event_type,
      clientPayload: payload as Record<string, unknown>,
      request
    }
    for (const hook of this.hooks) {
      const pending = Promise.resolve()
        .then(() => hook(event, this))
        .catch((error: unknown) => void this.hookErrors.push(error))
        .finally(() => this.pending.delete(pending))
      this.pending.add(pending)
    }
  }

  /** GET /repos/{owner}/{repo}/actions/runs with `event`, `status`, `created`, `per_page` and `page`. */
  private listRuns(repository: string, query: Record<string, string>): unknown {
    const created = query.created === undefined ? () => true : createdFilter(query.created)
    const perPage = Math.min(Number(query.per_page ?? 30) || 30, 100)
    const page = Math.max(Number(query.page ?? 1) || 1, 1)
    const runs = this.runs
      .filter((r) => r.repository === repository)
      .map((r) => this.runJson(r))
      .filter((r) => query.event === undefined || r.event === query.event)
      .filter((r) => query.status === undefined || r.status === query.status || r.conclusion === query.status)
      .filter((r) => created(Date.parse(r.created_at as string)))
      .reverse()
    return { total_count: runs.length, workflow_runs: runs.slice((page - 1) * perPage, page * perPage) }
  }

  private deploymentJson(deployment: FakeDeployment): Record<string, unknown> {
    const url = `${this.url}/repos/${deployment.repository}/deployments/${deployment.id}`
    const time = new Date().toISOString()
    return {
      id: deployment.id,
      node_id: `DE_${deployment.id}`,
      sha: deployment.sha,
      ref: deployment.sha,
      task: 'deploy',
      payload: {},
      environment: deployment.environment,
      description: deployment.description,
      creator: { login: 'github-actions[bot]', id: 41898282 },
      transient_environment: deployment.transient,
      production_environment: deployment.environment === 'production',
      url,
      statuses_url: `${url}/statuses`,
      repository_url: `${this.url}/repos/${deployment.repository}`,
      created_at: time,
      updated_at: time
    }
  }

  /** POST /repos/{owner}/{repo}/deployments: 201 with the deployment (no auto-merge, no required contexts here). */
  private createDeployment(repository: string, request: RecordedRequest, reply: Reply, fail: Fail): void {
    const body = (request.body ?? {}) as {
      ref?: unknown
      environment?: unknown
      description?: unknown
      transient_environment?: unknown
    }
    if (typeof body.ref !== 'string' || body.ref === '') {
      return fail(
        validationFailed(
          [{ resource: 'Deployment', field: 'ref', code: 'missing_field' }],
          'https://docs.github.com/rest/deployments/deployments#create-a-deployment'
        )
      )
    }
    const deployment: FakeDeployment = {
      id: 5000 + this.deploymentList.length + 1,
      repository,
      sha: body.ref,
      environment: typeof body.environment === 'string' ? body.environment : 'production',
      description: typeof body.description === 'string' ? body.description : null,
      transient: body.transient_environment === true,
      statuses: []
    }
    this.deploymentList.push(deployment)
    reply(201, this.deploymentJson(deployment))
  }

  /**
   * POST .../deployments/{id}/statuses: 201 with the status. A success with auto_inactive (the
   * default) adds an inactive status to the environment's earlier non-transient deployments
   * whose last state was success.
   */
  private createDeploymentStatus(deployment: FakeDeployment, request: RecordedRequest, reply: Reply, fail: Fail): void {
    const body = (request.body ?? {}) as {
      state?: unknown
      description?: unknown
      environment_url?: unknown
      log_url?: unknown
      auto_inactive?: unknown
    }
    const documentationUrl = 'https://docs.github.com/rest/deployments/statuses#create-a-deployment-status'
    if (typeof body.state !== 'string' || !deploymentStates.includes(body.state)) {
      return fail(
        validationFailed([{ resource: 'DeploymentStatus', field: 'state', code: 'invalid' }], documentationUrl)
      )
    }
    const description = typeof body.description === 'string' ? body.description : ''
    if (description.length > 140) {
      return fail(
        validationFailed(
          [
            {
              resource: 'DeploymentStatus',
              field: 'description',
              code: 'custom',
              message: 'description is too long (maximum is 140 characters)'
            }
          ],
          documentationUrl
        )
      )
    }
    const status: FakeDeploymentStatus = {
      state: body.state,
      description,
      environmentUrl: typeof body.environment_url === 'string' ? body.environment_url : '',
      logUrl: typeof body.log_url === 'string' ? body.log_url : ''
    }
    deployment.statuses.push(status)
    if (status.state === 'success' && body.auto_inactive !== false) {
      for (const earlier of this.deploymentList) {
        const last = earlier.statuses.at(-1)
        if (
          earlier.id < deployment.id &&
          earlier.repository === deployment.repository &&
          earlier.environment === deployment.environment &&
          !earlier.transient &&
          last?.state === 'success'
        ) {
          earlier.statuses.push({ ...last, state: 'inactive', description: '' })
        }
      }
    }
    const time = new Date().toISOString()
    const deploymentUrl = `${this.url}/repos/${deployment.repository}/deployments/${deployment.id}`
    reply(201, {
      id: deployment.id * 100 + deployment.statuses.length,
      node_id: `DES_${deployment.id}_${deployment.statuses.length}`,
      state: status.state,
      description: status.description,
      environment: deployment.environment,
      environment_url: status.environmentUrl,
      log_url: status.logUrl,
      target_url: status.logUrl,
      creator: { login: 'github-actions[bot]', id: 41898282 },
      deployment_url: deploymentUrl,
      repository_url: `${this.url}/repos/${deployment.repository}`,
      url: `${deploymentUrl}/statuses/${deployment.statuses.length}`,
      created_at: time,
      updated_at: time
    })
  }

  /**
   * GET /repos/{owner}/{repo}/commits with `since` and `per_page`: the newest commits of the
   * served branch first (`git log` order); undefined for a repository without a served branch.
   */
  private async listCommits(repository: string, query: Record<string, string>): Promise<unknown[] | undefined> {
    const git = this.gitRepositories.get(repository)
    if (!git) return undefined
    const perPage = Math.min(Number(query.per_page ?? 30) || 30, 100)
    const format = ['%H', '%an', '%ae', '%aI', '%cn', '%ce', '%cI', '%T', '%P', '%B'].join('%x1f') + '%x1e'
    const args = [
      '-C',
      git.bareDir,
      'log',
      `--format=${format}`,
      `-n${perPage}`,
      ...(query.since ? [`--since=${query.since}`] : []),
      git.branch,
      '--'
    ]
    const { stdout } = await exec('git', args)
    const api = `${this.url}/repos/${repository}`
    const web = `${this.webUrl()}/${repository}`
    return stdout
      .split('\x1e')
      .map((entry) => entry.replace(/^\n/, ''))
      .filter((entry) => entry !== '')
      .map((entry) => {
        const [
          sha,
          authorName,
          authorEmail,
          authorDate,
          committerName,
          committerEmail,
          committerDate,
          tree,
          parents,
          message
        ] = entry.split('\x1f')
        return {
          sha,
          node_id: `C_${sha}`,
          url: `${api}/commits/${sha}`,
          html_url: `${web}/commit/${sha}`,
          comments_url: `${api}/commits/${sha}/comments`,
          commit: {
            url: `${api}/git/commits/${sha}`,
            author: { name: authorName, email: authorEmail, date: authorDate },
            committer: { name: committerName, email: committerEmail, date: committerDate },
            message: message.replace(/\n+$/, ''),
            tree: { sha: tree, url: `${api}/git/trees/${tree}` },
            comment_count: 0
          },
          author: null,
          committer: null,
          parents: parents
            .split(' ')
            .filter(Boolean)
            .map((parent) => ({ sha: parent, url: `${api}/commits/${parent}`, html_url: `${web}/commit/${parent}` }))
        }
      })
  }

  /** POST /repos/{owner}/{repo}/pulls: 201 with the pull request, or 422 as GitHub words it. */
  private createPull(repository: string, request: RecordedRequest, reply: Reply, fail: Fail): void {
    const body = (request.body ?? {}) as {
      title?: unknown
      head?: unknown
      base?: unknown
      body?: unknown
      draft?: unknown
    }
    const missing = ['head', 'base'].filter((field) => typeof body[field as 'head' | 'base'] !== 'string')
    if (missing.length > 0) {
      return fail(
        validationFailed(
          missing.map((field) => ({ resource: 'PullRequest', field, code: 'missing_field' })),
          'https://docs.github.com/rest/pulls/pulls#create-a-pull-request'
        )
      )
    }
    const head = body.head as string
    const base = body.base as string
    if (
      this.pulls.some((p) => p.repository === repository && p.state === 'open' && p.head === head && p.base === base)
    ) {
      return fail(
        validationFailed(
          [
            {
              resource: 'PullRequest',
              code: 'custom',
              message: `A pull request already exists for ${repository.split('/')[0]}:${head}.`
            }
          ],
          'https://docs.github.com/rest/pulls/pulls#create-a-pull-request'
        )
      )
    }
    const pull: FakePullRequest = {
      number: this.pulls.length + 1,
      repository,
      title: typeof body.title === 'string' ? body.title : head,
      body: typeof body.body === 'string' ? body.body : null,
      head,
      base,
      draft: body.draft === true,
      state: 'open'
    }
    this.pulls.push(pull)
    reply(201, {
      id: 100_000 + pull.number,
      number: pull.number,
      state: pull.state,
      title: pull.title,
      body: pull.body,
      draft: pull.draft,
      url: `${this.url}/repos/${repository}/pulls/${pull.number}`,
      html_url: `${this.webUrl()}/${repository}/pull/${pull.number}`,
      head: { ref: head, label: `${repository.split('/')[0]}:${head}` },
      base: { ref: base, label: `${repository.split('/')[0]}:${base}` }
    })
  }
}

const deploymentStates = ['error', 'failure', 'inactive', 'in_progress', 'queued', 'pending', 'success']

/** GitHub's `created` search qualifier: `>=T`, `>T`, `<=T`, `<T`, `T1..T2`, or a date `YYYY-MM-DD` (that whole day). */
export function createdFilter(qualifier: string): (time: number) => boolean {
  const range = /^(.+)\.\.(.+)$/.exec(qualifier)
  if (range) {
    const [from, to] = [Date.parse(range[1]), Date.parse(range[2])]
    return (t) => t >= from && t <= to
  }
  const op = /^(>=|<=|>|<)(.+)$/.exec(qualifier)
  if (op) {
    const at = Date.parse(op[2])
    const compare: Record<string, (t: number) => boolean> = {
      '>=': (t) => t >= at,
      '>': (t) => t > at,
      '<=': (t) => t <= at,
      '<': (t) => t < at
    }
    return compare[op[1]]
  }
  const day = Date.parse(qualifier)
  return (t) => t >= day && t < day + 86_400_000
}

export interface DispatchRunOptions {
  /** The infra workflow's `run-name` line value, rendered with the dispatch's `github` context. */
  runName: string
  /** The workflow's `name`. */
  workflowName?: string
  /** Delay before GitHub shows the run (it creates it a moment after the dispatch). */
  appearAfterMs?: number
  queuedMs?: number
  inProgressMs?: number
  conclusion?: string
}

/** A dispatch hook that starts a workflow run for each dispatch, as the infra repo's workflow would. */
export function startRunOnDispatch(options: DispatchRunOptions): DispatchHook {
  return async (event, github) => {
    if (options.appearAfterMs) await new Promise((resolve) => setTimeout(resolve, options.appearAfterMs))
    const context = {
      github: {
        event_name: 'repository_dispatch',
        repository: event.repository,
        repository_owner: event.repository.split('/')[0],
        event: { action: event.eventType, client_payload: event.clientPayload }
      }
    }
    github.createWorkflowRun({
      repository: event.repository,
      name: options.workflowName,
      displayTitle: renderRunName(options.runName, context),
      queuedMs: options.queuedMs,
      inProgressMs: options.inProgressMs,
      conclusion: options.conclusion
    })
  }
}
