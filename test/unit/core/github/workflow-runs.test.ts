import {
  POLL_BACKOFF,
  UserError,
  createdSince,
  nextPollDelay,
  oldestFirst,
  runCarries,
  runToReport,
  waitForWorkflowRun,
  type Clock,
  type WorkflowRun,
  type WorkflowRunSource
} from '@gitops-lite/core'

function fakeClock(): Clock & { slept: number[] } {
  let now = 0
  const slept: number[] = []
  return {
    slept,
    now: () => now,
    sleep: async (ms) => {
      slept.push(ms)
      now += ms
    }
  }
}

function run(status: string, conclusion: string | null = null, id = 7): WorkflowRun {
  return {
    id,
    display_title: 'deploy abc',
    status,
    conclusion,
    html_url: `https://github.com/acme/infra/actions/runs/${id}`,
    created_at: `2025-03-01T10:00:${String(id).padStart(2, '0')}Z`
  }
}

type Listing = WorkflowRun[] | Error

/** A source whose finds return `listings` in turn (the last one repeated; an Error is thrown), and whose gets read `byId`. */
function source(listings: Listing[], byId: Record<number, WorkflowRun> = {}): WorkflowRunSource & { calls: string[] } {
  const calls: string[] = []
  let finds = 0
  return {
    calls,
    find: async () => {
      calls.push('find')
      const listing = listings[Math.min(finds++, listings.length - 1)]
      if (listing instanceof Error) throw listing
      return listing
    },
    get: async (id) => {
      calls.push(`get ${id}`)
      return byId[id]
    }
  }
}

const forbidden = new UserError(
  'Could not list the repository_dispatch workflow runs of acme/infra: the token is not allowed to (403 Forbidden)',
  {
    fix: "Use a token with 'Actions: read' on acme/infra."
  }
)

describe('runCarries', () => {
  it('matches the correlation id in the title or the name', () => {
    expect(runCarries({ display_title: 'deploy 1b4e', name: 'deploy' }, '1b4e')).toBe(true)
    expect(runCarries({ display_title: 'something', name: 'deploy 1b4e' }, '1b4e')).toBe(true)
    expect(runCarries({ display_title: 'deploy 9999', name: null }, '1b4e')).toBe(false)
  })
})

describe('createdSince', () => {
  it("writes GitHub's search date syntax without milliseconds", () => {
    expect(createdSince(new Date('2025-03-01T10:20:30.456Z'))).toBe('>=2025-03-01T10:20:30Z')
  })
})

describe('nextPollDelay', () => {
  it('backs off from 1 s by 1.5 up to 20 s', () => {
    const delays: number[] = []
    let delay: number | undefined
    for (let i = 0; i < 12; i++) delays.push((delay = nextPollDelay(delay)))
    expect(delays.slice(0, 4)).toEqual([1000, 1500, 2250, 3375])
    expect(Math.max(...delays)).toBe(POLL_BACKOFF.maxMs)
  })
})

