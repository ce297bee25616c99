import {
  POLL_BACKOFF,
  createdSince,
  nextPollDelay,
  runCarries,
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

function run(status: string, conclusion: string | null = null): WorkflowRun {
  return { id: 7, display_title: 'deploy abc', status, conclusion, html_url: 'https://github.com/acme/infra/actions/runs/7', created_at: '' }
}

/** A source that finds nothing `missing` times, then returns `states` one per get. */
function source(missing: number, states: WorkflowRun[]): WorkflowRunSource & { calls: string[] } {
  const calls: string[] = []
  let finds = 0
  let gets = 0
  return {
    calls,
    find: async () => {
      calls.push('find')
      return finds++ < missing ? undefined : states[0]
    },
    get: async () => {
      calls.push('get')
      return states[Math.min(++gets, states.length - 1)]
    }
  }
}

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
    const runs = source(2, [run('queued'), run('in_progress'), run('completed', 'success')])
    const found: WorkflowRun[] = []
    const result = await waitForWorkflowRun(runs, { timeoutMs: 60_000, findTimeoutMs: 30_000, clock, onFound: (r) => found.push(r) })
    expect(result).toEqual({ state: 'completed', run: run('completed', 'success') })
    expect(runs.calls).toEqual(['find', 'find', 'find', 'get', 'get'])
    expect(found).toHaveLength(1)
    // The backoff restarts once the run is found.
    expect(clock.slept).toEqual([1000, 1500, 1000, 1500])
  })

  it('reports not-found once the find timeout is spent, without sleeping past it', async () => {
    const clock = fakeClock()
    const result = await waitForWorkflowRun(source(Infinity, [run('queued')]), { timeoutMs: 60_000, findTimeoutMs: 5000, clock })
    expect(result).toEqual({ state: 'not-found' })
    expect(clock.now()).toBe(5000)
  })

  it('reports timed-out with the run as last seen', async () => {
    const clock = fakeClock()
    const result = await waitForWorkflowRun(source(0, [run('in_progress')]), { timeoutMs: 10_000, findTimeoutMs: 5000, clock })
    expect(result).toEqual({ state: 'timed-out', run: run('in_progress') })
    expect(clock.now()).toBe(10_000)
  })
})
