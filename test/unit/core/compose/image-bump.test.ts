import { parse } from 'yaml'
import { planImageBump, type BumpPlan, type BumpTarget } from '@gitops-lite/core'
import { refusal } from '../../../helpers/refusal'

const digest = `sha256:${'d'.repeat(64)}`
const oldDigest = `sha256:${'0'.repeat(64)}`

function bump(
  text: string,
  targets: BumpTarget | BumpTarget[],
  env?: string,
  extraFiles: { path: string; text: string }[] = []
): BumpPlan {
  return planImageBump({
    files: [{ path: 'compose.yaml', text }, ...extraFiles],
    envFile: { path: '.env', text: env },
    targets: Array.isArray(targets) ? targets : [targets]
  })
}

/** The compose file's new text; fails when the plan did not change it. */
function bumped(text: string, targets: BumpTarget | BumpTarget[], env?: string): string {
  const file = bump(text, targets, env).files.find((f) => f.path === 'compose.yaml')
  if (!file) throw new Error('compose.yaml was not changed')
  return file.after
}

describe('byte-minimal edits', () => {
  it.each([
    [
      'a plain value',
      'services:\n  api:\n    image: ghcr.io/acme/api:v1\n',
      'services:\n  api:\n    image: ghcr.io/acme/api:v2\n'
    ],
    [
      'single quotes',
      "services:\n  api:\n    image: 'ghcr.io/acme/api:v1'\n",
      "services:\n  api:\n    image: 'ghcr.io/acme/api:v2'\n"
    ],
    [
      'double quotes',
      'services:\n  api:\n    image: "ghcr.io/acme/api:v1"\n',
      'services:\n  api:\n    image: "ghcr.io/acme/api:v2"\n'
    ],
    [
      'a comment on the line',
      'services:\n  api:\n    image: ghcr.io/acme/api:v1   # pinned\n',
      'services:\n  api:\n    image: ghcr.io/acme/api:v2   # pinned\n'
    ],
    [
      'CRLF line endings',
      'services:\r\n  api:\r\n    image: ghcr.io/acme/api:v1\r\n    ports: ["80:80"]\r\n',
      'services:\r\n  api:\r\n    image: ghcr.io/acme/api:v2\r\n    ports: ["80:80"]\r\n'
    ],
    [
      'no final newline',
      'services:\n  api:\n    image: ghcr.io/acme/api:v1',
      'services:\n  api:\n    image: ghcr.io/acme/api:v2'
    ],
    [
      'a flow map',
      'services: {api: {image: ghcr.io/acme/api:v1, ports: ["80:80"]}, db: {image: postgres:16}}\n',
      'services: {api: {image: ghcr.io/acme/api:v2, ports: ["80:80"]}, db: {image: postgres:16}}\n'
    ],
    [
      'tabs, blank lines and odd indentation',
      'version: "3"\n\n\nservices:\n\n      api:   \n            image:    ghcr.io/acme/api:v1\t# x\n',
      'version: "3"\n\n\nservices:\n\n      api:   \n            image:    ghcr.io/acme/api:v2\t# x\n'
    ],
    ['an untagged image', 'services:\n  api:\n    image: acme/api\n', 'services:\n  api:\n    image: acme/api:v2\n'],
    [
      'a registry with a port',
      'services:\n  api:\n    image: localhost:5000/api:v1\n',
      'services:\n  api:\n    image: localhost:5000/api:v2\n'
    ],
    [
      'an old digest, dropped with the old tag',
      `services:\n  api:\n    image: acme/api:v1@${oldDigest}\n`,
      'services:\n  api:\n    image: acme/api:v2\n'
    ]
  ])('keeps everything but the tag with %s', (_, before, after) => {
    expect(bumped(before, { service: 'api', tag: 'v2' })).toBe(after)
  })

  it('writes a digest after the tag', () => {
    expect(
      bumped(`services:\n  api:\n    image: acme/api:v1@${oldDigest} # d\n`, { service: 'api', tag: 'v2', digest })
    ).toBe(`services:\n  api:\n    image: acme/api:v2@${digest} # d\n`)
    expect(bumped(`services:\n  api:\n    image: acme/api@${oldDigest}\n`, { service: 'api', tag: 'v2', digest })).toBe(
      `services:\n  api:\n    image: acme/api:v2@${digest}\n`
    )
  })

  it('leaves the other services alone, including one with the same image', () => {
    const text = 'services:\n  api:\n    image: acme/api:v1\n  worker:\n    image: acme/api:v1\n'
    expect(bumped(text, { service: 'api', tag: 'v2' })).toBe(
      'services:\n  api:\n    image: acme/api:v2\n  worker:\n    image: acme/api:v1\n'
    )
  })

  it('is idempotent: already at the target changes nothing', () => {
    const plan = bump('services:\n  api:\n    image: acme/api:v2\n', { service: 'api', tag: 'v2' })
    expect(plan.files).toEqual([])
    expect(plan.updates).toEqual([
      expect.objectContaining({ service: 'api', changed: false, previous: 'acme/api:v2', image: 'acme/api:v2' })
    ])
  })

  it('reports previous and new images, file and line', () => {
    const plan = bump('# infra\nservices:\n  api:\n    image: acme/api:v1\n', { service: 'api', tag: 'v2', digest })
    expect(plan.updates).toEqual([
      {
        service: 'api',
        file: 'compose.yaml',
        line: 4,
        editedIn: 'image',
        previous: 'acme/api:v1',
        image: `acme/api:v2@${digest}`,
        reference: { path: 'acme/api', tag: 'v2', digest },
        unset: [],
        changed: true,
        variable: undefined
      }
    ])
  })

  it('refuses an image written as a block scalar', () => {
    const error = refusal(() =>
      bump('services:\n  api:\n    image: >-\n      acme/api:v1\n', { service: 'api', tag: 'v2' })
    )
    expect(error.message).toMatch(/cannot be rewritten in place/)
    expect(error.location).toEqual({ file: 'compose.yaml', line: 3 })
  })

  it('refuses invalid YAML, pointing at the line', () => {
    const error = refusal(() =>
      bump('services:\n  api:\n    image: [acme/api:v1\n  db: x\n', { service: 'api', tag: 'v2' })
    )
    expect(error.message).toMatch(/compose.yaml is not valid YAML/)
    expect(error.location?.file).toBe('compose.yaml')
    expect(error.location?.line).toBeGreaterThan(0)
  })

  it('refuses an image that is not a valid reference', () => {
    const error = refusal(() => bump('services:\n  api:\n    image: Acme/API:v1\n', { service: 'api', tag: 'v2' }))
    expect(error.message).toMatch(/not a valid image reference: "Acme\/API:v1"/)
    expect(error.location).toEqual({ file: 'compose.yaml', line: 3 })
  })
})

