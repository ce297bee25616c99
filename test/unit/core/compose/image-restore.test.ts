import { planRestore, serviceGroups, type RolledBackImage } from '@gitops-lite/core'

const d = (c: string) => `sha256:${c.repeat(64)}`

const compose = (api: string, worker: string, extra = '') =>
  [
    'services:',
    '  api:',
    `    image: ${api}`,
    extra,
    '  worker:',
    `    image: ${worker}`,
    '    # the worker reads the queue',
    ''
  ]
    .filter((l) => l !== '')
    .join('\n')

function rolledBack(
  service: string,
  failedImage: string,
  restoredImage: string,
  failed: boolean,
  host = 'deploy@vm1:22'
): RolledBackImage {
  return {
    host,
    file: 'compose.yaml',
    service,
    failedImage,
    restoredImage,
    failed,
    failedCommit: 'b'.repeat(40),
    restoredCommit: 'a'.repeat(40),
    run: 'https://github.com/acme/infra/actions/runs/7/attempts/1'
  }
}

const apiV2 = `ghcr.io/acme/api:v2@${d('2')}`
const apiV3 = `ghcr.io/acme/api:v3@${d('3')}`
const workerV1 = 'ghcr.io/acme/worker:v1'
const workerV2 = 'ghcr.io/acme/worker:v2'

describe('planRestore', () => {
  it('writes back only the service that failed; the healthy one keeps the release image; comments stay', () => {
    const text = compose(apiV3, workerV2)
    const restore = planRestore({
      files: [{ path: 'compose.yaml', text }],
      images: [rolledBack('api', apiV3, apiV2, true), rolledBack('worker', workerV2, workerV1, false)]
    })
    expect(restore.plan.files).toEqual([{ path: 'compose.yaml', before: text, after: compose(apiV2, workerV2) }])
    expect(restore.restored.map((r) => r.service)).toEqual(['api'])
    expect(restore.kept).toEqual([
      { service: 'worker', reason: "it did not fail: it keeps the release's image (it is deployed again)" }
    ])
  })

  it('services of one x-gitops-lite group go back together', () => {
    const group = '    x-gitops-lite: { group: web }'
    const text = compose(apiV3, workerV2, group).replace('    # the worker', `${group}\n    # the worker`)
    expect(serviceGroups([{ path: 'compose.yaml', text }])).toEqual(
      new Map([
        ['api', 'web'],
        ['worker', 'web']
      ])
    )
    const restore = planRestore({
      files: [{ path: 'compose.yaml', text }],
      images: [rolledBack('api', apiV3, apiV2, true), rolledBack('worker', workerV2, workerV1, false)]
    })
    expect(restore.restored.map((r) => r.service)).toEqual(['api', 'worker'])
    expect(restore.plan.files[0].after).toBe(text.replace(apiV3, apiV2).replace(workerV2, workerV1))
  })

  it('compare and swap: a service bumped again since the failed release is left as it is; one already back is no change', () => {
    const apiV4 = `ghcr.io/acme/api:v4@${d('4')}`
    const bumped = planRestore({
      files: [{ path: 'compose.yaml', text: compose(apiV4, workerV2) }],
      images: [rolledBack('api', apiV3, apiV2, true)]
    })
    expect(bumped.plan.files).toEqual([])
    expect(bumped.kept).toEqual([
      { service: 'api', reason: `it changed since the failed release: the files now say ${apiV4}` }
    ])
    const back = planRestore({
      files: [{ path: 'compose.yaml', text: compose(apiV2, workerV2) }],
      images: [rolledBack('api', apiV3, apiV2, true)]
    })
    expect(back.plan.files).toEqual([])
    expect(back.plan.updates).toEqual([expect.objectContaining({ service: 'api', changed: false })])
  })

  it('a service gone from the files, hosts that disagree, or a restored image without a tag are kept, with the reason', () => {
    const text = compose(apiV3, workerV2)
    const restore = planRestore({
      files: [{ path: 'compose.yaml', text }],
      images: [
        rolledBack('api', apiV3, apiV2, true),
        rolledBack('api', apiV3, 'ghcr.io/acme/api:v1', true, 'deploy@vm2:22'),
        rolledBack('worker', workerV2, `ghcr.io/acme/worker@${d('1')}`, true),
        rolledBack('gone', 'x/gone:v2', 'x/gone:v1', true)
      ]
    })
    expect(restore.plan.files).toEqual([])
    expect(restore.kept.map((k) => [k.service, k.reason])).toEqual([
      [
        'api',
        `the hosts rolled it back to different images (${apiV2} on deploy@vm1:22, ghcr.io/acme/api:v1 on deploy@vm2:22)`
      ],
      ['worker', `the restored image ghcr.io/acme/worker@${d('1')} has no tag to write`],
      ['gone', expect.stringContaining("Service 'gone' is not defined in compose.yaml")]
    ])
  })

  it('refuses a group that is not a name', () => {
    const text = compose(apiV3, workerV2, '    x-gitops-lite: { group: [a] }')
    expect(() => serviceGroups([{ path: 'compose.yaml', text }])).toThrow(
      "'x-gitops-lite.group' of service 'api' in compose.yaml is not a name"
    )
  })
})
