import {
  computeSwarmPlan,
  desiredState,
  parseSwarmInspection,
  swarmOverride,
  swarmPreDeployJobs,
  type SwarmReport
} from '@gitops-lite/core'

const mark = '@@gl'
const web = {
  image: 'registry/web:v1',
  environment: { GREETING: 'hi' },
  configs: [{ source: 'motd', target: '/motd' }],
  deploy: { replicas: 2 }
}
const worker = { image: 'registry/worker:v1' }

function inspection(
  options: {
    services?: Record<string, unknown>
    networks?: Record<string, unknown>
    secrets?: Record<string, unknown>
    live?: string[]
    record?: string[]
    api?: string
  } = {}
): string {
  const config = {
    name: 'shop',
    services: options.services ?? { web, worker },
    configs: { motd: { name: 'shop_motd', file: '/srv/shop/motd.txt' } },
    ...(options.networks && { networks: options.networks }),
    ...(options.secrets && { secrets: options.secrets })
  }
  return [
    `${mark} section directory`,
    '/srv/shop',
    `${mark} section project`,
    'shop',
    `${mark} section generation`,
    '3',
    `${mark} section config`,
    JSON.stringify(config),
    `${mark} section services`,
    ...(options.live ?? []),
    `${mark} section record`,
    ...(options.record ?? []),
    `${mark} section files`,
    'sha256:compose',
    `${mark} section engine`,
    options.api ?? '1.41',
    `${mark} section end`
  ].join('\n')
}

const uploads = [
  { path: 'compose.yaml', digest: 'sha256:compose' },
  { path: 'motd.txt', digest: 'sha256:aaaaaaaaaaaaaaaa' }
]

function liveLine(
  report: SwarmReport,
  service: string,
  definition: Record<string, unknown>,
  overrides: Record<string, unknown> = {}
): string {
  const state = desiredState(definition as never, report.objects, (o) =>
    o.file === '/srv/shop/motd.txt' ? 'sha256:aaaaaaaaaaaaaaaa' : undefined
  )
  const image = String(definition.image)
  return JSON.stringify({
    name: `shop_${service}`,
    image,
    fileImage: image,
    hash: state.hash,
    aspects: JSON.stringify(state.aspects),
    replicas: 1,
    update: null,
    specHash: 'spec-1',
    ...overrides
  })
}

function plan(text: string, extra: { prune?: boolean; services?: string[]; preDeploy?: Map<string, string[]> } = {}) {
  return computeSwarmPlan({
    report: parseSwarmInspection(text, mark),
    uploads,
    hostDigests: new Map(),
    mode: 'surgical',
    prune: extra.prune ?? false,
    services: extra.services,
    preDeploy: extra.preDeploy
  })
}

describe('computeSwarmPlan', () => {
  const empty = parseSwarmInspection(inspection(), mark)
  const record = (specHash = 'spec-1') => [
    JSON.stringify({ kind: 'deploy', schema: 1, orchestrator: 'swarm', project: 'shop' }),
    JSON.stringify({ kind: 'service', service: 'web', hash: 'x', specHash }),
    JSON.stringify({ kind: 'service', service: 'worker', hash: 'x', specHash })
  ]

  it('plans every service as new on an empty swarm, configs named by content', () => {
    const result = plan(inspection())
    expect(result.deploy).toEqual(['web', 'worker'])
    expect(result.newServices).toEqual(['web', 'worker'])
    expect(result.objectNames.configs).toEqual({ motd: 'shop_motd_aaaaaaaaaaaa' })
    expect(JSON.parse(swarmOverride(result))).toMatchObject({
      configs: { motd: { name: 'shop_motd_aaaaaaaaaaaa' } },
      services: { web: { deploy: { labels: {} } } }
    })
  })

  it('keeps unchanged services and names the aspect that changed', () => {
    const live = [liveLine(empty, 'web', { ...web, image: 'registry/web:v0' }), liveLine(empty, 'worker', worker)]
    const result = plan(inspection({ live, record: record() }))
    expect(result.deploy).toEqual(['web'])
    expect(result.services.find((s) => s.service === 'web')).toMatchObject({
      change: 'changed',
      reasons: ['image changed'],
      oldImage: 'registry/web:v0'
    })
    expect(result.services.find((s) => s.service === 'worker')?.change).toBe('unchanged')
    expect(result.previous).toEqual(['web'])
  })

  it("gives the file's digest-pinned reference as the old image (a restore writes it back), and what runs when changed by hand", () => {
    const pinned = 'registry/web:v0@sha256:0123'
    const live = [
      liveLine(empty, 'web', { ...web, image: pinned }),
      liveLine(empty, 'worker', worker, { image: 'registry/worker:hotfix@sha256:4567' })
    ]
    const result = plan(inspection({ live, record: record() }))
    expect(result.services.find((s) => s.service === 'web')?.oldImage).toBe(pinned)
    expect(result.services.find((s) => s.service === 'worker')?.oldImage).toBe('registry/worker:hotfix')
  })

  it('reports an image changed by hand and a spec changed by hand as drift', () => {
    const live = [
      liveLine(empty, 'web', web, { image: 'registry/web:hotfix@sha256:0123' }),
      liveLine(empty, 'worker', worker, { specHash: 'spec-2' })
    ]
    const result = plan(inspection({ live, record: record() }))
    expect(result.services.find((s) => s.service === 'web')).toMatchObject({
      change: 'drifted',
      reasons: ['its image was changed by hand to registry/web:hotfix']
    })
    expect(result.services.find((s) => s.service === 'worker')?.change).toBe('drifted')
    expect(result.deploy).toEqual(['web', 'worker'])
  })

  it('reports a service gone from the files and removes it only with prune', () => {
    const live = [liveLine(empty, 'web', web), liveLine(empty, 'worker', worker), liveLine(empty, 'old', worker)]
    const kept = plan(inspection({ live, record: record() }))
    expect(kept.removed).toEqual([])
    expect(kept.kept).toEqual(['old'])
    expect(kept.services.find((s) => s.service === 'old')?.change).toBe('removed')
    expect(plan(inspection({ live, record: record() }), { prune: true }).removed.map((s) => s.service)).toEqual(['old'])
  })

  it('refuses a services input naming a service the files do not define', () => {
    expect(() => plan(inspection(), { services: ['nope'] })).toThrow(/nope/)
  })
})