describe('services', () => {
  const text =
    'services:\n  api:\n    image: acme/api:v1\n  web:\n    build: ./web\n  base:\n    extends: { file: common.yaml, service: base }\n'

  it('refuses an unknown service, listing the services', () => {
    const error = refusal(() => bump(text, { service: 'nope', tag: 'v2' }))
    expect(error.message).toBe("Service 'nope' is not defined in compose.yaml; the services are: api, web, base")
    expect(error.location).toEqual({ file: 'compose.yaml', line: 1 })
  })

  it('refuses a build-only service, naming it and the services with an image', () => {
    const error = refusal(() => bump(text, { service: 'web', tag: 'v2' }))
    expect(error.message).toBe(
      "Service 'web' has no image to update (it is built from source with 'build:'); the services with an image are: api"
    )
    expect(error.location).toEqual({ file: 'compose.yaml', line: 4 })
    expect(error.fix).toMatch(/own 'image:'/)
  })

  it("refuses a service whose image would come from 'extends:'", () => {
    expect(refusal(() => bump(text, { service: 'base', tag: 'v2' })).message).toMatch(/extends/)
  })

  it('updates every service that runs an image, comparing canonical repositories', () => {
    const plan = bump(
      'services:\n  a:\n    image: nginx:1\n  b:\n    image: docker.io/library/nginx\n  c:\n    image: acme/nginx:1\n',
      { image: 'index.docker.io/library/nginx', tag: '1.27' }
    )
    expect(plan.updates.map((u) => [u.service, u.image])).toEqual([
      ['a', 'nginx:1.27'],
      ['b', 'docker.io/library/nginx:1.27']
    ])
  })

  it('refuses an image no service runs, listing the images', () => {
    const error = refusal(() => bump('services:\n  a:\n    image: nginx:1\n', { image: 'ghcr.io/acme/api', tag: 'v2' }))
    expect(error.message).toBe('No service runs the image ghcr.io/acme/api; the images are: a=nginx:1')
  })

  it('matches by image past services whose image cannot be read, naming them only when nothing matches', () => {
    const text =
      'services:\n  api:\n    image: ghcr.io/acme/api:v1\n  other:\n    image: acme/other:${OTHER_TAG}\n  odd:\n    image: Acme/Odd:v1\n'
    expect(bump(text, { image: 'ghcr.io/acme/api', tag: 'v2' }).updates.map((u) => [u.service, u.image])).toEqual([
      ['api', 'ghcr.io/acme/api:v2']
    ])
    const error = refusal(() => bump(text, { image: 'ghcr.io/acme/web', tag: 'v2' }))
    expect(error.message).toBe(
      'No service runs the image ghcr.io/acme/web; the images are: api=ghcr.io/acme/api:v1; not checked, as their image cannot be read: other=acme/other:${OTHER_TAG}, odd=Acme/Odd:v1'
    )
    expect(error.fix).toMatch(/naming a service whose image cannot be read says why/)
  })

  it('still refuses, matching by image, a service that runs the image but cannot be read', () => {
    const text = 'services:\n  api:\n    image: ghcr.io/acme/api:v1\n  api2:\n    image: ghcr.io/acme/api:${API2_TAG}\n'
    expect(refusal(() => bump(text, { image: 'ghcr.io/acme/api', tag: 'v2' })).message).toBe(
      "The image of service 'api2' takes its tag from ${API2_TAG}, which .env does not define"
    )
  })

  it('refuses a named service that runs a different repository than the one given', () => {
    const error = refusal(() =>
      bump('services:\n  api:\n    image: ghcr.io/acme/other:v1\n', {
        service: 'api',
        image: 'ghcr.io/acme/api',
        tag: 'v2'
      })
    )
    expect(error.message).toBe("Service 'api' runs ghcr.io/acme/other, not ghcr.io/acme/api")
    expect(error.location).toEqual({ file: 'compose.yaml', line: 3 })
  })

  it('refuses two different tags for one service', () => {
    const error = refusal(() =>
      bump('services:\n  api:\n    image: acme/api:v1\n', [
        { service: 'api', tag: 'v2' },
        { image: 'acme/api', tag: 'v3' }
      ])
    )
    expect(error.message).toMatch(/two different images/)
  })

  it('edits the file that sets the image last, as compose merges files', () => {
    const plan = bump('services:\n  api:\n    image: acme/api:v1\n', { service: 'api', tag: 'v3' }, undefined, [
      { path: 'compose.prod.yaml', text: 'services:\n  api:\n    image: acme/api:v2\n    ports: ["80:80"]\n' }
    ])
    expect(plan.files.map((f) => [f.path, f.after])).toEqual([
      ['compose.prod.yaml', 'services:\n  api:\n    image: acme/api:v3\n    ports: ["80:80"]\n']
    ])
    const inherited = bump('services:\n  api:\n    image: acme/api:v1\n', { service: 'api', tag: 'v3' }, undefined, [
      { path: 'compose.prod.yaml', text: 'services:\n  api:\n    ports: ["80:80"]\n' }
    ])
    expect(inherited.files.map((f) => f.path)).toEqual(['compose.yaml'])
  })
})

