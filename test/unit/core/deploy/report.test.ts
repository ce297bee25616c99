import {
  UserError,
  composeDurationSeconds,
  envFilesOf,
  isComposeFileName,
  isSafeRelativePath,
  isSecretFileName,
  jsonPrefix,
  preDeployCommandsOf,
  parseComposeModel,
  parseInspection,
  parseRecord,
  recordDamage,
  splitSections
} from '@gitops-lite/core'

const mark = '@@gitops-lite-abc123'

const v2Config = JSON.stringify(
  {
    name: 'app',
    networks: { default: { name: 'app_default', ipam: {} } },
    services: {
      web: {
        image: 'registry/web:v2',
        environment: { WEB_SECRET: 'must-not-survive' },
        volumes: [
          { type: 'bind', source: '/srv/app/conf/motd.txt', target: '/www/motd.txt', read_only: true },
          { type: 'volume', source: 'data', target: '/data' }
        ],
        configs: [{ source: 'site', target: '/etc/site.conf' }]
      }
    },
    configs: { site: { file: '/srv/app/site.conf' } },
    volumes: { data: { name: 'app_data' } }
  },
  null,
  2
)

const v1Config = [
  'networks:',
  '  default: {}',
  'services:',
  '  web:',
  '    environment:',
  '      WEB_SECRET: must-not-survive',
  '    image: registry/web:v2',
  '    secrets:',
  '    - source: token',
  '    volumes:',
  '    - /srv/app/conf/motd.txt:/www/motd.txt:ro',
  '    - data:/data:rw',
  'secrets:',
  '  token:',
  '    file: /srv/app/token.txt',
  "version: '3.9'",
  ''
].join('\n')

describe('parseComposeModel', () => {
  it('keeps images and the host files services read, from compose v2 JSON and v1 YAML', () => {
    const v2 = parseComposeModel(v2Config)
    expect([...v2.services]).toEqual([
      ['web', { image: 'registry/web:v2', mounts: ['/srv/app/conf/motd.txt', '/srv/app/site.conf'] }]
    ])
    const v1 = parseComposeModel(v1Config)
    expect([...v1.services]).toEqual([
      ['web', { image: 'registry/web:v2', mounts: ['/srv/app/conf/motd.txt', '/srv/app/token.txt'] }]
    ])
    expect(JSON.stringify([...v2.services, ...v1.services])).not.toContain('must-not-survive')
  })

  it('keeps writable bind mounts apart: the service may write them itself', () => {
    const v2 = parseComposeModel(
      JSON.stringify({
        services: {
          proxy: {
            volumes: [
              { type: 'bind', source: '/srv/app/acme.json', target: '/acme.json' },
              { type: 'bind', source: '/srv/app/traefik.yml', target: '/etc/traefik.yml', read_only: true },
              { type: 'bind', source: '/srv/app/data', target: '/data', read_only: false }
            ]
          }
        }
      }),
      'v2'
    )
    expect(v2.services.get('proxy')).toEqual({
      image: undefined,
      mounts: ['/srv/app/traefik.yml'],
      writableMounts: ['/srv/app/acme.json', '/srv/app/data']
    })
    const v1 = parseComposeModel(
      'services:\n  db:\n    volumes:\n    - /srv/app/db.sqlite:/db.sqlite:rw\n    - /srv/app/seed.sql:/seed.sql:ro,z\n    - /srv/app/cache:/cache\n'
    )
    expect(v1.services.get('db')).toEqual({
      image: undefined,
      mounts: ['/srv/app/seed.sql'],
      writableMounts: ['/srv/app/db.sqlite', '/srv/app/cache']
    })
  })

  it('reads a start-first rollout from deploy.update_config, with compose defaults and Swarm parallelism', () => {
    const model = parseComposeModel(
      JSON.stringify({
        services: {
          web: {
            deploy: {
              replicas: 3,
              update_config: { order: 'start-first', parallelism: 2, delay: '1m30s', monitor: '500ms' }
            },
            stop_grace_period: '20s'
          },
          api: { scale: 2, deploy: { update_config: { order: 'start-first' } } },
          worker: { deploy: { update_config: { order: 'stop-first', parallelism: 1 } } }
        }
      }),
      'v2'
    )
    expect(model.services.get('web')?.startFirst).toEqual({
      replicas: 3,
      parallelism: 2,
      delaySeconds: 90,
      monitorSeconds: 1,
      stopGraceSeconds: 20,
      conflicts: []
    })
    expect(model.services.get('api')?.startFirst).toEqual({
      replicas: 2,
      parallelism: 1,
      delaySeconds: 0,
      monitorSeconds: 5,
      stopGraceSeconds: 10,
      conflicts: []
    })
    expect(model.services.get('worker')?.startFirst).toBeUndefined()
  })

  it('names what keeps two containers of a start-first service from running at once, quoting no value', () => {
    const model = parseComposeModel(
      JSON.stringify({
        services: {
          web: {
            container_name: 'secret-name',
            deploy: { update_config: { order: 'start-first' } },
            ports: [
              { target: 80, published: '8080', host_ip: '127.0.0.1' },
              { target: 81, published: '9000-9009' },
              { target: 82 }
            ],
            networks: { front: { ipv4_address: '10.9.8.7' }, back: null },
            volumes: [
              { type: 'bind', source: '/srv/secret-dir', target: '/data', bind: { selinux: 'Z' } },
              { type: 'bind', source: '/srv/shared', target: '/shared', bind: { selinux: 'z' } }
            ]
          }
        }
      }),
      'v2'
    )
    const conflicts = model.services.get('web')?.startFirst?.conflicts ?? []
    expect(conflicts).toEqual([
      'it has a fixed container_name',
      'its ports entry 1 (container port 80) publishes a fixed host port, which only one container can bind',
      'it has a fixed ipv4_address or ipv6_address on a network',
      'its volumes entry 1 is a bind mount labelled Z (private and unshared: a second container cannot use it)'
    ])
    expect(conflicts.join(' ')).not.toMatch(/secret|8080|10\.9/)
  })

  it('reads compose durations in whole seconds, rounded up', () => {
    expect([
      composeDurationSeconds('10s'),
      composeDurationSeconds('1h2m3s'),
      composeDurationSeconds('1.5s'),
      composeDurationSeconds(7)
    ]).toEqual([10, 3723, 2, 7])
    expect([composeDurationSeconds('ten'), composeDurationSeconds('5'), composeDurationSeconds(undefined)]).toEqual([
      undefined,
      undefined,
      undefined
    ])
  })

  it('digests the top-level networks and volumes, whatever their key order', () => {
    const a = parseComposeModel('networks: {front: {driver: bridge, internal: true}}\nservices: {}\n')
    const b = parseComposeModel('services: {}\nnetworks: {front: {internal: true, driver: bridge}}\n')
    const c = parseComposeModel('networks: {front: {driver: bridge}}\nservices: {}\n')
    expect(a.topLevel).toBe(b.topLevel)
    expect(a.topLevel).not.toBe(c.topLevel)
  })
})

