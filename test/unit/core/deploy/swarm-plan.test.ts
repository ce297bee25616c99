import {
  computeSwarmPlan,
  desiredState,
  parseSwarmInspection,
  swarmOverride,
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

function inspection(options: { services?: Record<string, unknown>; live?: string[]; record?: string[] } = {}): string {
  const config = {
    name: 'shop',
    services: options.services ?? { web, worker },
    configs: { motd: { name: 'shop_motd', file: '/srv/shop/motd.txt' } }
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

function plan(text: string, extra: { prune?: boolean; services?: string[] } = {}) {
  return computeSwarmPlan({
    report: parseSwarmInspection(text, mark),
    uploads,
    hostDigests: new Map(),
    mode: 'surgical',
    prune: extra.prune ?? false,
    services: extra.services
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