describe('pre-deploy commands on the swarm', () => {
  const migrate = new Map([['web', ['sh', '-c', './migrate up']]])
  const api = {
    ...web,
    entrypoint: ['/bin/entry', "it's"],
    user: 'app',
    working_dir: '/srv',
    networks: { back: null, default: null },
    secrets: ['token', { source: 'external', target: 'a,b', uid: '0', mode: 256 }],
    deploy: { replicas: 2, placement: { constraints: ['node.role == worker'] } }
  }
  const secrets = {
    token: { name: 'shop_token', file: '/srv/shop/token.txt' },
    external: { name: 'team-wide', external: true }
  }
  const networks = {
    default: { name: 'shop_default', ipam: {} },
    back: { name: 'shop_back', driver: 'overlay', attachable: true, labels: { team: 'a' } },
    shared: { name: 'shared-net', external: true }
  }

  it('are shown on the services the plan deploys, not on the ones it keeps', () => {
    const empty = parseSwarmInspection(inspection(), mark)
    const live = [liveLine(empty, 'web', web), liveLine(empty, 'worker', { ...worker, image: 'registry/worker:v0' })]
    const kept = plan(inspection({ live }), { preDeploy: migrate })
    expect(kept.services.find((s) => s.service === 'web')?.preDeploy).toBeUndefined()
    expect(swarmPreDeployJobs(parseSwarmInspection(inspection({ live }), mark), kept)).toEqual([])
    const deployed = plan(inspection(), { preDeploy: migrate })
    expect(deployed.services.find((s) => s.service === 'web')?.preDeploy).toEqual(['sh', '-c', './migrate up'])
  })

  it('run as a job with the new image, the entrypoint, user, workdir, placement, networks, configs and secrets', () => {
    const text = inspection({ services: { web: { ...api, image: 'registry/web:v2' }, worker }, networks, secrets })
    const report = parseSwarmInspection(text, mark)
    const planned = computeSwarmPlan({
      report,
      uploads,
      hostDigests: new Map([['/srv/shop/token.txt', 'sha256:bbbbbbbbbbbbbbbb']]),
      mode: 'surgical',
      prune: false,
      preDeploy: migrate
    })
    const jobs = swarmPreDeployJobs(report, planned)
    expect(jobs).toEqual([
      {
        service: 'web',
        networks: [
          {
            name: 'shop_back',
            external: false,
            options: ['--driver', 'overlay', '--attachable', '--label', 'team=a']
          },
          { name: 'shop_default', external: false, options: ['--driver', 'overlay'] }
        ],
        objects: [
          { kind: 'config', name: 'shop_motd_aaaaaaaaaaaa', file: '/srv/shop/motd.txt' },
          { kind: 'secret', name: 'shop_token_bbbbbbbbbbbb', file: '/srv/shop/token.txt' },
          { kind: 'secret', name: 'team-wide' }
        ],
        options: [
          '--network',
          'shop_back',
          '--network',
          'shop_default',
          '--entrypoint',
          "/bin/entry 'it'\\''s'",
          '--user',
          'app',
          '--workdir',
          '/srv',
          '--constraint',
          'node.role == worker',
          '--config',
          'source=shop_motd_aaaaaaaaaaaa,target=/motd',
          '--secret',
          'source=shop_token_bbbbbbbbbbbb,target=token',
          '--secret',
          'source=team-wide,"target=a,b",uid=0,mode=256'
        ],
        image: 'registry/web:v2',
        command: ['sh', '-c', './migrate up']
      }
    ])
  })

  it('join an external network as it is named, and the default network when the service names none', () => {
    const text = inspection({
      services: { web: { ...web, networks: { shared: { aliases: ['x'] } } }, worker: { ...worker } },
      networks
    })
    const report = parseSwarmInspection(text, mark)
    const both = new Map([...migrate, ['worker', ['true']]])
    const [first, second] = swarmPreDeployJobs(report, plan(text, { preDeploy: both }))
    expect(first.networks).toEqual([{ name: 'shared-net', external: true, options: [] }])
    expect(second.networks).toEqual([{ name: 'shop_default', external: false, options: ['--driver', 'overlay'] }])
  })

  it('are refused in the plan when the manager speaks an API older than 1.41 (no Swarm jobs)', () => {
    expect(() => plan(inspection({ api: '1.40' }), { preDeploy: migrate })).toThrow(
      /pre-deploy command of web runs as a Swarm job, which needs Docker Engine API 1\.41 .* it speaks API 1\.40/
    )
    expect(() => plan(inspection({ api: '' }), { preDeploy: migrate })).toThrow(/API version could not be read/)
    expect(plan(inspection({ api: '1.40' })).deploy).toEqual(['web', 'worker'])
    expect(plan(inspection({ api: '1.43' }), { preDeploy: migrate }).deploy).toEqual(['web', 'worker'])
  })
})
