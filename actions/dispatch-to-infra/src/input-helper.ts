import {
  type DeploymentRequest,
  type ImageUpdate,
  type Inputs,
  type PayloadSource,
  type RepositoryName,
  type RunnerContext,
  UserError,
  hasControlCharacter,
  isValidEnvironment,
  requireDigest,
  requireRepository,
  requireRepositoryName,
  requireServiceName,
  requireTag,
  readDeploymentRequest
} from '@gitops-lite/core'

export interface Settings {
  /** Masked; never logged. */
  token: string
  repository: RepositoryName
  eventType: string
  updates: ImageUpdate[]
  /** The updates came from `services`, so the payload uses the `services` form. */
  multi: boolean
  environment?: string
  /** `client-payload`, parsed. */
  extra?: unknown
  apiUrl: string
  wait: boolean
  waitTimeoutMs: number
  /** The application repository's run that is sending the event. */
  source: PayloadSource
  /** Set when the wait is reported to this repository's Deployments API ('deployment-environment'). */
  deployment?: DeploymentRequest
}

const MAX_WAIT_MS = 6 * 3_600_000 // a GitHub-hosted job's own limit

function quote(value: string): string {
  return JSON.stringify(value.length > 120 ? `${value.slice(0, 120)}...` : value)
}

function parseJson(name: string, value: string, expected: string): unknown {
  try {
    return JSON.parse(value)
  } catch (error) {
    throw new UserError(`Input '${name}' is not valid JSON (${(error as Error).message}): ${quote(value)}`, {
      fix: `Give ${expected}.`
    })
  }
}

/** One image update from its fields; `label` names a field in messages. */
function readUpdate(field: (key: string) => string, label: (key: string) => string, digest: string): ImageUpdate {
  const service = requireServiceName(label('service'), field('service'))
  const image = field('image')
  requireRepository(label('image'), image)
  const update: ImageUpdate = { service, image, tag: requireTag(label('tag'), field('tag')) }
  return digest === '' ? update : { ...update, digest: requireDigest(label('digest'), digest) }
}

function readServices(raw: string): ImageUpdate[] {
  const expected = `a JSON array of {"service", "image", "tag", "digest"} objects, e.g. [{"service":"api","image":"ghcr.io/acme/api","tag":"v1.2.3"}]`
  const list = parseJson('services', raw, expected)
  if (!Array.isArray(list) || list.length === 0) {
    throw new UserError(`Input 'services' must be a non-empty JSON array, got ${quote(raw)}`, {
      fix: `Give ${expected}.`
    })
  }
  const updates = list.map((entry: unknown, index) => {
    const at = `services[${index}].`
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw new UserError(`Input 'services' entry ${index} must be an object, got ${quote(JSON.stringify(entry))}`, {
        fix: `Give ${expected}.`
      })
    }
    const object = entry as Record<string, unknown>
    const unknownKeys = Object.keys(object).filter((key) => !['service', 'image', 'tag', 'digest'].includes(key))
    if (unknownKeys.length > 0) {
      throw new UserError(
        `Input 'services' entry ${index} has unknown keys ${unknownKeys.map((k) => `'${k}'`).join(', ')}`,
        {
          fix: 'Each entry has service, image, tag and optionally digest.'
        }
      )
    }
    const field = (key: string) => {
      const value = object[key] ?? ''
      if (typeof value !== 'string')
        throw new UserError(`Input 'services': ${at}${key} must be a string, got ${quote(JSON.stringify(value))}`, {
          fix: `Give ${expected}.`
        })
      return value.trim()
    }
    return readUpdate(field, (key) => `Input 'services': ${at}${key}`, field('digest'))
  })
  const seen = new Set<string>()
  for (const { service } of updates) {
    if (seen.has(service))
      throw new UserError(`Input 'services' names the service '${service}' twice`, { fix: 'List each service once.' })
    seen.add(service)
  }
  return updates
}

/** Whether an http:// URL to this host keeps the token on the machine: localhost, 127.0.0.0/8 or ::1 (local tests). */
export function isLoopbackHost(hostname: string): boolean {
  // URL() writes 127.1 as 127.0.0.1 and an IPv6 host in brackets.
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)
}

function readApiUrl(inputs: Inputs, runner: RunnerContext): string {
  const value = inputs.string('api-url') || runner.apiUrl
  const where = inputs.string('api-url') ? "Input 'api-url'" : 'GITHUB_API_URL'
  let url: URL | undefined
  try {
    url = new URL(value)
  } catch {
    url = undefined
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new UserError(`${where} must be an http(s) URL, got ${quote(value)}`, {
      fix: "Leave it empty for the runner's GitHub, or give the REST API root, e.g. https://github.example.com/api/v3."
    })
  }
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    throw new UserError(
      `${where} ${quote(value)} is plain http to ${url.hostname}: the token would cross the network unencrypted`,
      {
        fix: 'Use the https:// address of the REST API, e.g. https://github.example.com/api/v3; http is accepted only for localhost, 127.0.0.0/8 and ::1.'
      }
    )
  }
  return value.replace(/\/+$/, '')
}

