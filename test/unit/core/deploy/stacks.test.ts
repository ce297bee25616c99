// removeFromHost and listStacks: the script each sends, and how the host's events become the
// outcome, against a fake RemoteShell that answers like a host.
import {
  ExitCode,
  listStacks,
  removeFromHost,
  type DeployLog,
  type ExecOptions,
  type ExecResult,
  type RemoteShell,
  type RemoveOptions
} from '@gitops-lite/core'

class FakeHost implements RemoteShell {
  readonly name = 'deploy@vm1:22'
  script = ''

  constructor(private readonly answer: (mark: string) => Partial<ExecResult>) {}

  async exec(_command: string, options: ExecOptions = {}): Promise<ExecResult> {
    this.script = String(options.stdin ?? '')
    const mark = /^GL_MARK=(\S+)$/m.exec(this.script)?.[1] ?? ''
    return { code: 0, stdout: '', stderr: '', ...this.answer(mark) }
  }
}

const log = (): DeployLog & { lines: string[] } => {
  const lines: string[] = []
  return {
    lines,
    info: (m) => lines.push(m),
    warning: (m) => lines.push(`warning: ${m}`),
    remote: (l) => lines.push(...l),
    mask: () => undefined
  }
}

const options = (extra: Partial<RemoveOptions> = {}): RemoveOptions => ({
  stack: { remoteDir: '/srv/previews/pr-7', composeFiles: [], projectName: 'pr-7', composeCommand: 'auto' },
  removeVolumes: false,
  dryRun: false,
  limits: { lockTimeoutSeconds: 5, commandTimeoutSeconds: 60, healthTimeoutSeconds: 10 },
  run: { id: 'r1', url: 'https://github.com/acme/infra/actions/runs/1', actor: 'octocat', sha: 'a'.repeat(40) },
  ...extra
})

const events = (mark: string, lines: string[]) => lines.map((line) => `${mark} ${line}\n`).join('')

describe('removeFromHost', () => {
  const found = [
    'phase locked',
    'container web /pr-7-web-1',
    'container worker /pr-7-worker-1',
    'network pr-7_default',
    'volume pr-7_cache keep',
    'file compose.yaml',
    'file conf/motd.txt',
    'state /srv/previews/pr-7/.gitops-lite'
  ]

  it('sends the project, the dry-run and volume flags and an audit line, and reads back what went', async () => {
    const host = new FakeHost((mark) => ({
      stdout: events(mark, [...found, 'phase stop', 'phase files', 'result removed'])
    }))
    const outcome = await removeFromHost(host, options(), log())
    expect(host.script).toMatch(/^GL_PROJECT=pr-7$/m)
    expect(host.script).toMatch(/^GL_DRY_RUN=0$/m)
    expect(host.script).toMatch(/^GL_REMOVE_VOLUMES=0$/m)
    expect(host.script).toContain('"mode":"remove"')
    expect(host.script.trimEnd().endsWith('gl_remove_main')).toBe(true)
    expect(outcome).toMatchObject({
      result: 'removed',
      removal: {
        project: 'pr-7',
        containers: [
          { service: 'web', name: 'pr-7-web-1' },
          { service: 'worker', name: 'pr-7-worker-1' }
        ],
        networks: ['pr-7_default'],
        volumes: [{ name: 'pr-7_cache', removed: false }],
        files: ['compose.yaml', 'conf/motd.txt'],
        state: '/srv/previews/pr-7/.gitops-lite',
        failed: []
      }
    })
  })

  it('a dry run says what would go', async () => {
    const lines = log()
    const outcome = await removeFromHost(
      new FakeHost((mark) => ({ stdout: events(mark, [...found, 'result dry-run']) })),
      options({ dryRun: true }),
      lines
    )
    expect(outcome.result).toBe('dry-run')
    expect(lines.lines).toContain('Would remove project pr-7 from deploy@vm1:22:')
    expect(lines.lines).toContain('  volumes: none; kept (remove-volumes is false): pr-7_cache')
  })

  it('refuses a folder that holds another project, and reports what could not be removed', async () => {
    const refused = await removeFromHost(
      new FakeHost((mark) => ({
        code: ExitCode.removeRefused,
        stdout: events(mark, ['refused other-project app-staging'])
      })),
      options(),
      log()
    )
    expect(refused.result).toBe('failed')
    expect(refused.error?.message).toBe(
      "/srv/previews/pr-7 on deploy@vm1:22 holds the project 'app-staging', not 'pr-7'"
    )
    const partly = await removeFromHost(
      new FakeHost((mark) => ({
        code: ExitCode.partlyRemoved,
        stdout: events(mark, [
          ...found,
          'skipped conf/motd.txt',
          'remove-failed network pr-7_default',
          'result partly-removed'
        ])
      })),
      options(),
      log()
    )
    expect(partly.result).toBe('failed')
    expect(partly.error?.message).toBe(
      'The removal of project pr-7 on deploy@vm1:22 could not remove: conf/motd.txt (a folder on its path is a symbolic link), network pr-7_default'
    )
  })

  it('is unchanged when nothing of the project is left', async () => {
    const outcome = await removeFromHost(
      new FakeHost((mark) => ({ stdout: events(mark, ['result absent']) })),
      options(),
      log()
    )
    expect(outcome.result).toBe('unchanged')
  })
})

describe('listStacks', () => {
  it('reads the record header after each stack event, skipping what is not a record', async () => {
    const header = (project: string) =>
      JSON.stringify({
        kind: 'deploy',
        schema: 1,
        sha: 'b'.repeat(40),
        time: 't',
        runUrl: 'u',
        actor: 'octocat',
        project
      })
    const host = new FakeHost((mark) => ({
      stdout: [
        `${mark} stack /srv/previews/pr-1`,
        header('pr-1'),
        `${mark} stack /srv/previews/junk`,
        'not json',
        `${mark} stack /srv/previews/pr-2`,
        header('pr-2'),
        `${mark} result listed`,
        ''
      ].join('\n')
    }))
    const outcome = await listStacks(host, { stack: options().stack, limits: options().limits }, log())
    expect(host.script.trimEnd().endsWith('gl_list_main')).toBe(true)
    expect(outcome.result).toBe('listed')
    expect(outcome.stacks).toEqual([
      {
        remoteDir: '/srv/previews/pr-1',
        project: 'pr-1',
        sha: 'b'.repeat(40),
        time: 't',
        actor: 'octocat',
        runUrl: 'u'
      },
      {
        remoteDir: '/srv/previews/pr-2',
        project: 'pr-2',
        sha: 'b'.repeat(40),
        time: 't',
        actor: 'octocat',
        runUrl: 'u'
      }
    ])
  })
})
