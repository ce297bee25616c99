import {
  computePlan,
  imageFileOf,
  parseComposeModel,
  parseRolledBackImages,
  rolledBackServices,
  type DeployRecord,
  type HostReport
} from '@gitops-lite/core'

const digest = `sha256:${'a'.repeat(64)}`

function report(services: Record<string, string>, running: Record<string, string>): HostReport {
  const config = JSON.stringify({
    name: 'app',
    services: Object.fromEntries(Object.entries(services).map(([name, image]) => [name, { image }]))
  })
  return {
    compose: 'v2',
    composeVersion: '2.26.1',
    directory: '/srv/app',
    project: 'app',
    generation: '1',
    stateDamage: [],
    model: parseComposeModel(config),
    hashes: new Map(Object.keys(services).map((name) => [name, `${name}-new`])),
    containers: Object.entries(running).map(([service, image]) => ({
      id: `${service}-1`,
      name: `app-${service}-1`,
      service,
      oneoff: false,
      configHash: `${service}-old`,
      image,
      state: 'running',
      health: 'healthy',
      exitCode: 0,
      restartPolicy: ''
    })),
    hostFiles: ['sha256:old']
  }
}

function record(images: Record<string, string>): DeployRecord {
  return {
    header: {
      kind: 'deploy',
      schema: 1,
      sha: 'c'.repeat(40),
      time: 't',
      runUrl: 'u',
      actor: 'a',
      project: 'app',
      compose: 'v2',
      files: {},
      topLevel: ''
    },
    services: new Map(
      Object.entries(images).map(([service, image]) => [
        service,
        { kind: 'service', service, image, inputs: {}, configHash: `${service}-old`, containerHash: `${service}-old` }
      ])
    )
  } as DeployRecord
}

describe('rolledBackServices', () => {
  const hostReport = report(
    { api: 'ghcr.io/acme/api:v3', worker: 'ghcr.io/acme/worker:v2', cache: 'redis:7' },
    { api: 'ghcr.io/acme/api:v2', worker: 'ghcr.io/acme/worker:v1', cache: 'redis:6' }
  )
  const plan = computePlan({
    report: hostReport,
    uploads: [{ path: 'compose.yaml', digest: 'sha256:new' }],
    envFiles: new Map(),
    hostDigests: new Map(),
    mode: 'surgical'
  })

  it('names each changed service with the image that failed and the one restored; only the failed one is marked failed', () => {
    const last = record({ api: `ghcr.io/acme/api:v2@${digest}`, worker: 'ghcr.io/acme/worker:v1', cache: 'redis:6' })
    expect(rolledBackServices(plan, last, ['api'])).toEqual([
      {
        service: 'api',
        failedImage: 'ghcr.io/acme/api:v3',
        restoredImage: `ghcr.io/acme/api:v2@${digest}`,
        failed: true
      },
      { service: 'cache', failedImage: 'redis:7', restoredImage: 'redis:6', failed: false },
      {
        service: 'worker',
        failedImage: 'ghcr.io/acme/worker:v2',
        restoredImage: 'ghcr.io/acme/worker:v1',
        failed: false
      }
    ])
  })

  it('without a record, the running containers say what came back; with no failed service known, all count as failed', () => {
    expect(rolledBackServices(plan, undefined, []).map((s) => [s.service, s.restoredImage, s.failed])).toEqual([
      ['api', 'ghcr.io/acme/api:v2', true],
      ['cache', 'redis:6', true],
      ['worker', 'ghcr.io/acme/worker:v1', true]
    ])
  })

  it('leaves out services whose image did not change (a configuration failure is not written back by image)', () => {
    const same = report({ api: 'ghcr.io/acme/api:v2' }, { api: 'ghcr.io/acme/api:v2' })
    const samePlan = computePlan({
      report: same,
      uploads: [],
      envFiles: new Map(),
      hostDigests: new Map(),
      mode: 'surgical'
    })
    expect(samePlan.deploy).toEqual(['api'])
    expect(rolledBackServices(samePlan, undefined, ['api'])).toEqual([])
  })
})

describe('parseRolledBackImages', () => {
  const entry = {
    host: 'deploy@vm:22',
    file: 'compose.yaml',
    service: 'api',
    failedImage: 'ghcr.io/acme/api:v3',
    restoredImage: 'ghcr.io/acme/api:v2',
    failed: true,
    failedCommit: 'b'.repeat(40),
    restoredCommit: '',
    run: 'https://github.com/acme/infra/actions/runs/1/attempts/1'
  }

  it('reads the output back; empty text is an empty list', () => {
    expect(parseRolledBackImages(JSON.stringify([entry]), 'restore')).toEqual([entry])
    expect(parseRolledBackImages('  ', 'restore')).toEqual([])
    expect(parseRolledBackImages('[]', 'restore')).toEqual([])
  })

  it('refuses what is not the output, naming the entry and field', () => {
    expect(() => parseRolledBackImages('{', 'restore')).toThrow("Input 'restore' is not JSON")
    expect(() => parseRolledBackImages('{}', 'restore')).toThrow("Input 'restore' is not a JSON array")
    expect(() =>
      parseRolledBackImages(JSON.stringify([{ ...entry, restoredImage: 'Not An Image' }]), 'restore')
    ).toThrow(`Input 'restore' entry 1 has no valid 'restoredImage' ("Not An Image")`)
    expect(() => parseRolledBackImages(JSON.stringify([entry, { ...entry, failed: 'yes' }]), 'restore')).toThrow(
      "Input 'restore' entry 2 has no 'failed' true or false"
    )
    expect(() => parseRolledBackImages(JSON.stringify([{ ...entry, service: 'a b' }]), 'restore')).toThrow(
      "entry 1 has no valid 'service'"
    )
  })
})

describe('imageFileOf', () => {
  it('is the last compose file that sets the image, else the first', () => {
    const files = [
      { path: 'deploy/compose.yaml', text: 'services:\n  api:\n    image: a:1\n  web:\n    image: w:1\n' },
      { path: 'deploy/compose.prod.yaml', text: 'services:\n  api:\n    image: a:2\n  web:\n    ports: ["80:80"]\n' }
    ]
    expect(imageFileOf('api', files)).toBe('deploy/compose.prod.yaml')
    expect(imageFileOf('web', files)).toBe('deploy/compose.yaml')
    expect(imageFileOf('gone', files)).toBe('deploy/compose.yaml')
  })
})
