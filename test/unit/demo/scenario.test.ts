import {
  RELEASES,
  checkRelease,
  compareStacks,
  parseSwarmStack,
  releaseTable,
  type InspectedService,
  type ReleaseResult
} from '@gitops-lite/demo'

function service(name: string, version: number, tag: string): InspectedService {
  return {
    ID: `s-${name}`,
    Version: { Index: version },
    UpdatedAt: '2026-12-02T15:00:00.000Z',
    Spec: {
      Name: `stack_${name}`,
      Mode: { Replicated: { Replicas: 1 } },
      TaskTemplate: { ContainerSpec: { Image: `registry/${name}:${tag}` } }
    }
  }
}

function snapshot(api: [number, string, string], worker: [number, string]) {
  return parseSwarmStack(
    'stack',
    [service('api', api[0], api[2]), service('worker', worker[0], 'v1')],
    [
      { ID: api[1], ServiceID: 's-api', DesiredState: 'running', Status: { State: 'running' } },
      { ID: worker[1], ServiceID: 's-worker', DesiredState: 'running', Status: { State: 'running' } }
    ],
    []
  )
}

/** Release 2 on Swarm, as the sandbox would report it, with the worker snapshots given. */
function swarmRelease2(workerAfter: [number, string], failures = 0): ReleaseResult {
  const before = snapshot([10, 't-api-1', 'v1'], [12, 't-worker-1'])
  const after = snapshot([20, 't-api-2', 'v2'], workerAfter)
  return {
    spec: RELEASES[1],
    orchestrator: 'swarm',
    pushed: [],
    appCommit: 'a'.repeat(40),
    dispatch: {
      exitCode: 0,
      outputs: { conclusion: 'success' },
      summary: '',
      stdout: '',
      stderr: '',
      annotations: [],
      inputs: {}
    },
    git: { api: 'registry/api:v2', worker: 'registry/worker:v1' },
    before,
    after,
    changes: compareStacks(before, after),
    http: {
      api: { url: 'http://127.0.0.1:1/', status: 200, body: 'api v2\n' },
      worker: { url: 'http://127.0.0.1:2/', status: 200, body: 'worker v1\n' }
    },
    probe: { name: 'api', probes: 500, failures, longestOutageMs: 0, endedDown: false, bodies: { 'api v2': 500 } },
    outcome: 'deployed',
    durationMs: 14_400
  }
}

describe('checkRelease and the table on Swarm', () => {
  it('release 2: api updated, worker with the same spec version and tasks is as expected', () => {
    const result = swarmRelease2([12, 't-worker-1'])
    expect(checkRelease(result)).toEqual([])
    const [, , row] = releaseTable([result])
    expect(row).toContain('deployed; worker untouched (spec v12, same tasks)')
    expect(row).toContain('0 / 500')
  })

  it('release 2: a worker with a new spec version or new tasks was updated, which is a surprise', () => {
    expect(checkRelease(swarmRelease2([13, 't-worker-1']))).toEqual(['release 2: worker should not have been updated'])
    expect(checkRelease(swarmRelease2([12, 't-worker-2']))).toEqual(['release 2: worker should not have been updated'])
  })

  it('a failed request through the proxy during an update is a surprise on Swarm as on Compose', () => {
    expect(checkRelease(swarmRelease2([12, 't-worker-1'], 3))).toEqual([
      'release 2: 3 of 500 requests to api through the proxy failed'
    ])
  })
})