describe('anchors, aliases, merge keys and extensions', () => {
  const shared = [
    'x-app: &app',
    '  image: &img acme/app:v1 # shared',
    '  restart: always',
    'services:',
    '  api:',
    '    <<: *app',
    '  worker:',
    '    <<: *app',
    '    command: work',
    '  cron:',
    '    image: *img',
    '  db:',
    '    image: postgres:16',
    ''
  ].join('\n')

  it('refuses to change a node other services share, naming them and the anchor', () => {
    const error = refusal(() => bump(shared, { service: 'api', tag: 'v2' }))
    expect(error.message).toBe(
      "The image of service 'api' is shared through the anchor &img with service 'worker', service 'cron'"
    )
    expect(error.fix).toMatch(/service: api, worker, cron/)
    expect(error.location).toEqual({ file: 'compose.yaml', line: 2 })
  })

  it('edits the shared node once when every sharing service is named', () => {
    const plan = bump(
      shared,
      ['api', 'worker', 'cron'].map((service) => ({ service, tag: 'v2' }))
    )
    expect(plan.files[0].after).toBe(shared.replace('acme/app:v1 # shared', 'acme/app:v2 # shared'))
    expect(plan.updates.map((u) => [u.service, u.image, u.line])).toEqual([
      ['api', 'acme/app:v2', 2],
      ['worker', 'acme/app:v2', 2],
      ['cron', 'acme/app:v2', 2]
    ])
  })

  it('is idempotent for a shared node already at the target, even when one sharer is named', () => {
    const plan = bump(shared, { service: 'api', tag: 'v1' })
    expect(plan.files).toEqual([])
    expect(plan.updates).toEqual([expect.objectContaining({ service: 'api', changed: false, image: 'acme/app:v1' })])
    // A named sharer left at its tag still blocks moving the node under it.
    expect(
      refusal(() =>
        bump(shared, [
          { service: 'api', tag: 'v1' },
          { service: 'worker', tag: 'v2' },
          { service: 'cron', tag: 'v2' }
        ])
      ).message
    ).toMatch(/shared through the anchor &img with service 'worker'/)
  })

  it('refuses different tags for services that share one node', () => {
    const error = refusal(() =>
      bump(shared, [
        { service: 'api', tag: 'v2' },
        { service: 'worker', tag: 'v3' },
        { service: 'cron', tag: 'v2' }
      ])
    )
    expect(error.message).toMatch(/shared through the anchor &img with service 'worker'/)
  })

  it('edits an x- extension used by the named service only', () => {
    const text =
      'x-api: &api\n  image: acme/api:v1\nservices:\n  api:\n    <<: *api\n    ports: ["80:80"]\n  db:\n    image: postgres:16\n'
    expect(bumped(text, { service: 'api', tag: 'v2' })).toBe(text.replace('acme/api:v1', 'acme/api:v2'))
  })

  it('lets a service override a merged image, and edits its own', () => {
    const text =
      'x-base: &base\n  image: acme/base:v1\nservices:\n  a:\n    <<: *base\n  b:\n    <<: *base\n    image: acme/b:v1\n'
    expect(bumped(text, { service: 'b', tag: 'v2' })).toBe(text.replace('acme/b:v1', 'acme/b:v2'))
    expect(
      refusal(() =>
        bump(text.replace('  b:\n    <<: *base\n    image: acme/b:v1\n', '  b:\n    <<: *base\n'), {
          service: 'a',
          tag: 'v2'
        })
      ).message
    ).toMatch(/&base with service 'b'/)
  })

  it('refuses when the image node is also read outside an image, naming where', () => {
    const text = 'services:\n  api:\n    image: &img acme/api:v1\n    labels:\n      version: *img\n'
    expect(refusal(() => bump(text, { service: 'api', tag: 'v2' })).message).toBe(
      "The image of service 'api' is shared through the anchor &img with services.api.labels.version"
    )
  })

  it('keeps an anchor on the edited node', () => {
    const text = 'services:\n  api:\n    image: &img "acme/api:v1"\n'
    expect(bumped(text, { service: 'api', tag: 'v2' })).toBe('services:\n  api:\n    image: &img "acme/api:v2"\n')
  })
})

