// Several hosts: every host gets an outcome (and so outputs and a summary line), whatever
// happens to the others, and the step's error names each failed host with its own fix.
import { UserError, deployHosts, failureOf, type HostOutcome } from '@gitops-lite/core'

const ok = (host: string): HostOutcome => ({ host, result: 'deployed', health: {}, durationMs: 1 })
const failed = (host: string, fix: string): HostOutcome => ({ host, result: 'failed', health: {}, durationMs: 1, error: new UserError(`The deploy to ${host} failed`, { fix }) })

describe('deployHosts', () => {
  it('in parallel, a host whose deploy throws (a bug) is a failed host; the others keep their outcomes', async () => {
    const bug = new TypeError("Cannot read properties of undefined (reading 'deploy')")
    const outcomes = await deployHosts(['vm1', 'vm2', 'vm3'], (h) => h, true, async (host) => {
      if (host === 'vm2') throw bug
      return host === 'vm3' ? failed(host, 'Fix vm3.') : ok(host)
    })
    expect(outcomes.map((o) => [o.host, o.result])).toEqual([
      ['vm1', 'deployed'],
      ['vm2', 'failed'],
      ['vm3', 'failed']
    ])
    expect(outcomes[1]).toMatchObject({ unexpected: bug, error: { message: "Unexpected error: Cannot read properties of undefined (reading 'deploy')" } })
  })

  it('one at a time, stops at the first failure (a crash too) and skips the rest', async () => {
    const calls: string[] = []
    const outcomes = await deployHosts(['vm1', 'vm2', 'vm3'], (h) => h, false, async (host) => {
      calls.push(host)
      if (host === 'vm2') throw new Error('boom')
      return ok(host)
    })
    expect(calls).toEqual(['vm1', 'vm2'])
    expect(outcomes.map((o) => o.result)).toEqual(['deployed', 'failed', 'skipped'])
  })
})

describe('failureOf', () => {
  it('nothing when every host deployed; the one error (a crash as itself) when one failed', () => {
    expect(failureOf([ok('vm1'), ok('vm2')])).toBeUndefined()
    const one = failed('vm2', 'Fix vm2.')
    expect(failureOf([ok('vm1'), one])).toBe(one.error)
    const bug = new Error('boom')
    expect(failureOf([{ ...failed('vm1', 'x'), unexpected: bug }])).toBe(bug)
  })

  it("several failed hosts: each host's reason and each host's fix", () => {
    const error = failureOf([failed('vm1', 'Fix the lock on vm1.'), ok('vm2'), failed('vm3', 'Install docker on vm3.')]) as UserError
    expect(error).toBeInstanceOf(UserError)
    expect(error.message).toBe('The deploy failed on 2 hosts: vm1: The deploy to vm1 failed | vm3: The deploy to vm3 failed')
    expect(error.fix).toBe('vm1: Fix the lock on vm1. vm3: Install docker on vm3.')
  })
})
