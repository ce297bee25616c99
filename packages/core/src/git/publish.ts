import { setTimeout as sleep } from 'node:timers/promises'
import { UserError } from '../errors'
import type { GitCommands, GitIdentity } from './git-command-manager'

/** What one application of the change produced: the files to commit and the message. */
export interface CommitContent {
  paths: string[]
  message: string
  /** Puts the files back as they were before `apply` wrote them; called when the commit fails. */
  undo?: () => Promise<void>
}

export interface Backoff {
  baseMs: number
  maxMs: number
  random: () => number
  sleep: (ms: number) => Promise<unknown>
  /** The clock a round (fetch to push) is timed with, in ms. */
  now: () => number
}

// Spreads racing writers out, with rounds of up to a few seconds (a remote across the internet):
// in simulations of ten writers racing on one branch, 10 rounds (max-attempts) never ran out.
export const defaultBackoff: Backoff = { baseMs: 1000, maxMs: 30_000, random: Math.random, sleep, now: Date.now }

/**
 * "Full jitter": a random wait up to an exponentially growing cap, so racing writers spread out.
 * The cap starts at twice the round just lost (at least `baseMs`): on a slow remote, waits
 * shorter than a round would only line the writers up to collide again.
 */
export function backoffDelay(
  attempt: number,
  backoff: Pick<Backoff, 'baseMs' | 'maxMs' | 'random'>,
  roundMs = 0
): number {
  const cap = Math.min(backoff.maxMs, Math.max(backoff.baseMs, 2 * roundMs) * 2 ** (attempt - 1))
  return Math.round(backoff.random() * cap)
}

/** The git operations publishing uses. */
export type PublishGit = Pick<GitCommands, 'fetch' | 'checkoutBranch' | 'commit' | 'push'>

export interface PublishOptions {
  git: PublishGit
  remote: string
  /** The branch the commit is built on; fetched again whenever a push finds it moved. */
  base: string
  /** The branch pushed to: `base` itself, or a new branch for a pull request. */
  head: string
  /** Build the first commit on the remote's `base` rather than on the local checkout. */
  startFromRemote: boolean
  push: boolean
  maxAttempts: number
  author: GitIdentity
  /**
   * Applies the change to the files checked out now (re-running the edit on their current
   * content) and says what to commit; undefined when they already hold the change.
   * `checkedOut` says whether publish checked out another commit since the caller last read the
   * files: when it did not (the first round on the local checkout), a plan made before still holds.
   */
  apply: (checkedOut: boolean) => Promise<CommitContent | undefined>
  backoff?: Backoff
  log?: (line: string) => void
}

export interface PublishResult {
  /** The commit made; undefined when the branch already held the change. */
  commitSha?: string
  /** Commit-and-push rounds used. */
  attempts: number
}

/**
 * Commits the change and pushes it without ever forcing: when the push finds that the branch
 * moved, fetches the new head, re-applies the change to it (semantically: the edit runs
 * again on the new content, it is not a textual rebase) and tries again after a jittered,
 * exponentially growing wait, up to `maxAttempts` rounds.
 */
export async function publish(options: PublishOptions): Promise<PublishResult> {
  const { git, remote, base, head, author } = options
  const backoff = options.backoff ?? defaultBackoff
  const log = options.log ?? (() => {})
  for (let attempt = 1; ; attempt++) {
    const roundStart = backoff.now()
    const checkedOut = attempt > 1 || options.startFromRemote
    if (checkedOut) await git.checkoutBranch(head, await git.fetch(remote, base))
    const content = await options.apply(checkedOut)
    if (!content) {
      log(`${base} already has the change; nothing to commit`)
      return { attempts: attempt }
    }
    let commitSha: string
    try {
      commitSha = await git.commit(content.paths, content.message, author)
    } catch (error) {
      // Nothing half-done: the files go back to what the checkout held.
      await content.undo?.()
      throw error
    }
    if (!options.push) return { commitSha, attempts: attempt }
    const pushed = await git.push(remote, head)
    if (pushed.status === 'pushed') return { commitSha, attempts: attempt }
    if (pushed.status === 'failed') {
      throw new UserError(`git push to '${head}' was refused: ${pushed.detail}`, {
        fix: "Check that the token may push to the branch (permissions: contents: write) and that branch protection allows it, or use 'pull-request: true'."
      })
    }
    if (attempt >= options.maxAttempts) {
      throw new UserError(`'${head}' kept moving: gave up after ${attempt} attempts to push`, {
        fix: "Raise 'max-attempts', or serialize the workflow with a 'concurrency:' group."
      })
    }
    const delay = backoffDelay(attempt, backoff, backoff.now() - roundStart)
    log(
      `'${head}' moved while pushing (attempt ${attempt} of ${options.maxAttempts}); re-applying on the new head in ${delay} ms`
    )
    await backoff.sleep(delay)
  }
}
