import { UserError, type Outcome } from '@gitops-lite/core'
import { deployOutputs } from '../../../../actions/ssh-surgical-deploy/src/outcome'

function service(name: string, change: 'changed' | 'unchanged' | 'drifted' | 'removed', deploy: boolean) {
  return {
    service: name,
    change,
    deploy,
    reasons: [],
    containers: [],
    inputs: {},
    oldImage: `${name}:v1`,
    newImage: `${name}:v2`
  }
}

const startFirst = { ...service('api', 'changed', true), strategy: 'start-first' as const }

const plan = {
  project: 'shop',
  compose: 'v2' as const,
  directory: '/srv/shop',
  generation: '1',
  full: false,
  services: [
    startFirst,
    service('db', 'unchanged', false),
    service('cache', 'drifted', true),
    service('old', 'removed', false)
  ],
  files: [{ path: 'compose.yaml', change: 'changed' as const, digest: 'x' }],
  deploy: ['api', 'cache'],
  recreate: ['cache'],
  startFirst: [],
  removed: [service('old', 'removed', false)],
  newServices: [],
  previous: ['api', 'cache'],
  needsApply: true
}

describe('deployOutputs', () => {
  it('names what was deployed, drifted and removed across hosts, and each host in the plan', () => {
    const outcomes: Outcome[] = [
      { host: 'vm1', result: 'deployed', plan, health: { api: 'healthy' }, durationMs: 10 },
      {
        host: 'vm2',
        result: 'rolled-back',
        plan,
        health: {},
        error: new UserError('api did not become healthy'),
        durationMs: 10
      },
      { host: 'vm3', result: 'skipped', reason: 'vm1 failed', health: {}, durationMs: 0 }
    ]
    const outputs = deployOutputs(outcomes, [])
    expect(outputs.deployed).toBe('["api","cache"]')
    expect(outputs.drifted).toBe('["cache"]')
    expect(outputs.removed).toBe('["old"]')
    expect(outputs['rolled-back']).toBe('true')
    expect(outputs['rolled-back-images']).toBe('[]')
    const planned = JSON.parse(outputs.plan)
    expect(Object.keys(planned)).toEqual(['vm1', 'vm2', 'vm3'])
    expect(planned.vm1).toMatchObject({
      result: 'deployed',
      project: 'shop',
      mode: 'surgical',
      files: [{ path: 'compose.yaml', change: 'changed' }]
    })
    expect(planned.vm1.services[0]).toEqual({
      service: 'api',
      change: 'changed',
      deploy: true,
      strategy: 'start-first',
      reasons: [],
      oldImage: 'api:v1',
      newImage: 'api:v2'
    })
    expect(planned.vm2.error).toBe('api did not become healthy')
    expect(planned.vm3).toEqual({ result: 'skipped', reason: 'vm1 failed' })
  })

  it('does not count a removal whose container could not be removed', () => {
    const outputs = deployOutputs(
      [{ host: 'vm1', result: 'deployed', plan, health: {}, removeFailed: ['old'], durationMs: 10 }],
      []
    )
    expect(outputs.removed).toBe('[]')
    expect(outputs['rolled-back']).toBe('false')
  })
})
