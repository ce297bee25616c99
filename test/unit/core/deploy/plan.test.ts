import {
  UserError,
  computePlan,
  formatPlan,
  pathsToDigest,
  type ContainerState,
  type HostReport,
  type PlanInput,
  type RecordedService
} from '@gitops-lite/core'
import { refusal } from '../../../helpers/refusal'

const dir = '/srv/app'
const motd = `${dir}/conf/motd.txt`
const envFile = `${dir}/.web.env`

function container(service: string, overrides: Partial<ContainerState> = {}): ContainerState {
  return {
    id: `${service}-id`,
    name: `app-${service}-1`,
    service,
    oneoff: false,
    configHash: `${service}-label`,
    image: `registry/${service}:v1`,
    state: 'running',
    health: null,
    exitCode: 0,
    restartPolicy: 'no',
    ...overrides
  }
}

function recorded(service: string, overrides: Partial<RecordedService> = {}): RecordedService {
  return {
    kind: 'service',
    service,
    inputs: {},
    configHash: `${service}-hash`,
    containerHash: `${service}-label`,
    ...overrides
  }
}

/** A host running web (mounting motd.txt, reading .web.env) and worker, as the last deploy left them. */
function report(
  overrides: Partial<HostReport> = {},
  record: RecordedService[] | null = [
    recorded('web', { inputs: { [envFile]: 'sha256:env1', [motd]: 'sha256:motd1' } }),
    recorded('worker')
  ]
): HostReport {
  return {
    compose: 'v2',
    composeVersion: '2.26.1',
    directory: dir,
    project: 'app',
    generation: '4',
    stateDamage: [],
    model: {
      services: new Map([
        ['web', { image: 'registry/web:v1', mounts: [motd] }],
        ['worker', { image: 'registry/worker:v1', mounts: [] }]
      ]),
      topLevel: 'top1'
    },
    hashes: new Map([
      ['web', 'web-hash'],
      ['worker', 'worker-hash']
    ]),
    containers: [container('web'), container('worker')],
    record:
      record === null
        ? undefined
        : {
            header: {
              kind: 'deploy',
              schema: 1,
              sha: 'abc',
              time: '',
              runUrl: '',
              actor: '',
              project: 'app',
              compose: 'v2',
              files: {},
              topLevel: 'top1'
            },
            services: new Map(record.map((s) => [s.service, s]))
          },
    hostFiles: ['sha256:compose1', 'sha256:motd1'],
    ...overrides
  }
}

function plan(input: Partial<PlanInput> = {}) {
  return computePlan({
    report: report(),
    uploads: [
      { path: 'compose.yaml', digest: 'sha256:compose1' },
      { path: 'conf/motd.txt', digest: 'sha256:motd1' }
    ],
    envFiles: new Map([['web', ['.web.env']]]),
    hostDigests: new Map([[envFile, 'sha256:env1']]),
    mode: 'surgical',
    ...input
  })
}

const changes = (p: ReturnType<typeof plan>) =>
  Object.fromEntries(p.services.map((s) => [s.service, `${s.deploy ? 'deploy' : 'keep'} ${s.change}`]))