describe("services that inherit an image through 'extends:'", () => {
  const text = [
    'services:',
    '  api:',
    '    image: acme/api:v1',
    '  worker:',
    '    extends: { service: api }',
    '    command: work',
    '  cron:',
    '    extends: worker',
    '  admin:',
    '    extends: { file: compose.yaml, service: api }',
    '    image: acme/admin:v1',
    '  db:',
    '    image: postgres:16',
    ''
  ].join('\n')

  it('refuses to change an image that services extending it run, naming them', () => {
    const error = refusal(() => bump(text, { service: 'api', tag: 'v2' }))
    expect(error.message).toBe(
      "The image of service 'api' is shared through 'extends:' with service 'worker', service 'cron'"
    )
    expect(error.fix).toBe(
      "Name every service that shares it (service: api, worker, cron) to update them together, or give 'worker', 'cron' its own 'image:' line."
    )
    expect(error.location).toEqual({ file: 'compose.yaml', line: 3 })
    expect(refusal(() => bump(text, { service: 'worker', tag: 'v2' })).message).toBe(
      "The image of service 'worker' is shared through 'extends:' with service 'api', service 'cron'"
    )
  })

  it('edits the image once when every service sharing it is named, or matched by image', () => {
    const expected = text.replace('acme/api:v1', 'acme/api:v2')
    const named = bump(
      text,
      ['api', 'worker', 'cron'].map((service) => ({ service, tag: 'v2' }))
    )
    expect(named.files.map((f) => f.after)).toEqual([expected])
    expect(named.updates.map((u) => [u.service, u.image, u.line])).toEqual([
      ['api', 'acme/api:v2', 3],
      ['worker', 'acme/api:v2', 3],
      ['cron', 'acme/api:v2', 3]
    ])
    expect(bump(text, { image: 'acme/api', tag: 'v2' }).updates.map((u) => u.service)).toEqual([
      'api',
      'worker',
      'cron'
    ])
  })

  it('shares a variable in the env file with the services extending the image', () => {
    const env = text.replace('acme/api:v1', 'acme/api:${API_TAG}')
    expect(refusal(() => bump(env, { service: 'api', tag: 'v2' }, 'API_TAG=v1\n')).message).toMatch(
      /through 'extends:' with service 'worker'/
    )
    expect(
      bump(
        env,
        ['api', 'worker', 'cron'].map((service) => ({ service, tag: 'v2' })),
        'API_TAG=v1\n'
      ).files.map((f) => f.after)
    ).toEqual(['API_TAG=v2\n'])
  })

  it('leaves alone a service that extends with an image of its own, or extends another file', () => {
    const own = text
      .replace(
        '  worker:\n    extends: { service: api }\n',
        '  worker:\n    extends: { service: api }\n    image: acme/worker:v1\n'
      )
      .replace('    extends: worker\n', '    extends: { file: other.yaml, service: api }\n')
    expect(bumped(own, { service: 'api', tag: 'v2' })).toBe(own.replace('acme/api:v1', 'acme/api:v2'))
  })

  it('is idempotent when the shared image is already at the target', () => {
    expect(bump(text, { service: 'api', tag: 'v1' }).files).toEqual([])
  })
})

