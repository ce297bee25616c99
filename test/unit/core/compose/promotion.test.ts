import { planImageBump, planPromotion } from '@gitops-lite/core'
import { refusal } from '../../../helpers/refusal'

const digest = `sha256:${'d'.repeat(64)}`

const staging = [
  'services:',
  '  api:',
  `    image: ghcr.io/acme/api:v2@${digest}`,
  '  worker:',
  '    image: ghcr.io/acme/worker:${WORKER_TAG}',
  '  web:',
  '    build: ./web',
  '  queue:',
  '    image: redis:${REDIS_TAG:-7.4}',
  ''
].join('\n')

function promote(text: string, services: string[] = [], env?: string) {
  return planPromotion(
    { file: { path: 'staging/compose.yaml', text }, envFile: { path: 'staging/.env', text: env } },
    services
  )
}

describe('planPromotion', () => {
  it("copies each named service's repository, tag and digest exactly", () => {
    expect(promote(staging, ['api'])).toEqual({
      targets: [{ service: 'api', image: 'ghcr.io/acme/api', tag: 'v2', digest }],
      sources: [{ service: 'api', image: `ghcr.io/acme/api:v2@${digest}`, line: 3 }]
    })
  })

  it('takes every service with an image when none is named, variables resolved from the env file or their default', () => {
    expect(promote(staging, [], 'WORKER_TAG=v9\n').targets).toEqual([
      { service: 'api', image: 'ghcr.io/acme/api', tag: 'v2', digest },
      { service: 'worker', image: 'ghcr.io/acme/worker', tag: 'v9' },
      { service: 'queue', image: 'redis', tag: '7.4' }
    ])
  })

  it('refuses an image whose variable the env file does not define', () => {
    const error = refusal(() => promote(staging, ['worker']))
    expect(error.message).toBe(
      `The image of service 'worker' in staging/compose.yaml ("ghcr.io/acme/worker:\${WORKER_TAG}") uses WORKER_TAG, which staging/.env does not define, so the image it runs is not known here`
    )
    expect(error.location).toEqual({ file: 'staging/compose.yaml', line: 5 })
  })

  it('refuses services it cannot promote, naming the file to promote from', () => {
    expect(refusal(() => promote(staging, ['web'])).message).toBe(
      "Service 'web' has no image: line in staging/compose.yaml, so there is no image to promote"
    )
    expect(refusal(() => promote(staging, ['db'])).message).toBe(
      "Service 'db' is not defined in staging/compose.yaml, the file to promote from; its services are: api, worker, web, queue"
    )
    expect(refusal(() => promote('services:\n  api:\n    image: ghcr.io/acme/api\n')).message).toBe(
      `The image of service 'api' in staging/compose.yaml has no tag: "ghcr.io/acme/api"`
    )
    expect(refusal(() => promote('services:\n  web:\n    build: .\n')).message).toBe(
      'staging/compose.yaml has no service with an image to promote'
    )
  })

  it('gives targets the edit engine writes into the other file, dropping a digest staging does not have', () => {
    const production = `services:\n  api:\n    image: ghcr.io/acme/api:v1@sha256:${'0'.repeat(64)} # prod\n  worker:\n    image: ghcr.io/acme/worker:v1\n`
    const { targets } = promote(
      'services:\n  api:\n    image: ghcr.io/acme/api:v2\n  worker:\n    image: ghcr.io/acme/worker:v1\n'
    )
    const plan = planImageBump({ files: [{ path: 'production/compose.yaml', text: production }], targets })
    expect(plan.files[0].after).toBe(
      'services:\n  api:\n    image: ghcr.io/acme/api:v2 # prod\n  worker:\n    image: ghcr.io/acme/worker:v1\n'
    )
    expect(plan.updates.map((u) => [u.service, u.changed])).toEqual([
      ['api', true],
      ['worker', false]
    ])
  })
})