function readSource(runner: RunnerContext): PayloadSource {
  const { repository, runId, serverUrl } = runner
  return {
    repository,
    sha: runner.sha,
    ref: runner.ref,
    run_id: runId,
    run_url: repository && runId ? `${serverUrl}/${repository}/actions/runs/${runId}` : '',
    actor: runner.actor
  }
}

/** Reads and validates every input; nothing is sent unless all of them are valid. */
export function readSettings(inputs: Inputs, runner: RunnerContext): Settings {
  const token = inputs.token('token')
  if (token === '') {
    throw new UserError("Input 'token' is required but was empty", {
      fix: 'Pass a token that can write contents on the infra repository, e.g. token: ${{ secrets.INFRA_DISPATCH_TOKEN }}.'
    })
  }
  const repository = requireRepositoryName("Input 'repository'", inputs.required('repository'))

  // Its length is one of GitHub's limits, checked with the others (checkDispatchLimits) before any request.
  const eventType = inputs.string('event-type') || 'deploy'
  if (hasControlCharacter(eventType)) {
    throw new UserError(`Input 'event-type' ${quote(eventType)} contains a line break or a control character`, {
      fix: "Give the event type the infra workflow listens for (on: repository_dispatch: types: [deploy]), e.g. 'deploy'."
    })
  }

  const single = {
    service: inputs.string('service'),
    image: inputs.string('image'),
    tag: inputs.string('tag'),
    digest: inputs.string('digest')
  }
  const servicesRaw = inputs.string('services')
  let updates: ImageUpdate[]
  if (servicesRaw !== '') {
    const mixed = Object.entries(single)
      .filter(([, value]) => value !== '')
      .map(([name]) => `'${name}'`)
    if (mixed.length > 0) {
      throw new UserError(`Inputs 'services' and ${mixed.join(', ')} were both given`, {
        fix: "Use 'service' with 'image', 'tag' and 'digest' for one image, or 'services' alone for several."
      })
    }
    updates = readServices(servicesRaw)
  } else {
    if (single.service === '') {
      throw new UserError("Neither 'service' nor 'services' was given", {
        fix: "Set 'service', 'image' and 'tag' (and 'digest') for one image, or 'services' as a JSON array for several."
      })
    }
    const field = (key: string) => {
      const value = single[key as keyof typeof single]
      if (value === '')
        throw new UserError(`Input '${key}' is required with 'service' but was empty`, {
          fix: `Set '${key}' in the step's 'with:' block.`
        })
      return value
    }
    updates = [readUpdate(field, (key) => `Input '${key}'`, single.digest)]
  }

  const environment = inputs.string('environment') || undefined
  if (environment !== undefined && !isValidEnvironment(environment)) {
    throw new UserError(`Input 'environment' must be a name of letters, digits, _ . and -, got ${quote(environment)}`, {
      fix: 'Use the environment name the infra repository knows, e.g. production.'
    })
  }
  const extraRaw = inputs.string('client-payload')
  const extra = extraRaw === '' ? undefined : parseJson('client-payload', extraRaw, 'a JSON value, e.g. {"pr": 42}')

  const wait = inputs.boolean('wait', false)
  const waitTimeoutMs = inputs.duration('wait-timeout', '15m', { min: 1000, max: MAX_WAIT_MS })

  return {
    token,
    repository,
    eventType,
    updates,
    multi: servicesRaw !== '',
    environment,
    extra,
    apiUrl: readApiUrl(inputs, runner),
    wait,
    waitTimeoutMs,
    source: readSource(runner),
    deployment: readDeployment(inputs, runner, wait)
  }
}

/** The application repository's environment to report the deploy to, when 'deployment-environment' is set. */
function readDeployment(inputs: Inputs, runner: RunnerContext, wait: boolean): DeploymentRequest | undefined {
  const request = readDeploymentRequest(
    inputs,
    { environment: 'deployment-environment', environmentUrl: 'environment-url', token: 'deployment-token' },
    runner.repository
  )
  if (request && !wait) {
    throw new UserError(
      "Input 'deployment-environment' needs 'wait: true': the deployment's result is the infra run's",
      { fix: "Set 'wait: true', or remove 'deployment-environment'." }
    )
  }
  return request
}