describe('interpolation', () => {
  it('edits the default of repo:${TAG:-1.0}', () => {
    const plan = bump('services:\n  api:\n    image: acme/api:${API_TAG:-1.0} # default\n', {
      service: 'api',
      tag: 'v2'
    })
    expect(plan.files[0].after).toBe('services:\n  api:\n    image: acme/api:${API_TAG:-v2} # default\n')
    expect(plan.updates[0]).toEqual(
      expect.objectContaining({
        editedIn: 'default',
        variable: 'API_TAG',
        previous: 'acme/api:1.0',
        image: 'acme/api:v2'
      })
    )
  })

  it('edits the default of ${IMAGE:-repo:tag}', () => {
    expect(
      bumped('services:\n  api:\n    image: "${API_IMAGE-acme/api:v1}"\n', { service: 'api', tag: 'v2', digest })
    ).toBe(`services:\n  api:\n    image: "\${API_IMAGE-acme/api:v2@${digest}}"\n`)
  })

  it('updates repo:${TAG} in the env file, byte for byte', () => {
    const env = '# tags\r\nDB_TAG=16\r\nexport API_TAG = "v1"   # bumped by CI\r\nOTHER=1'
    const plan = bump(
      'services:\n  api:\n    image: acme/api:${API_TAG}\n  db:\n    image: postgres:${DB_TAG}\n',
      { service: 'api', tag: 'v2' },
      env
    )
    expect(plan.files).toEqual([{ path: '.env', before: env, after: env.replace('"v1"', '"v2"') }])
    expect(plan.updates[0]).toEqual(
      expect.objectContaining({
        file: '.env',
        line: 3,
        editedIn: 'env-file',
        variable: 'API_TAG',
        previous: 'acme/api:v1',
        image: 'acme/api:v2'
      })
    )
  })

  it('prefers the env file over a default, since that is the value compose uses', () => {
    const plan = bump(
      'services:\n  api:\n    image: acme/api:${API_TAG:-v0}\n',
      { service: 'api', tag: 'v2' },
      "API_TAG='v1'\n"
    )
    expect(plan.files.map((f) => [f.path, f.after])).toEqual([['.env', "API_TAG='v2'\n"]])
  })

  it('edits the default when the env file sets the variable empty, since compose then uses the default', () => {
    const plan = bump(
      'services:\n  api:\n    image: acme/api:${API_TAG:-1.0}\n',
      { service: 'api', tag: 'v2' },
      'API_TAG=\n'
    )
    expect(plan.files.map((f) => [f.path, f.after])).toEqual([
      ['compose.yaml', 'services:\n  api:\n    image: acme/api:${API_TAG:-v2}\n']
    ])
    expect(plan.updates[0]).toEqual(
      expect.objectContaining({ editedIn: 'default', previous: 'acme/api:1.0', image: 'acme/api:v2' })
    )
  })

  it('updates ${IMAGE} in the env file, keeping its repository', () => {
    const plan = bump(
      'services:\n  api:\n    image: $API_IMAGE\n',
      { service: 'api', tag: 'v2' },
      'API_IMAGE=ghcr.io/acme/api:v1 # x\n'
    )
    expect(plan.files[0].after).toBe('API_IMAGE=ghcr.io/acme/api:v2 # x\n')
  })

  it('refuses a variable the env file does not define, naming it', () => {
    const error = refusal(() =>
      bump('services:\n  api:\n    image: acme/api:${API_TAG}\n', { service: 'api', tag: 'v2' }, 'OTHER=1\n')
    )
    expect(error.message).toBe("The image of service 'api' takes its tag from ${API_TAG}, which .env does not define")
    expect(error.location).toEqual({ file: 'compose.yaml', line: 3 })
    expect(
      refusal(() => bump('services:\n  api:\n    image: ${API_IMAGE:?set it}\n', { service: 'api', tag: 'v2' })).message
    ).toMatch(/\$\{API_IMAGE\}/)
  })

  it('refuses a variable another service also reads', () => {
    const text = 'services:\n  api:\n    image: acme/api:${TAG}\n  worker:\n    image: acme/worker:${TAG}\n'
    const error = refusal(() => bump(text, { service: 'api', tag: 'v2' }, 'TAG=v1\n'))
    expect(error.message).toBe("The image of service 'api' is shared through TAG in .env with service 'worker'")
    expect(error.fix).toMatch(/API_TAG/)
    expect(
      bump(
        text,
        [
          { service: 'api', tag: 'v2' },
          { service: 'worker', tag: 'v2' }
        ],
        'TAG=v1\n'
      ).files[0].after
    ).toBe('TAG=v2\n')
  })

  it('is idempotent for a shared variable already at the target, even when one sharer is named', () => {
    const text = 'services:\n  api:\n    image: acme/api:${TAG}\n  worker:\n    image: acme/worker:${TAG}\n'
    const plan = bump(text, { service: 'api', tag: 'v1' }, 'TAG=v1\n')
    expect(plan.files).toEqual([])
    expect(plan.updates).toEqual([expect.objectContaining({ service: 'api', editedIn: 'env-file', changed: false })])
  })

  it('refuses a variable read elsewhere in the file', () => {
    const text = 'services:\n  api:\n    image: acme/api:${TAG}\n    environment:\n      VERSION: ${TAG}\n'
    expect(refusal(() => bump(text, { service: 'api', tag: 'v2' }, 'TAG=v1\n')).message).toMatch(
      /with services\.api\.environment\.VERSION in compose\.yaml/
    )
  })

  it('edits a literal tag after a variable in the repository', () => {
    const text = 'services:\n  api:\n    image: ${REGISTRY}/acme/api:v1\n'
    const plan = bump(text, { service: 'api', tag: 'v2' })
    expect(plan.files[0].after).toBe('services:\n  api:\n    image: ${REGISTRY}/acme/api:v2\n')
    expect(plan.updates[0]).toEqual(
      expect.objectContaining({
        previous: '${REGISTRY}/acme/api:v1',
        image: '${REGISTRY}/acme/api:v2',
        reference: undefined,
        unset: ['REGISTRY']
      })
    )
  })

  it('refuses a tag split between text and a variable', () => {
    expect(
      refusal(() =>
        bump('services:\n  api:\n    image: acme/api:v1-${SUFFIX:-alpine}\n', { service: 'api', tag: 'v2' })
      ).message
    ).toMatch(/is split between/)
  })

  it('refuses an env value that cannot be rewritten in place', () => {
    const text = 'services:\n  api:\n    image: acme/api:${TAG}\n'
    expect(refusal(() => bump(text, { service: 'api', tag: 'v2' }, 'TAG=v1\nTAG=v0\n')).message).toBe(
      'TAG is defined 2 times in .env (lines 1, 2)'
    )
    expect(refusal(() => bump(text, { service: 'api', tag: 'v2' }, 'BASE=v1\nTAG=${BASE}\n')).location).toEqual({
      file: '.env',
      line: 2
    })
  })

  it('keeps $$ escapes and other variables in the value', () => {
    const text = 'services:\n  api:\n    image: acme/api:v1\n    command: echo $$HOME ${X}\n'
    expect(bumped(text, { service: 'api', tag: 'v2' })).toBe(text.replace('api:v1', 'api:v2'))
  })
})