describe('computePlan', () => {
  it('a pre-deploy command goes with a deployed service only, and the plan shows it', () => {
    const preDeploy = new Map([
      ['web', ['sh', '-c', "migrate --to 'v2'"]],
      ['worker', ['migrate']]
    ])
    const result = plan({
      report: report({
        hashes: new Map([
          ['web', 'web-hash-2'],
          ['worker', 'worker-hash']
        ])
      }),
      preDeploy
    })
    expect(result.services.map((s) => [s.service, s.preDeploy])).toEqual([
      ['web', ['sh', '-c', "migrate --to 'v2'"]],
      ['worker', undefined]
    ])
    expect(formatPlan('vm1', result).join('\n')).toContain(
      `first runs its pre-deploy command with the new image: sh -c 'migrate --to '\\''v2'\\'''`
    )
  })

  it('nothing changed: nothing to deploy and no apply round trip', () => {
    const result = plan()
    expect(changes(result)).toEqual({ web: 'keep unchanged', worker: 'keep unchanged' })
    expect(result.needsApply).toBe(false)
    expect(result.files.map((f) => f.change)).toEqual(['same', 'same'])
  })

  it('first deploy: every service is new, and a rollback would remove them', () => {
    const result = plan({ report: report({ containers: [], hostFiles: ['missing', 'missing'] }, null) })
    expect(changes(result)).toEqual({ web: 'deploy new', worker: 'deploy new' })
    expect(result.newServices).toEqual(['web', 'worker'])
    expect(result.previous).toEqual([])
    expect(result.files.map((f) => f.change)).toEqual(['new', 'new'])
    expect(result.needsApply).toBe(true)
  })

  it('a changed config hash deploys that service only', () => {
    const result = plan({
      report: report({
        hashes: new Map([
          ['web', 'web-hash-2'],
          ['worker', 'worker-hash']
        ])
      })
    })
    expect(changes(result)).toEqual({ web: 'deploy changed', worker: 'keep unchanged' })
    expect(result.services[0].reasons).toEqual(['its configuration changed'])
    expect(result.previous).toEqual(['web'])
  })

  it("a changed mounted file or env_file deploys the services that read it (compose's hash sees neither)", () => {
    const mounted = plan({
      uploads: [
        { path: 'compose.yaml', digest: 'sha256:compose1' },
        { path: 'conf/motd.txt', digest: 'sha256:motd2' }
      ]
    })
    expect(changes(mounted)).toEqual({ web: 'deploy changed', worker: 'keep unchanged' })
    expect(mounted.services[0].reasons).toEqual(['conf/motd.txt changed'])
    expect(mounted.files.map((f) => f.change)).toEqual(['same', 'changed'])

    const secrets = plan({ hostDigests: new Map([[envFile, 'sha256:env2']]) })
    expect(secrets.services[0]).toMatchObject({ change: 'changed', reasons: ['.web.env changed'] })
  })

  it('tracks uploaded files inside a mounted directory', () => {
    const r = report()
    r.model.services.set('web', { image: 'registry/web:v1', mounts: [`${dir}/conf`] })
    const result = plan({
      report: r,
      hostDigests: new Map([
        [envFile, 'sha256:env1'],
        [`${dir}/conf`, 'dir']
      ])
    })
    expect(result.services[0].inputs).toEqual({ [envFile]: 'sha256:env1', [motd]: 'sha256:motd1' })
    expect(result.services[0].change).toBe('unchanged')
  })

  it('a file the service writes itself (writable bind mount) is no change, however often it changes', () => {
    const acme = `${dir}/acme.json`
    const r = report()
    r.model.services.set('web', { image: 'registry/web:v1', mounts: [motd], writableMounts: [acme, `${dir}/conf`] })
    const input = {
      report: r,
      hostDigests: new Map([
        [envFile, 'sha256:env1'],
        [acme, 'sha256:written-by-the-service']
      ])
    }
    expect(pathsToDigest(r, [{ path: 'compose.yaml', digest: 'x' }], new Map([['web', ['.web.env']]]))).toEqual([
      envFile,
      motd
    ])
    const result = plan(input)
    expect(result.services[0]).toMatchObject({
      change: 'unchanged',
      deploy: false,
      inputs: { [envFile]: 'sha256:env1', [motd]: 'sha256:motd1' }
    })
    expect(result.needsApply).toBe(false)
    // A record written when writable mounts were still tracked does not make it change either.
    const old = report({}, [
      recorded('web', { inputs: { [envFile]: 'sha256:env1', [motd]: 'sha256:motd1', [acme]: 'sha256:old' } }),
      recorded('worker')
    ])
    old.model.services.set('web', { image: 'registry/web:v1', mounts: [motd], writableMounts: [acme] })
    expect(plan({ ...input, report: old }).services[0].change).toBe('unchanged')
    // An uploaded file inside a writable mount is the deploy's, and counts.
    const uploaded = plan({
      ...input,
      uploads: [
        { path: 'compose.yaml', digest: 'sha256:compose1' },
        { path: 'conf/motd.txt', digest: 'sha256:motd1' },
        { path: 'conf/site.conf', digest: 'sha256:site' }
      ]
    })
    expect(uploaded.services[0]).toMatchObject({ change: 'changed', reasons: ['conf/site.conf changed'] })
  })

  it('drift: a missing, stopped or hand-recreated container is redeployed; a finished job is not', () => {
    const missing = plan({ report: report({ containers: [container('web')] }) })
    expect(missing.services[1]).toMatchObject({
      change: 'drifted',
      deploy: true,
      reasons: ['its container is missing']
    })

    const exited = plan({
      report: report({ containers: [container('web', { state: 'exited', exitCode: 137 }), container('worker')] })
    })
    expect(exited.services[0]).toMatchObject({
      change: 'drifted',
      reasons: ['container app-web-1 is exited (code 137)']
    })

    const recreated = plan({
      report: report({ containers: [container('web', { configHash: 'by-hand' }), container('worker')] })
    })
    expect(recreated.services[0].reasons).toEqual(['container app-web-1 was recreated outside gitops-lite'])

    const job = plan({
      report: report({ containers: [container('web'), container('worker', { state: 'exited', exitCode: 0 })] })
    })
    expect(job.services[1].change).toBe('unchanged')
  })

  it('drift: an uploaded file edited or deleted on the host is put back and its services recreated', () => {
    for (const [onHost, reason] of [
      ['sha256:hand-edit', 'conf/motd.txt was edited on the host'],
      ['missing', 'conf/motd.txt was deleted on the host']
    ]) {
      const result = plan({ report: report({ hostFiles: ['sha256:compose1', onHost] }) })
      expect(changes(result)).toEqual({ web: 'deploy drifted', worker: 'keep unchanged' })
      expect(result.services[0].reasons).toEqual([reason])
      expect(result.files.find((f) => f.path === 'conf/motd.txt')?.change).not.toBe('unchanged')
    }
  })

  it('a service gone from the files is removed with all its containers; one-off containers are ignored', () => {
    const r = report({
      containers: [
        container('web'),
        container('worker'),
        container('old'),
        container('old', { id: 'old-2' }),
        container('web', { id: 'run-1', oneoff: true })
      ]
    })
    const result = plan({ report: r })
    expect(result.removed.map((s) => [s.service, s.containers])).toEqual([['old', ['old-id', 'old-2']]])
    expect(changes(result).old).toBe('keep removed')
    expect(result.needsApply).toBe(true)
  })

  it('top-level network or volume changes fall back to a full deploy', () => {
    const r = report()
    r.model.topLevel = 'top2'
    const result = plan({ report: r })
    expect(result.full).toBe(true)
    expect(result.fullReason).toBe('the top-level networks or volumes changed')
    expect(changes(result)).toEqual({ web: 'deploy full', worker: 'deploy full' })
  })

  it("mode 'full' deploys everything", () => {
    const result = plan({ mode: 'full' })
    expect(result.deploy).toEqual(['web', 'worker'])
    expect(result.services[0].reasons).toEqual(["mode is 'full'"])
  })

  it("'services' deploys exactly those, removes nothing, and refuses unknown names", () => {
    const r = report({ containers: [container('web'), container('worker'), container('old')] })
    const result = plan({ report: r, services: ['worker'] })
    expect(changes(result)).toEqual({ web: 'keep unchanged', worker: 'deploy requested' })
    expect(result.removed).toEqual([])
    expect(() => plan({ services: ['api'] })).toThrow(UserError)
    expect(() => plan({ services: ['api'] })).toThrow(/names "api", which the compose files do not define/)
  })

  it('without a record of ours, compares with the running containers and the files on the host', () => {
    const labels = report(
      { containers: [container('web', { configHash: 'web-hash' }), container('worker', { configHash: 'other' })] },
      null
    )
    expect(changes(plan({ report: labels }))).toEqual({ web: 'keep unchanged', worker: 'deploy changed' })
    const files = report(
      {
        containers: [container('web', { configHash: 'web-hash' }), container('worker', { configHash: 'worker-hash' })],
        hostFiles: ['sha256:compose1', 'sha256:old']
      },
      null
    )
    expect(plan({ report: files }).services[0].reasons).toEqual(['conf/motd.txt changed'])
    expect(plan({ report: labels }).needsApply).toBe(true)
  })

  it('ignores a record written for another project or compose variant', () => {
    const r = report({
      compose: 'v1',
      containers: [container('web', { configHash: 'web-hash' }), container('worker', { configHash: 'worker-hash' })]
    })
    expect(changes(plan({ report: r }))).toEqual({ web: 'keep unchanged', worker: 'keep unchanged' })
    expect(plan({ report: r }).needsApply).toBe(true) // to write a record it can trust
  })

  it('asks the host only for the digests of files that are not uploaded', () => {
    expect(
      pathsToDigest(
        report(),
        [{ path: 'conf/motd.txt', digest: 'x' }],
        new Map([['web', ['.web.env', '/etc/shared.env']]])
      )
    ).toEqual(['/etc/shared.env', envFile])
  })
})

