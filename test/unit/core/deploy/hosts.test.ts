// Several hosts: every host gets an outcome (and so outputs and a summary line), whatever
// happens to the others, and the step's error names each failed host with its own fix.
import { UserError, deployHosts, failureOf, type HostOutcome } from '@gitops-lite/core'

const ok = (host: string): HostOutcome => ({ host, result: 'deployed', health: {}, durationMs: 1 })
const failed = (host: string, fix: string): HostOutcome => ({
  host,
  result: 'failed',
  health: {},
  durationMs: 1,
  error: new UserError(`The deploy to ${host} failed`, { fix })
})

/** A fake connection that records whether it was closed. */
class Connection {
  closed = false
  constructor(readonly host: string) {}
  close(): void {
    this.closed = true
  }
}

function steps(deploy: (host: string) => Promise<HostOutcome>, refuse: Record<string, Error> = {}) {
  const opened: Connection[] = []
  const calls: string[] = []
  return {
    opened,
    calls,
    steps: {
      nameOf: (host: string) => host,
      async connect(host: string) {
        if (refuse[host]) throw refuse[host]
        const connection = new Connection(host)
        opened.push(connection)
        return connection
      },
      async deploy(host: string, connection: Connection) {
        expect(connection.host).toBe(host)
        calls.push(host)
        return deploy(host)
      }
    }
  }
}

describe('deployHosts', () => {
  it('in parallel, a host whose deploy throws (a bug) is a failed host; the others keep their outcomes', async () => {
    const bug = new TypeError("Cannot read properties of undefined (reading 'deploy')")
    const fake = steps(async (host) => {
      if (host === 'vm2') throw bug
      return host === 'vm3' ? failed(host, 'Fix vm3.') : ok(host)
    })
    const outcomes = await deployHosts(['vm1', 'vm2', 'vm3'], true, fake.steps)
    expect(outcomes.map((o) => [o.host, o.result])).toEqual([
      ['vm1', 'deployed'],
      ['vm2', 'failed'],
      ['vm3', 'failed']
    ])
    expect(outcomes[1]).toMatchObject({
      unexpected: bug,
      error: { message: "Unexpected error: Cannot read properties of undefined (reading 'deploy')" }
    })
    expect(fake.opened.every((c) => c.closed)).toBe(true)
  })

  it('one at a time, stops at the first failure (a crash too) and skips the rest, saying why', async () => {
    const fake = steps(async (host) => {
      if (host === 'vm2') throw new Error('boom')
      return ok(host)
    })
    const outcomes = await deployHosts(['vm1', 'vm2', 'vm3'], false, fake.steps)
    expect(fake.calls).toEqual(['vm1', 'vm2'])
    expect(outcomes.map((o) => o.result)).toEqual(['deployed', 'failed', 'skipped'])
    expect(outcomes[2]).toMatchObject({ reason: 'not deployed: vm2 failed before it' })
    expect(fake.opened.every((c) => c.closed)).toBe(true)
  })

  it.each([false, true])(
    'a host that cannot be connected to fails the run before any host is deployed (parallel: %s)',
    async (parallel) => {
      const refused = new UserError('Refusing vm3:22: its host key is not trusted', { fix: 'Update known-hosts.' })
      const fake = steps(async (host) => ok(host), { vm3: refused })
      const outcomes = await deployHosts(['vm1', 'vm2', 'vm3'], parallel, fake.steps)
      expect(fake.calls).toEqual([])
      expect(outcomes.map((o) => [o.host, o.result])).toEqual([
        ['vm1', 'skipped'],
        ['vm2', 'skipped'],
        ['vm3', 'failed']
      ])
      expect(outcomes[0]).toMatchObject({ reason: 'no host was deployed: vm3 could not be connected to' })
      expect(outcomes[2].error).toBe(refused)
      expect(fake.opened.map((c) => [c.host, c.closed])).toEqual([
        ['vm1', true],
        ['vm2', true]
      ])
      expect(failureOf(outcomes)).toBe(refused)
    }
  )
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
    const error = failureOf([
      failed('vm1', 'Fix the lock on vm1.'),
      ok('vm2'),
      failed('vm3', 'Install docker on vm3.')
    ]) as UserError
    expect(error).toBeInstanceOf(UserError)
    expect(error.message).toBe(
      'The deploy failed on 2 hosts: vm1: The deploy to vm1 failed | vm3: The deploy to vm3 failed'
    )
    expect(error.fix).toBe('vm1: Fix the lock on vm1. vm3: Install docker on vm3.')
  })
})
