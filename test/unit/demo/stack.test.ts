import {
  compareStacks,
  parseSwarmStack,
  swarmTarget,
  type InspectedService,
  type InspectedTask
} from '@gitops-lite/demo'

const stack = 'shop'

function service(id: string, name: string, version: number, replicas: number | null): InspectedService {
  return {
    ID: id,
    Version: { Index: version },
    UpdatedAt: `2026-12-02T15:00:0${version % 10}.000Z`,
    Spec: {
      Name: `${stack}_${name}`,
      Mode: replicas === null ? { Global: {} } : { Replicated: { Replicas: replicas } },
      TaskTemplate: { ContainerSpec: { Image: `registry/${name}:v1@sha256:${'a'.repeat(64)}` } }
    },
    UpdateStatus: { State: 'completed' }
  }
}

function task(id: string, serviceId: string, container: string, state = 'running', desired = 'running'): InspectedTask {
  return {
    ID: id,
    ServiceID: serviceId,
    DesiredState: desired,
    Status: { State: state, ContainerStatus: { ContainerID: container } }
  }
}

describe('parseSwarmStack', () => {
  const services = [service('s-worker', 'worker', 19, 1), service('s-api', 'api', 52, 2)]
  const tasks = [
    task('t-api-2', 's-api', 'c-api-2'),
    task('t-api-1', 's-api', 'c-api-1'),
    // An old task still stopping after a start-first update, and a new one still starting: not running ones.
    task('t-api-0', 's-api', 'c-api-0', 'running', 'shutdown'),
    task('t-api-3', 's-api', 'c-api-3', 'starting'),
    task('t-worker-1', 's-worker', 'c-worker-1')
  ]
  const containers = [
    { Id: 'c-api-1', State: { Health: { Status: 'healthy' } } },
    { Id: 'c-api-2', State: { Health: { Status: 'healthy' } } },
    { Id: 'c-worker-1', State: {} }
  ]

  it('gives each service its spec version, image and running tasks, keyed by the name in the file', () => {
    const snapshot = parseSwarmStack(stack, services, tasks, containers)
    expect(Object.keys(snapshot)).toEqual(['api', 'worker'])
    expect(snapshot.api).toEqual({
      service: 'api',
      id: '52:t-api-1,t-api-2',
      ref: 'spec v52',
      image: `registry/api:v1@sha256:${'a'.repeat(64)}`,
      status: '2/2 running',
      health: 'healthy',
      startedAt: '2026-12-02T15:00:02.000Z',
      version: 52,
      updatedAt: '2026-12-02T15:00:02.000Z',
      replicas: 2,
      updateState: 'completed',
      tasks: [
        { id: 't-api-1', container: 'c-api-1', health: 'healthy' },
        { id: 't-api-2', container: 'c-api-2', health: 'healthy' }
      ]
    })
    expect(snapshot.worker).toMatchObject({ status: '1/1 running', health: undefined, id: '19:t-worker-1' })
  })

  it('counts a global service by its running tasks, and a missing container as no health', () => {
    const snapshot = parseSwarmStack(stack, [service('s-agent', 'agent', 3, null)], [task('t1', 's-agent', 'gone')], [])
    expect(snapshot.agent).toMatchObject({ replicas: null, status: '1/1 running', health: undefined })
  })

  it('makes a service "updated" when its spec version or its tasks change, and only then', () => {
    const before = parseSwarmStack(stack, services, tasks, containers)
    const updated = parseSwarmStack(
      stack,
      [service('s-worker', 'worker', 19, 1), service('s-api', 'api', 60, 2)],
      [task('t-api-5', 's-api', 'c5'), task('t-api-6', 's-api', 'c6'), task('t-worker-1', 's-worker', 'c-worker-1')],
      containers
    )
    expect(compareStacks(before, updated).map((c) => [c.service, c.recreated])).toEqual([
      ['api', true],
      ['worker', false]
    ])
    // A task replaced by Swarm (a crash, a node gone) with no new spec is a change too.
    const rescheduled = parseSwarmStack(
      stack,
      services,
      [...tasks.slice(0, 4), task('t-worker-9', 's-worker', 'c9')],
      []
    )
    expect(compareStacks(before, rescheduled).find((c) => c.service === 'worker')?.recreated).toBe(true)
  })

  it('is described on a line with its tasks', () => {
    const snapshot = parseSwarmStack(stack, services, tasks, containers)
    expect(swarmTarget.describe(snapshot.api)).toBe(
      `2/2 running/healthy, tasks t-api-1 t-api-2  registry/api:v1@sha256:${'a'.repeat(12)}…`
    )
  })
})