describe('computePlan refuses before anything changes', () => {
  const modelWith = (name: string, image: string): HostReport['model'] => ({
    services: new Map([[name, { image, mounts: [] }]]),
    topLevel: 'top1'
  })
  const refusalOf = (r: HostReport): UserError => {
    try {
      plan({ report: r, envFiles: new Map(), hostDigests: new Map() })
    } catch (error) {
      if (error instanceof UserError) return error
      throw error
    }
    throw new Error('expected a refusal')
  }

  it.each(['--remove-orphans', '-d', '.hidden'])('a service named %s in the resolved files', (name) => {
    expect(refusalOf(report({ model: modelWith(name, 'registry/x:v1'), containers: [] })).message).toContain(
      `${JSON.stringify(name)}, which is not a valid compose service name`
    )
  })

  it('a container labelled with a name compose would read as an option', () => {
    const error = refusalOf(report({ containers: [container('web'), container('--remove-orphans')] }))
    expect(error.message).toContain('"--remove-orphans"')
  })

  it.each([
    ['Registry/Web:v2', 'upper-case'],
    ['registry/web:v2 extra', 'white space'],
    ['registry/web@sha256:abc', 'digest'],
    ['registry/web:', 'tag is empty'],
    ['registry/web:v2\n::error::x', 'white space']
  ])('an image docker cannot pull: %j', (image, problem) => {
    const error = refusalOf(report({ model: modelWith('web', image) }, null))
    expect(error.message).toContain(`Service 'web' has the image ${JSON.stringify(image)}`)
    expect(error.message).toContain(problem)
  })
})