describe('waitForWorkflowRun', () => {
  it('finds the run, polls it with backoff and returns it completed', async () => {
    const clock = fakeClock()
    const runs = source([[], [], [run('queued')], [run('in_progress')], [run('completed', 'success')]])
    const found: WorkflowRun[] = []
    const result = await waitForWorkflowRun(runs, {
      timeoutMs: 60_000,
      findTimeoutMs: 30_000,
      clock,
      onFound: (r) => found.push(r)
    })
    expect(result).toEqual({ state: 'completed', runs: [run('completed', 'success')] })
    expect(runs.calls).toEqual(['find', 'find', 'find', 'find', 'find'])
    expect(found).toHaveLength(1)
    // The backoff restarts once the run is found.
    expect(clock.slept).toEqual([1000, 1500, 1000, 1500])
  })

  it('reports not-found once the find timeout is spent, without sleeping past it', async () => {
    const clock = fakeClock()
    const result = await waitForWorkflowRun(source([[]]), { timeoutMs: 60_000, findTimeoutMs: 5000, clock })
    expect(result).toEqual({ state: 'not-found', runs: [] })
    expect(clock.now()).toBe(5000)
  })

  it('reports timed-out with the run as last seen', async () => {
    const clock = fakeClock()
    const result = await waitForWorkflowRun(source([[run('in_progress')]]), {
      timeoutMs: 10_000,
      findTimeoutMs: 5000,
      clock
    })
    expect(result).toEqual({ state: 'timed-out', runs: [run('in_progress')] })
    expect(clock.now()).toBe(10_000)
  })

  it('waits for every run carrying the id (a retried dispatch delivered twice), including one that appears later, oldest first', async () => {
    const [a, b] = [8, 9]
    const found: [number, number][] = []
    const result = await waitForWorkflowRun(
      source([
        [run('in_progress', null, a)],
        [run('in_progress', null, b), run('completed', 'success', a)],
        [run('completed', 'success', b), run('completed', 'success', a)]
      ]),
      { timeoutMs: 60_000, findTimeoutMs: 5000, clock: fakeClock(), onFound: (r, count) => found.push([r.id, count]) }
    )
    expect(result).toEqual({
      state: 'completed',
      runs: [run('completed', 'success', a), run('completed', 'success', b)]
    })
    expect(found).toEqual([
      [a, 1],
      [b, 2]
    ])
  })

  it('stops at the first run that fails: waiting longer cannot change the outcome', async () => {
    const runs = source([
      [run('in_progress', null, 8), run('queued', null, 9)],
      [run('completed', 'cancelled', 8), run('in_progress', null, 9)]
    ])
    const result = await waitForWorkflowRun(runs, { timeoutMs: 60_000, findTimeoutMs: 5000, clock: fakeClock() })
    expect(result).toEqual({
      state: 'completed',
      runs: [run('completed', 'cancelled', 8), run('in_progress', null, 9)]
    })
    expect(runs.calls).toEqual(['find', 'find'])
  })

  it('reads by id a run the listing no longer shows (pushed off its page by newer runs)', async () => {
    const runs = source([[run('in_progress')], []], { 7: run('completed', 'success') })
    const result = await waitForWorkflowRun(runs, { timeoutMs: 60_000, findTimeoutMs: 5000, clock: fakeClock() })
    expect(result).toEqual({ state: 'completed', runs: [run('completed', 'success')] })
    expect(runs.calls).toEqual(['find', 'find', 'get 7'])
  })

  it("ends as unreadable, keeping the run as last seen, when GitHub's API fails after it was found", async () => {
    const result = await waitForWorkflowRun(source([[run('in_progress')], forbidden]), {
      timeoutMs: 60_000,
      findTimeoutMs: 5000,
      clock: fakeClock()
    })
    expect(result).toEqual({ state: 'unreadable', runs: [run('in_progress')], error: forbidden })
  })

  it('ends as unreadable with no run when looking for it fails, and lets anything but a UserError (a bug) through', async () => {
    expect(
      await waitForWorkflowRun(source([[], forbidden]), { timeoutMs: 60_000, findTimeoutMs: 5000, clock: fakeClock() })
    ).toEqual({
      state: 'unreadable',
      runs: [],
      error: forbidden
    })
    const bug = new TypeError('x is undefined')
    await expect(
      waitForWorkflowRun(source([bug]), { timeoutMs: 60_000, findTimeoutMs: 5000, clock: fakeClock() })
    ).rejects.toBe(bug)
  })
})

describe('oldestFirst and runToReport', () => {
  it('orders by creation time, then id', () => {
    const later = { ...run('queued', null, 3), created_at: '2025-03-01T10:01:00Z' }
    const tie = { ...run('queued', null, 2), created_at: later.created_at }
    expect(oldestFirst([later, run('queued', null, 5), tie]).map((r) => r.id)).toEqual([5, 2, 3])
  })

  it('reports the oldest run that failed, else the oldest still running, else the oldest', () => {
    const [ok1, ok2] = [run('completed', 'success', 1), run('completed', 'success', 2)]
    expect(runToReport([ok1, run('completed', 'failure', 2), run('completed', 'timed_out', 3)])?.id).toBe(2)
    expect(runToReport([ok1, run('in_progress', null, 2)])?.id).toBe(2)
    expect(runToReport([ok1, ok2])?.id).toBe(1)
    expect(runToReport([])).toBeUndefined()
  })
})