describe('parseInspection', () => {
  const output = [
    'noise before the first section',
    `${mark} section compose`,
    'v2',
    '2.26.1-4',
    `${mark} section directory`,
    '/srv/app',
    `${mark} section project`,
    'app',
    `${mark} section generation`,
    '7',
    `${mark} section config`,
    v2Config,
    '',
    `${mark} section hashes`,
    'web 1111',
    `${mark} section containers`,
    '{"id":"c1","name":"/app-web-1","service":"web","oneoff":"False","configHash":"1111","image":"registry/web:v1","state":"running","health":"healthy","exitCode":0,"restartPolicy":""}',
    '{"id":"c2","name":"/app-web-run-1","service":"web","oneoff":"True","configHash":"1111","image":"registry/web:v1","state":"exited","health":null,"exitCode":0,"restartPolicy":""}',
    `${mark} section record`,
    `{"kind":"deploy","schema":1,"sha":"abc","time":"t","runUrl":"u","actor":"a","project":"app","compose":"v2","files":{},"topLevel":"x"}`,
    `{"kind":"service","service":"web","inputs":{"/srv/app/conf/motd.txt":"sha256:1"},"configHash":"1111","containerHash":"2222"}`,
    `${mark} section files`,
    'sha256:aaa',
    'missing',
    `${mark} section end`,
    ''
  ].join('\n')

  it('reads every section', () => {
    const report = parseInspection(output, mark)
    expect(report).toMatchObject({
      compose: 'v2',
      composeVersion: '2.26.1-4',
      directory: '/srv/app',
      project: 'app',
      generation: '7',
      stateDamage: [],
      hostFiles: ['sha256:aaa', 'missing']
    })
    expect([...report.hashes]).toEqual([['web', '1111']])
    expect(report.containers.map((c) => [c.id, c.name, c.oneoff, c.health])).toEqual([
      ['c1', 'app-web-1', false, 'healthy'],
      ['c2', 'app-web-run-1', true, null]
    ])
    expect(report.record?.header.sha).toBe('abc')
    expect(report.record?.services.get('web')?.containerHash).toBe('2222')
  })

  it('refuses output cut short, and a section marker without the run mark is just text', () => {
    expect(() => parseInspection(output.replace(`${mark} section end`, ''), mark)).toThrow(/incomplete/)
    expect(splitSections(`${mark} section a\n@@gitops-lite-other section b\nline`, mark)).toEqual(
      new Map([['a', '@@gitops-lite-other section b\nline']])
    )
  })
})