describe('computePlan: start-first services', () => {
  const rollout = { replicas: 2, parallelism: 1, delaySeconds: 3, monitorSeconds: 2, stopGraceSeconds: 10 }
  function startFirstReport(conflicts: string[] = [], overrides: Partial<HostReport> = {}): HostReport {
    const r = report({
      hashes: new Map([
        ['web', 'web-hash-2'],
        ['worker', 'worker-hash-2']
      ]),
      ...overrides
    })
    r.model.services.set('web', { image: 'registry/web:v2', mounts: [motd], startFirst: { ...rollout, conflicts } })
    return r
  }

  it('replaces a start-first service start-first and the others by recreating them, and says so in the plan', () => {
    const result = plan({ report: startFirstReport() })
    expect(result.services.map((s) => [s.service, s.strategy])).toEqual([
      ['web', 'start-first'],
      ['worker', 'recreate']
    ])
    expect(result.recreate).toEqual(['worker'])
    expect(result.startFirst).toEqual([{ service: 'web', ...rollout }])
    const lines = formatPlan('vm', result)
    expect(lines[1]).toMatch(/web +deploy +changed +start-first +registry\/web:v1 -> registry\/web:v2/)
    expect(lines[2]).toMatch(/worker +deploy +changed +recreate /)
  })

  it('recreates it when new top-level networks or volumes mean new containers for every service', () => {
    const r = startFirstReport([], { model: { ...report().model, topLevel: 'top2' } })
    r.model.services.set('web', { image: 'registry/web:v2', mounts: [motd], startFirst: { ...rollout, conflicts: [] } })
    const result = plan({ report: r })
    expect(result.services[0]).toMatchObject({
      strategy: 'recreate',
      strategyNote: 'not start-first: the top-level networks or volumes changed'
    })
    expect(result.startFirst).toEqual([])
    expect(formatPlan('vm', result)[1]).toContain('[not start-first: the top-level networks or volumes changed]')
  })

  it('refuses, before any change, a start-first service that cannot run twice, saying what to change', () => {
    const error = refusal(() =>
      plan({
        report: startFirstReport([
          'it has a fixed container_name',
          'its ports entry 1 (container port 80) publishes a fixed host port'
        ])
      })
    )
    expect(error.message).toContain(
      'web: it has a fixed container_name; its ports entry 1 (container port 80) publishes a fixed host port'
    )
    expect(error.fix).toMatch(/reverse proxy on the compose network/)
    expect(error.fix).toContain('Nothing was changed on the host')
  })

  it('refuses start-first on docker-compose v1', () => {
    const error = refusal(() => plan({ report: startFirstReport([], { compose: 'v1' }) }))
    expect(error.message).toContain('web: the host runs docker-compose v1, and start-first needs Compose v2')
  })
})
