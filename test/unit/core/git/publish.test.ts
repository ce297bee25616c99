import {
  UserError,
  backoffDelay,
  publish,
  type PublishGit,
  type PublishOptions,
  type PushResult
} from '@gitops-lite/core'

/** A stand-in for git that records calls and answers pushes from a script. */
function fakeGit(pushes: PushResult[]): { git: PublishGit; calls: string[] } {
  const calls: string[] = []
  let commits = 0
  const git: PublishGit = {
    fetch: async (remote, branch) => (calls.push(`fetch ${remote} ${branch}`), `remote-${calls.length}`),
    checkoutBranch: async (branch, sha) => void calls.push(`checkout ${branch} ${sha.replace(/\d+$/, 'N')}`),
    commit: async (paths) => (calls.push(`commit ${paths.join(' ')}`), `sha${++commits}`),
    push: async (remote, branch) => (calls.push(`push ${remote} ${branch}`), pushes.shift() ?? { status: 'pushed' })
  }
  return { git, calls }
}

function options(git: PublishGit, overrides: Partial<PublishOptions> = {}): PublishOptions {
  return {
    git,
    remote: 'origin',
    base: 'main',
    head: 'main',
    startFromRemote: false,
    push: true,
    maxAttempts: 3,
    author: { name: 'a', email: 'a@example.com' },
    apply: async () => ({ paths: ['compose.yaml'], message: 'm' }),
    backoff: { baseMs: 100, maxMs: 1000, random: () => 1, sleep: async () => {}, now: () => 0 },
    ...overrides
  }
}

describe('publish', () => {
  it('pushes once when the branch did not move', async () => {
    const { git, calls } = fakeGit([])
    expect(await publish(options(git))).toEqual({ commitSha: 'sha1', attempts: 1 })
    expect(calls).toEqual(['commit compose.yaml', 'push origin main'])
  })

  it('re-applies the change on the fetched head when the branch moved, with growing waits', async () => {
    const { git, calls } = fakeGit([
      { status: 'moved', detail: '[rejected] (fetch first)' },
      { status: 'moved', detail: '' }
    ])
    const waits: number[] = []
    const checkedOut: boolean[] = []
    const result = await publish(
      options(git, {
        apply: async (moved) => (checkedOut.push(moved), { paths: ['compose.yaml'], message: 'm' }),
        backoff: { baseMs: 100, maxMs: 1000, random: () => 1, sleep: async (ms) => void waits.push(ms), now: () => 0 }
      })
    )
    expect(result).toEqual({ commitSha: 'sha3', attempts: 3 })
    // Only the first round reads the checkout the caller planned on: the caller need not plan again.
    expect(checkedOut).toEqual([false, true, true])
    expect(waits).toEqual([100, 200])
    expect(calls.filter((c) => c.startsWith('fetch'))).toEqual(['fetch origin main', 'fetch origin main'])
    expect(calls).toContain('checkout main remote-N')
  })

  it('stops without a commit when the new head already has the change', async () => {
    const { git } = fakeGit([{ status: 'moved', detail: '' }])
    let round = 0
    const result = await publish(
      options(git, { apply: async () => (++round === 1 ? { paths: ['compose.yaml'], message: 'm' } : undefined) })
    )
    expect(result).toEqual({ commitSha: undefined, attempts: 2 })
  })

  it('gives up after max-attempts, and never retries a refusal that is not a race', async () => {
    const moved = { status: 'moved', detail: '' } as const
    const exhausted = publish(options(fakeGit([moved, moved, moved]).git))
    await expect(exhausted).rejects.toThrow(UserError)
    await expect(publish(options(fakeGit([moved, moved, moved]).git))).rejects.toThrow(/gave up after 3 attempts/)
    await expect(
      publish(options(fakeGit([{ status: 'failed', detail: 'protected branch hook declined' }]).git))
    ).rejects.toThrow(/was refused: protected branch hook declined/)
  })

  it('undoes what apply wrote when the commit is refused, and reports the refusal as is', async () => {
    const { git, calls } = fakeGit([])
    const refusal = new UserError(
      'git refused to stage .env: The following paths are ignored by one of your .gitignore files: .env'
    )
    git.commit = async () => {
      calls.push('commit')
      throw refusal
    }
    const undone: string[] = []
    const result = publish(
      options(git, {
        apply: async () => ({ paths: ['.env'], message: 'm', undo: async () => void undone.push('.env') })
      })
    )
    await expect(result).rejects.toBe(refusal)
    expect(undone).toEqual(['.env'])
    expect(calls).toEqual(['commit'])
  })

  it('starts from the remote branch when asked (pull requests, another branch)', async () => {
    const { git, calls } = fakeGit([])
    const checkedOut: boolean[] = []
    const apply = async (moved: boolean) => (checkedOut.push(moved), { paths: ['compose.yaml'], message: 'm' })
    await publish(options(git, { startFromRemote: true, head: 'gitops-lite/x', apply }))
    expect(checkedOut).toEqual([true])
    expect(calls).toEqual([
      'fetch origin main',
      'checkout gitops-lite/x remote-N',
      'commit compose.yaml',
      'push origin gitops-lite/x'
    ])
  })
})

describe('backoffDelay', () => {
  it('draws up to an exponentially growing, capped bound', () => {
    const at = (attempt: number, random: number): number =>
      backoffDelay(attempt, { baseMs: 1000, maxMs: 30_000, random: () => random })
    expect([1, 2, 3, 4, 5, 6, 7].map((a) => at(a, 1))).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000])
    expect(at(3, 0)).toBe(0)
    expect(at(3, 0.5)).toBe(2000)
  })

  it('starts the bound at twice the round just lost, when that is longer than the base', () => {
    const backoff = { baseMs: 1000, maxMs: 30_000, random: () => 1 }
    expect([1, 2, 3].map((a) => backoffDelay(a, backoff, 3000))).toEqual([6000, 12_000, 24_000])
    expect(backoffDelay(1, backoff, 200)).toBe(1000)
  })

  it('is timed by publish from the fetch to the refused push', async () => {
    const { git } = fakeGit([{ status: 'moved', detail: '' }])
    let clock = 0
    const waits: number[] = []
    await publish(
      options(git, {
        backoff: {
          baseMs: 100,
          maxMs: 10_000,
          random: () => 1,
          sleep: async (ms) => void waits.push(ms),
          now: () => (clock += 400)
        }
      })
    )
    expect(waits).toEqual([800])
  })
})
