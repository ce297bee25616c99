import {
  GitCommandManager,
  UserError,
  type ProcessOptions,
  type ProcessResult,
  type ProcessRunner
} from '@gitops-lite/core'

/** A process runner that records each call and answers with `reply`. */
function fakeRunner(reply: (args: readonly string[]) => ProcessResult | Error) {
  const calls: { program: string; args: readonly string[]; options: ProcessOptions }[] = []
  const run: ProcessRunner = async (program, args, options) => {
    calls.push({ program, args, options })
    const result = reply(args)
    if (result instanceof Error) throw result
    return result
  }
  return { run, calls }
}

describe('GitCommandManager', () => {
  it('runs git in its folder, never prompting and in the C locale', async () => {
    const { run, calls } = fakeRunner(() => ({ exitCode: 0, stdout: 'abc123\n', stderr: '' }))
    const logged: string[] = []
    const git = new GitCommandManager('/work/infra', (line) => logged.push(line), run)
    expect(await git.headSha()).toBe('abc123')
    expect(calls).toEqual([
      {
        program: 'git',
        args: ['rev-parse', 'HEAD'],
        options: { cwd: '/work/infra', env: { GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' } }
      }
    ])
    expect(logged).toEqual(['git rev-parse HEAD'])
  })

  it("rejects a failed command with git's message, unless the failure is allowed", async () => {
    const { run } = fakeRunner(() => ({ exitCode: 128, stdout: '', stderr: 'fatal: not a git repository\n' }))
    const git = new GitCommandManager('/tmp', undefined, run)
    await expect(git.exec(['status'])).rejects.toThrow(
      'git status failed with exit code 128: fatal: not a git repository'
    )
    await expect(git.exec(['status'], { allowFailure: true })).resolves.toMatchObject({ exitCode: 128 })
    await expect(git.topLevel()).rejects.toThrow('/tmp is not inside a git repository')
  })

  it('says to install git when it cannot be started', async () => {
    const { run } = fakeRunner(() => new Error('Unable to locate executable file: git.'))
    const error = await new GitCommandManager('/tmp', undefined, run).headSha().catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(UserError)
    expect((error as UserError).describe()).toBe(
      'Could not run git: Unable to locate executable file: git.. Install git on the runner.'
    )
  })
})