describe('verification', () => {
  it('parses back to the original data with only the image changed', () => {
    const text =
      'services:\n  api:\n    image: acme/api:v1\n    environment: {A: "1", B: no}\n    ports: [80, "443:443"]\n'
    const after = bumped(text, { service: 'api', tag: 'v2' })
    const expected = parse(text)
    expected.services.api.image = 'acme/api:v2'
    expect(parse(after)).toEqual(expected)
  })
})

describe('large stacks', () => {
  it('bumps one of 150 services that all share one anchored block', () => {
    const services = Array.from(
      { length: 150 },
      (_, i) => `  svc-${i}:\n    image: ghcr.io/acme/svc-${i}:v1\n    logging: *logging\n`
    )
    const text = `x-logging: &logging\n  driver: json-file\nservices:\n${services.join('')}`
    const after = bumped(text, { service: 'svc-75', tag: 'v2' })
    expect(after).toBe(text.replace('ghcr.io/acme/svc-75:v1', 'ghcr.io/acme/svc-75:v2'))
  })

  it('still refuses exponential alias expansion', () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x, x]']
    for (let i = 1; i < 8; i++)
      levels.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(', ')}]`
      )
    const text = `${levels.join('\n')}\nservices:\n  api:\n    image: ghcr.io/acme/api:v1\n`
    expect(() => bump(text, { service: 'api', tag: 'v2' })).toThrow(/resource exhaustion/)
  })
})