describe('parseInspection never quotes what the host printed', () => {
  const secret = 'hunter2-from-the-env-file'
  const inspection = (config: string, compose = 'v2', containers = '{"id":"c1","service":"web"}') =>
    [
      `${mark} section compose`,
      compose,
      `${mark} section config`,
      config,
      `${mark} section containers`,
      containers,
      `${mark} section end`,
      ''
    ].join('\n')
  const failure = (stdout: string): UserError => {
    try {
      parseInspection(stdout, mark, 'deploy@vm1:22')
    } catch (error) {
      if (error instanceof UserError) return error
      throw new Error(`expected a UserError, got ${String(error)}`)
    }
    throw new Error('expected a UserError')
  }

  it('a resolved config it cannot read fails the host with a UserError that shows none of it', () => {
    for (const [config, compose] of [
      [`{"services": {"web": {"environment": {"TOKEN": "${secret}"}}, oops}`, 'v2'],
      [`services:\n  web:\n    environment:\n      TOKEN: ${secret}\n     bad: [indent\n`, 'v1']
    ]) {
      const error = failure(inspection(config, compose))
      expect(error.message).toMatch(/resolved compose config that deploy@vm1:22 printed could not be read/)
      expect(error.fix).toMatch(/Nothing was changed on the host/)
      expect(error.describe()).not.toContain(secret)
      expect(String(error.cause ?? '')).not.toContain(secret)
    }
  })

  it('reads compose v2 output as JSON', () => {
    // Valid JSON that YAML refuses (a repeated key): v2 prints JSON, so it is read as JSON.
    const report = parseInspection(
      inspection('{"services": {"web": {"image": "a", "image": "registry/web:v2"}}}', 'v2', ''),
      mark,
      'vm1'
    )
    expect(report.model.services.get('web')?.image).toBe('registry/web:v2')
  })

  it('an unreadable container line or output cut short is a UserError naming the host', () => {
    const container = failure(inspection('{"services": {}}', 'v2', `{"id": "c1", "name": "${secret}`))
    expect(container.message).toMatch(/container list \(docker inspect\) that deploy@vm1:22 printed could not be read/)
    expect(container.describe()).not.toContain(secret)
    const cut = failure(
      inspection(`{"services": {"web": {"environment": {"TOKEN": "${secret}"}}}}`).replace(`${mark} section end`, '')
    )
    expect(cut.message).toMatch(/inspection output from deploy@vm1:22 is incomplete/)
    expect(cut.fix).toMatch(/Nothing was changed on the host/)
    expect(failure(inspection('{}', 'v3')).message).toMatch(/deploy@vm1:22 is incomplete \(it names no compose variant/)
  })
})

describe('the record', () => {
  it('is not trusted when it is not ours or not JSON lines', () => {
    expect(parseRecord('')).toBeUndefined()
    expect(parseRecord('{"kind":"service","service":"web"}')).toBeUndefined()
    expect(parseRecord('not json')).toBeUndefined()
    expect(parseRecord('{"kind":"deploy","schema":2}')).toBeUndefined()
  })

  it('JSON prefixes leave the closing brace to the host', () => {
    expect(jsonPrefix({ a: 1, b: 'x' })).toBe('{"a":1,"b":"x"')
    expect(() => jsonPrefix({})).toThrow()
  })
})

describe('stack files', () => {
  it('tells compose files from mounted files, and secrets from both', () => {
    expect(['compose.yaml', 'deploy/docker-compose.prod.yml', 'compose-override.yaml'].every(isComposeFileName)).toBe(
      true
    )
    expect(['nginx.conf', 'composer.yaml', 'compose.json'].some(isComposeFileName)).toBe(false)
    expect(['.env', 'conf/.env', '.api.env'].every(isSecretFileName)).toBe(true)
    expect(['app.env', '.envrc', 'env'].some(isSecretFileName)).toBe(false)
  })

  it('passes only paths the host can take as one word', () => {
    expect(['compose.yaml', 'conf/nginx.conf', '.hidden/x-y_z.1'].every(isSafeRelativePath)).toBe(true)
    expect(
      ['../x', '/etc/passwd', 'a b', 'a/../b', 'a//b', 'a/', '*.conf', "it's", '-rf'].some(isSafeRelativePath)
    ).toBe(false)
  })

  it('reads env_file entries from the compose files themselves, in every form', () => {
    const files = [
      {
        path: 'compose.yaml',
        text: 'services:\n  web:\n    env_file: .web.env\n  api:\n    env_file: [.api.env, {path: shared.env, required: false}]\n  db:\n    image: x\n'
      },
      { path: 'compose.prod.yaml', text: 'services:\n  web:\n    env_file: [.web.env, "${STAGE}.env"]\n' }
    ]
    expect(envFilesOf(files)).toEqual(
      new Map([
        ['web', ['.web.env']],
        ['api', ['.api.env', 'shared.env']]
      ])
    )
  })

  it("reads pre-deploy commands like compose's command: a list as is, a string through sh -c, $$ as $", () => {
    const files = [
      {
        path: 'compose.yaml',
        text: 'services:\n  api:\n    x-gitops-lite:\n      pre-deploy: ["migrate", "--to", "$$TARGET"]\n  worker:\n    x-gitops-lite: { pre-deploy: "migrate && echo $$HOME" }\n  web:\n    image: x\n'
      },
      {
        path: 'compose.prod.yaml',
        text: 'services:\n  api:\n    x-gitops-lite:\n      pre-deploy: [migrate, --prod]\n'
      }
    ]
    expect(preDeployCommandsOf(files)).toEqual(
      new Map([
        ['api', ['migrate', '--prod']],
        ['worker', ['sh', '-c', 'migrate && echo $HOME']]
      ])
    )
  })

  it('refuses a pre-deploy that is no command or uses a compose variable, naming the file and service', () => {
    const refusal = (text: string) => {
      try {
        preDeployCommandsOf([{ path: 'compose.yaml', text }])
      } catch (error) {
        if (error instanceof UserError) return `${error.message} @${error.location?.line}`
      }
      throw new Error('expected a UserError')
    }
    expect(refusal('services:\n  api:\n    x-gitops-lite:\n      pre-deploy: []\n')).toMatch(
      /^compose.yaml: service 'api' x-gitops-lite.pre-deploy must be a command.* @2$/
    )
    expect(refusal('services:\n  api:\n    x-gitops-lite:\n      pre-deploy: [migrate, 3]\n')).toContain(
      'must be a command'
    )
    expect(refusal('services:\n  api:\n    x-gitops-lite:\n      pre-deploy: migrate ${DB_URL}\n')).toContain(
      'uses the compose variable $DB_URL'
    )
  })
})

describe('damaged state files', () => {
  it('recordDamage says what is wrong with a record that is there but cannot be trusted', () => {
    const header = JSON.stringify({ kind: 'deploy', schema: 1 })
    expect(recordDamage('')).toBeUndefined()
    expect(recordDamage(`${header}\n{"kind":"service","service":"web"}\n`)).toBeUndefined()
    expect(recordDamage(`${header}\n{"kind":"serv`)).toBe('line 2 is not JSON, it was cut short')
    expect(recordDamage('[1]\n')).toBe('line 1 is not a JSON object')
    expect(recordDamage('{"kind":"service","service":"web"}\n')).toBe('it has no header line')
    // Another version's record is not ours to trust, but not damaged either.
    expect(recordDamage('{"kind":"deploy","schema":2}\n')).toBeUndefined()
  })

  it('parseInspection reports a damaged generation, a missing one next to a record, and a damaged record', () => {
    const output = [
      `${mark} section compose`,
      'v2',
      `${mark} section generation`,
      '0',
      'damaged too-long',
      `${mark} section config`,
      '{}',
      `${mark} section record`,
      '{"kind":"deploy","schema":1}',
      '{"kind":',
      `${mark} section end`
    ].join('\n')
    expect(parseInspection(output, mark).stateDamage).toEqual([
      '.gitops-lite/generation is damaged (too long)',
      '.gitops-lite/state (the deploy record) is damaged (line 2 is not JSON, it was cut short)'
    ])
    const missing = output.replace('damaged too-long', 'missing').replace('{"kind":\n', '')
    expect(parseInspection(missing, mark).stateDamage).toEqual([
      '.gitops-lite/generation is missing though a deploy is recorded'
    ])
  })
})
