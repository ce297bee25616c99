import { isAbsolute, relative } from 'node:path'
import { UserError } from '../errors'
import { runProcess, type ProcessResult, type ProcessRunner } from '../process'

export type GitResult = ProcessResult

export interface GitIdentity {
  name: string
  email: string
}

export interface GitExecOptions {
  /** Return a non-zero exit instead of throwing. */
  allowFailure?: boolean
  env?: Record<string, string>
}

/** How a push ended: landed, refused because the remote branch moved (retry), or refused for good. */
export type PushResult = { status: 'pushed' } | { status: 'moved' | 'failed'; detail: string }

// Refusals caused by someone else updating the branch first, as `git push --porcelain` reports them.
const movedPattern =
  /\[rejected\] \((fetch first|non-fast-forward|stale info)\)|\[remote rejected\] \((cannot lock ref|failed to update ref|incorrect old value)/

/** What git said about a failure, on one line without its hints. */
function gitMessage(result: GitResult): string {
  const lines = (result.stderr || result.stdout).split('\n').map((line) => line.trim())
  const text = lines.filter((line) => line !== '' && !line.startsWith('hint:')).join(' ')
  return text || `exit code ${result.exitCode}`
}

/** The git operations the actions use; GitCommandManager runs them, tests may fake them. */
export interface GitCommands {
  readonly workingDirectory: string
  exec(args: readonly string[], options?: GitExecOptions): Promise<GitResult>
  topLevel(): Promise<string>
  currentBranch(): Promise<string | undefined>
  headSha(): Promise<string>
  commit(paths: readonly string[], message: string, author: GitIdentity): Promise<string>
  fetch(remote: string, branch: string): Promise<string>
  checkoutBranch(branch: string, sha: string): Promise<void>
  checkout(ref: string): Promise<void>
  push(remote: string, branch: string): Promise<PushResult>
}

/**
 * Every git call in one place, each run with an argument vector (never a shell string),
 * in one working directory, without prompts and without touching global configuration.
 */
export class GitCommandManager implements GitCommands {
  constructor(
    readonly workingDirectory: string,
    private readonly log: (line: string) => void = () => {},
    private readonly run: ProcessRunner = runProcess
  ) {}

  async exec(args: readonly string[], options: GitExecOptions = {}): Promise<GitResult> {
    this.log(`git ${args.join(' ')}`)
    let result: GitResult
    try {
      result = await this.run('git', args, {
        cwd: this.workingDirectory,
        env: { GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C', ...options.env }
      })
    } catch (error) {
      throw new UserError(`Could not run git: ${error instanceof Error ? error.message : String(error)}`, {
        fix: 'Install git on the runner.'
      })
    }
    if (result.exitCode !== 0 && !options.allowFailure) {
      throw new Error(
        `git ${args.join(' ')} failed with exit code ${result.exitCode}: ${(result.stderr || result.stdout).trim()}`
      )
    }
    return result
  }

  private async output(args: readonly string[]): Promise<string> {
    return (await this.exec(args)).stdout.trim()
  }

  /** The repository's top-level folder; a UserError when the working directory is not in a repository. */
  async topLevel(): Promise<string> {
    const result = await this.exec(['rev-parse', '--show-toplevel'], { allowFailure: true })
    if (result.exitCode !== 0) {
      throw new UserError(`${this.workingDirectory} is not inside a git repository`, {
        fix: 'Check out the infrastructure repository first (actions/checkout) or set working-directory to it.'
      })
    }
    return result.stdout.trim()
  }

  /** The checked-out branch; undefined on a detached HEAD. */
  async currentBranch(): Promise<string | undefined> {
    const result = await this.exec(['symbolic-ref', '--quiet', '--short', 'HEAD'], { allowFailure: true })
    return result.exitCode === 0 ? result.stdout.trim() : undefined
  }

  headSha(): Promise<string> {
    return this.output(['rev-parse', 'HEAD'])
  }

  /**
   * Commits exactly `paths` (whatever else is staged stays out) and returns the new commit's sha.
   * When git refuses (an ignored file, no identity, ...), the paths are unstaged again and the
   * refusal is a UserError quoting git.
   */
  async commit(paths: readonly string[], message: string, author: GitIdentity): Promise<string> {
    const added = await this.exec(['add', '--', ...paths], { allowFailure: true })
    if (added.exitCode !== 0) {
      await this.unstage(paths)
      const ignored = /ignored by one of your \.gitignore files/.test(added.stderr)
      throw new UserError(`git refused to stage ${this.display(paths)}: ${gitMessage(added)}`, {
        fix: ignored
          ? "The file is ignored by git (.gitignore), so a change to it cannot be committed: keep the tag in a file git tracks (remove it from .gitignore and commit it once), or set 'commit: false' to only write the file."
          : 'Check that the files are inside the repository checked out at working-directory and that the checkout is writable.'
      })
    }
    const identity = {
      GIT_AUTHOR_NAME: author.name,
      GIT_AUTHOR_EMAIL: author.email,
      GIT_COMMITTER_NAME: author.name,
      GIT_COMMITTER_EMAIL: author.email
    }
    const committed = await this.exec(['commit', '--quiet', '--no-verify', '--message', message, '--', ...paths], {
      env: identity,
      allowFailure: true
    })
    if (committed.exitCode !== 0) {
      await this.unstage(paths)
      throw new UserError(`git refused to commit ${this.display(paths)}: ${gitMessage(committed)}`, {
        fix: "Check 'author-name' and 'author-email' and the repository's state (git status) in the checkout."
      })
    }
    return this.headSha()
  }

  /** Paths for a message: relative to the working directory when inside it. */
  private display(paths: readonly string[]): string {
    return paths
      .map((path) => {
        const rel = isAbsolute(path) ? relative(this.workingDirectory, path) : path
        return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? path : rel
      })
      .join(', ')
  }

  /** Takes `paths` out of the index again (back to HEAD); best effort, for cleaning up after a refusal. */
  private async unstage(paths: readonly string[]): Promise<void> {
    await this.exec(['reset', '--quiet', '--', ...paths], { allowFailure: true })
  }

  /** Fetches one branch of the remote and returns the commit it points at. */
  async fetch(remote: string, branch: string): Promise<string> {
    const result = await this.exec(['fetch', '--quiet', '--no-tags', remote, `refs/heads/${branch}`], {
      allowFailure: true
    })
    if (result.exitCode !== 0) {
      throw new UserError(`Could not fetch branch '${branch}' from ${remote}: ${result.stderr.trim()}`, {
        fix: `Check that '${branch}' exists in the remote repository and that the checkout's credentials can read it.`
      })
    }
    return this.output(['rev-parse', 'FETCH_HEAD'])
  }

  /** Points `branch` at `sha` and checks it out, keeping unrelated local changes (never a hard reset). */
  async checkoutBranch(branch: string, sha: string): Promise<void> {
    const result = await this.exec(['checkout', '--quiet', '-B', branch, sha], { allowFailure: true })
    if (result.exitCode !== 0) {
      const overwritten = /would be overwritten/.test(result.stderr)
      throw new UserError(`git refused to check out '${branch}' at ${sha.slice(0, 12)}: ${gitMessage(result)}`, {
        fix: overwritten
          ? 'The checkout has uncommitted changes to files that differ on that commit: run the action on a clean checkout (actions/checkout), or commit or discard those changes in an earlier step.'
          : "Check the checkout's state (git status) and the 'branch' input."
      })
    }
  }

  /** Checks out a branch or commit as it is (puts the checkout back after a dry run). */
  async checkout(ref: string): Promise<void> {
    await this.exec(['checkout', '--quiet', ref])
  }

  /** Pushes HEAD to `branch` on the remote; never forced. */
  async push(remote: string, branch: string): Promise<PushResult> {
    const result = await this.exec(['push', '--porcelain', remote, `HEAD:refs/heads/${branch}`], { allowFailure: true })
    if (result.exitCode === 0) return { status: 'pushed' }
    const detail = `${result.stdout}\n${result.stderr}`.trim()
    return { status: movedPattern.test(detail) ? 'moved' : 'failed', detail }
  }
}
