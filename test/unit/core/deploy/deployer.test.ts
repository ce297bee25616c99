// deployToHost's round trips and outcomes, against a fake RemoteShell that answers like a host.
import {
  ConnectionLostError,
  UserError,
  deployToHost,
  parseComposeModel,
  stackFile,
  type DeployLog,
  type DeployOptions,
  type ExecOptions,
  type ExecResult,
  type RemoteShell
} from '@gitops-lite/core'

const config = JSON.stringify({ name: 'app', services: { web: { image: 'registry/web:v2' } } })

/** What the fake host answers: the inspection's parts, then one apply result per apply. */
interface Host {
  containers: string[]
  record: string[]
  applies: ((Partial<ExecResult> & { events?: string[] }) | Error)[]
  /** Digests of the uploaded files as the host has them. */
  files?: string[]
  /** Replaces the inspection's answer (a failed inspection); a function gets the script's mark. */
  inspect?: Partial<ExecResult> | ((mark: string) => Partial<ExecResult>)
}

class FakeHost implements RemoteShell {
  readonly name = 'deploy@vm1:22'
  readonly calls: string[] = []
  readonly runDirs: string[] = []
  /** The apply scripts sent, in order. */
  readonly applied: string[] = []

  constructor(private readonly host: Host) {}

  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    const script = String(options.stdin ?? '')
    const mark = /^GL_MARK=(\S+)$/m.exec(script)?.[1] ?? ''
    if (/^gl_inspect_report( .*)?$/m.test(script)) {
      this.calls.push('inspect')
      const inspect = typeof this.host.inspect === 'function' ? this.host.inspect(mark) : this.host.inspect
      if (inspect) return { code: 0, stdout: '', stderr: '', ...inspect }
      const sections: Record<string, string[]> = {
        compose: ['v2', '2.26.1'],
        directory: ['/srv/app'],
        project: ['app'],
        generation: [String(this.calls.filter((c) => c === 'apply').length)],
        config: [config],
        hashes: ['web web-hash-2'],
        containers: this.host.containers,
        record: this.host.record,
        files: this.host.files ?? ['sha256:old'],
        end: []
      }
      const stdout =
        Object.entries(sections)
          .map(([name, lines]) => [`${mark} section ${name}`, ...lines].join('\n'))
          .join('\n') + '\n'
      return { code: 0, stdout, stderr: '' }
    }
    this.calls.push('apply')
    this.applied.push(script)
    this.runDirs.push(/\.gitops-lite\/runs\/([\w-]+)/.exec(command)?.[1] ?? '')
    const next = this.host.applies.shift()
    if (next instanceof Error) throw next
    const stdout = (next?.events ?? []).map((e) => `${mark} ${e}\n`).join('') + (next?.stdout ?? '')
    options.onStdout?.(stdout)
    return { code: 0, stderr: '', ...next, stdout }
  }
}

const running = JSON.stringify({
  id: 'c1',
  name: '/app-web-1',
  service: 'web',
  oneoff: 'False',
  configHash: 'label-1',
  image: 'registry/web:v1',
  state: 'running',
  health: 'healthy',
  exitCode: 0,
  restartPolicy: ''
})
const recordOf = (hash: string) => [
  JSON.stringify({
    kind: 'deploy',
    schema: 1,
    sha: 'a',
    time: 't',
    runUrl: 'u',
    actor: 'x',
    project: 'app',
    compose: 'v2',
    files: {},
    topLevel: parseComposeModel(config).topLevel
  }),
  JSON.stringify({ kind: 'service', service: 'web', inputs: {}, configHash: hash, containerHash: 'label-1' })
]

function options(overrides: Partial<DeployOptions> = {}): DeployOptions {
  return {
    stack: { remoteDir: '/srv/app', composeFiles: ['compose.yaml'], projectName: '', composeCommand: 'auto' },
    files: [stackFile('compose.yaml', Buffer.from('services: {web: {image: registry/web:v2}}\n'), true)],
    envFiles: new Map(),
    mode: 'surgical',
    pull: true,
    rollback: true,
    dryRun: false,
    limits: { lockTimeoutSeconds: 60, commandTimeoutSeconds: 60, healthTimeoutSeconds: 60 },
    run: { id: 'run-1', url: 'https://github.com/acme/infra/actions/runs/1', actor: 'octocat', sha: 'b'.repeat(40) },
    ...overrides
  }
}

function recorder(): DeployLog & { lines: string[] } {
  const lines: string[] = []
  return {
    lines,
    info: (m) => lines.push(m),
    warning: (m) => lines.push(`warning: ${m}`),
    remote: (l) => lines.push(...l.map((x) => `| ${x}`)),
    mask: (v) => lines.push(...v.map((x) => `mask: ${x}`))
  }
}

describe('deployToHost', () => {
  it("masks the values of the VM's env files before it shows a line from the host, even when the inspection failed", async () => {
    const envFile = Buffer.from('DB_PASSWORD="unterminated-secret\n').toString('base64')
    const host = new FakeHost({
      containers: [],
      record: [],
      applies: [],
      inspect: (mark) => ({
        code: 65,
        stdout: `${mark} section envfiles\n${envFile}\n`,
        stderr: 'unterminated quoted value "unterminated-secret'
      })
    })
    const log = recorder()
    await expect(deployToHost(host, options(), log)).rejects.toThrow(/exit code 65/)
    expect(log.lines).toEqual([
      'mask: "unterminated-secret',
      'mask: unterminated-secret',
      '| unterminated quoted value "unterminated-secret'
    ])
  })

  it('a link the inspection refused is named in the error; nothing is applied', async () => {
    const host = new FakeHost({
      containers: [],
      record: [],
      applies: [],
      inspect: (mark) => ({ code: 71, stdout: `${mark} refused-link /srv/app/conf\n`, stderr: 'gitops-lite: ...' })
    })
    await expect(deployToHost(host, options(), recorder())).rejects.toThrow(
      'On deploy@vm1:22, /srv/app/conf is a symbolic link, and the deploy never writes through one'
    )
    expect(host.calls).toEqual(['inspect'])
  })

  it('inspects, plans, applies once, and reads the streamed events', async () => {
    const host = new FakeHost({
      containers: [running],
      record: recordOf('web-hash-1'),
      applies: [{ events: ['phase up', 'health web starting', 'health web healthy', 'result success'] }]
    })
    const log = recorder()
    const outcome = await deployToHost(host, options(), log)
    expect(host.calls).toEqual(['inspect', 'apply'])
    expect(outcome).toMatchObject({ result: 'deployed', health: { web: 'healthy' } })
    expect(outcome.plan?.deploy).toEqual(['web'])
    expect(log.lines).toEqual(
      expect.arrayContaining([
        'Recreating the services',
        '  web: healthy',
        expect.stringMatching(/^ {2}web +deploy +changed +recreate +registry\/web:v1 -> registry\/web:v2/)
      ])
    )
  })

  it('a dry run and a host with nothing to do never apply', async () => {
    const dry = new FakeHost({ containers: [running], record: recordOf('web-hash-1'), applies: [] })
    expect((await deployToHost(dry, options({ dryRun: true }), recorder())).result).toBe('dry-run')
    const same = new FakeHost({
      containers: [running],
      record: recordOf('web-hash-2'),
      applies: [],
      files: [options().files[0].digest]
    })
    expect((await deployToHost(same, options(), recorder())).result).toBe('unchanged')
    expect([...dry.calls, ...same.calls]).toEqual(['inspect', 'inspect'])
  })

  it('plans again when another run deployed between inspection and apply', async () => {
    const host = new FakeHost({
      containers: [running],
      record: recordOf('web-hash-1'),
      applies: [{ code: 76, events: ['stale 1'] }, { code: 0 }]
    })
    const log = recorder()
    expect((await deployToHost(host, options(), log)).result).toBe('deployed')
    expect(host.calls).toEqual(['inspect', 'apply', 'inspect', 'apply'])
    expect(host.runDirs).toEqual(['run-1', 'run-1-plan2'])
    expect(log.lines).toContain('Another run deployed to deploy@vm1:22 since this run looked; planning again')
  })

  it('a failed health check that was rolled back fails the host with the reason', async () => {
    const host = new FakeHost({
      containers: [running],
      record: recordOf('web-hash-1'),
      applies: [
        { code: 10, events: ['failed web unhealthy', 'phase rollback', 'health web healthy', 'result rolled-back'] }
      ]
    })
    const outcome = await deployToHost(host, options(), recorder())
    expect(outcome.result).toBe('rolled-back')
    expect(outcome.error?.message).toBe(
      'The deploy to deploy@vm1:22 failed: web is unhealthy; the previous version was restored and is healthy'
    )
  })

  it('a rolled-back host says what went back: the image that failed and the one of the last good deploy', async () => {
    const record = recordOf('web-hash-1')
    record[1] = JSON.stringify({ ...JSON.parse(record[1]), image: 'registry/web:v1@sha256:' + '1'.repeat(64) })
    const host = new FakeHost({
      containers: [running],
      record,
      applies: [
        {
          code: 10,
          events: ['phase up', 'failed web unhealthy', 'phase rollback', 'failed web unhealthy', 'result rolled-back']
        }
      ]
    })
    const outcome = await deployToHost(host, options(), recorder())
    expect(outcome.rollback).toEqual({
      restoredCommit: 'a',
      services: [
        {
          service: 'web',
          failedImage: 'registry/web:v2',
          restoredImage: 'registry/web:v1@sha256:' + '1'.repeat(64),
          failed: true
        }
      ]
    })
  })

  it('the commit that writes a rollback back is recorded (audit log: restores) though nothing changes on the host', async () => {
    const nothingToDo = { containers: [running], record: recordOf('web-hash-2'), files: [options().files[0].digest] }
    const restoring = new FakeHost({
      ...nothingToDo,
      applies: [{ code: 0, events: ['phase locked', 'result success'] }]
    })
    const log = recorder()
    const run = { ...options().run, restores: 'f'.repeat(40) }
    const outcome = await deployToHost(restoring, options({ run }), log)
    expect(restoring.calls).toEqual(['inspect', 'apply'])
    expect(outcome).toMatchObject({ result: 'deployed', plan: { deploy: [] } })
    expect(restoring.applied[0]).toContain(`"restores":"${'f'.repeat(40)}"`)
    expect(log.lines).toContain(`bbbbbbb writes back the images of the failed release fffffff; recording it`)
    // Once recorded, a deploy of the same commit (Run workflow) has nothing to do again.
    const record = recordOf('web-hash-2')
    record[0] = JSON.stringify({ ...JSON.parse(record[0]), sha: 'b'.repeat(40) })
    const recorded = new FakeHost({ ...nothingToDo, record, applies: [] })
    expect((await deployToHost(recorded, options({ run }), recorder())).result).toBe('unchanged')
  })

  it('a swap that failed says so; no container was changed', async () => {
    const host = new FakeHost({
      containers: [running],
      record: recordOf('web-hash-1'),
      applies: [{ code: 12, events: ['phase swap', 'swap-failed compose.yaml', 'phase restore', 'result failed'] }]
    })
    const outcome = await deployToHost(host, options(), recorder())
    expect(outcome.error?.message).toBe(
      "The deploy to deploy@vm1:22 stopped before changing any container: the new compose.yaml could not be put in place (the host's message is above)"
    )
  })

  it('a failed pre-deploy command: the error names the service, the exit code or task state, and the command', async () => {
    const preDeploy = new Map([['web', ['sh', '-c', './migrate up']]])
    for (const [state, how] of [
      ['3', 'exited with code 3'],
      ['124', 'timed out (command-timeout)'],
      ['rejected', 'could not run (its task was rejected)'],
      ['not-created', "could not be started as a Swarm job (docker's message is above)"]
    ]) {
      const host = new FakeHost({
        containers: [running],
        record: recordOf('web-hash-1'),
        applies: [{ code: 12, events: ['pre-deploy web', `pre-deploy-failed web ${state}`, 'result failed'] }]
      })
      const outcome = await deployToHost(host, options({ preDeploy }), recorder())
      expect(outcome.error?.message).toBe(
        `The deploy to deploy@vm1:22 stopped before changing any container: the pre-deploy command of web ${how} and printed nothing`
      )
      expect(outcome.error?.fix).toContain("Fix the command (sh -c './migrate up') (x-gitops-lite.pre-deploy of web")
    }
  })

  it('a rollback that could not put the previous files back says which, and where the backup is', async () => {
    const host = new FakeHost({
      containers: [running],
      record: recordOf('web-hash-1'),
      applies: [
        {
          code: 11,
          events: [
            'failed web unhealthy',
            'phase rollback',
            'phase restore',
            'restore-failed compose.yaml',
            'result rollback-failed'
          ]
        }
      ]
    })
    const outcome = await deployToHost(host, options(), recorder())
    expect(outcome.result).toBe('failed')
    expect(outcome.error?.message).toBe(
      'The deploy to deploy@vm1:22 failed (web is unhealthy) and the previous files could not be put back: compose.yaml'
    )
    expect(outcome.error?.fix).toContain('/srv/app/.gitops-lite/runs/run-1/old')
  })

  it('a lost connection during the apply says the host finishes on its own', async () => {
    const host = new FakeHost({
      containers: [running],
      record: recordOf('web-hash-1'),
      applies: [new ConnectionLostError('The connection to deploy@vm1:22 was lost: reset')]
    })
    const outcome = await deployToHost(host, options(), recorder())
    expect(outcome.result).toBe('failed')
    expect(outcome.error?.describe()).toMatch(
      /lost: reset while deploying.*The deploy goes on on the host.*\/srv\/app\/\.gitops-lite\/runs\/run-1\/log/
    )
  })

  it('a lock held too long names the holder', async () => {
    const owner = JSON.stringify({
      runUrl: 'https://github.com/acme/infra/actions/runs/9',
      actor: 'alice',
      since: '2026-01-01T00:00:00Z'
    })
    const host = new FakeHost({
      containers: [running],
      record: recordOf('web-hash-1'),
      applies: [{ code: 75, events: [`lock-wait ${owner}`, `lock-timeout ${owner}`] }]
    })
    const outcome = await deployToHost(host, options(), recorder())
    expect(outcome.error?.message).toBe(
      'The deploy lock on deploy@vm1:22 was still held after 60 s, by run https://github.com/acme/infra/actions/runs/9 (by alice, since 2026-01-01T00:00:00Z)'
    )
  })

  it("a failed inspection points at the host's output in the log instead of quoting it", async () => {
    const host = new FakeHost({
      containers: [],
      record: [],
      applies: [],
      inspect: {
        code: 65,
        stdout: 'TOKEN=s3cr3t from stdout\n',
        stderr: 'compose: TOKEN=s3cr3t is invalid\ngitops-lite: compose rejected the files\n'
      }
    })
    const log = recorder()
    const error = await deployToHost(host, options(), log).then(
      () => undefined,
      (e: unknown) => e
    )
    expect(error).toBeInstanceOf(UserError)
    expect((error as UserError).message).toBe(
      "The inspection on deploy@vm1:22 failed (exit code 65); see the host's output above in the log"
    )
    expect((error as UserError).describe()).not.toContain('s3cr3t')
    expect(log.lines).toEqual(['| compose: TOKEN=s3cr3t is invalid', '| gitops-lite: compose rejected the files'])
  })

  it("a failed apply does not copy the host's output (compose output, container logs) into the error", async () => {
    const host = new FakeHost({
      containers: [running],
      record: recordOf('web-hash-1'),
      applies: [{ code: 69, stdout: 'container log: TOKEN=s3cr3t\n', stderr: '' }]
    })
    const log = recorder()
    const outcome = await deployToHost(host, options(), log)
    expect(outcome.result).toBe('failed')
    expect(outcome.error?.message).toBe(
      "The deploy on deploy@vm1:22 failed (exit code 69); see the host's output above in the log"
    )
    expect(outcome.error?.describe()).not.toContain('s3cr3t')
    expect(log.lines).toContain('| container log: TOKEN=s3cr3t')
  })

  it('a record that could not be written after the deploy says the services ARE deployed, and fails the step', async () => {
    const host = new FakeHost({
      containers: [running],
      record: recordOf('web-hash-1'),
      applies: [{ code: 14, events: ['phase up', 'health web healthy', 'result deployed-without-record'] }]
    })
    const outcome = await deployToHost(host, options(), recorder())
    expect(outcome.result).toBe('deployed')
    expect(outcome.error?.message).toBe(
      'The services on deploy@vm1:22 are deployed and healthy, but the deploy record (/srv/app/.gitops-lite/state) could not be written'
    )
    expect(outcome.error?.fix).toMatch(/redeploys these services once more; rerun the workflow to write it/)
    expect(outcome.error?.describe()).not.toMatch(/Nothing was changed/)
  })

  it('an apply that was killed or ended unexpectedly does not claim nothing changed', async () => {
    for (const failure of [{ code: 137 }, { code: 1 }, { code: null, signal: 'KILL' }] as Partial<ExecResult>[]) {
      const host = new FakeHost({ containers: [running], record: recordOf('web-hash-1'), applies: [failure] })
      const error = (await deployToHost(host, options(), recorder())).error
      expect(error?.describe()).not.toMatch(/Nothing was changed/)
      expect(error?.fix).toMatch(
        /state of the host is unknown.*\/srv\/app\/\.gitops-lite\/runs\/run-1\/log.*Rerun the workflow: it plans against what the host runs now and converges/
      )
    }
    const beforeChange = new FakeHost({
      containers: [running],
      record: recordOf('web-hash-1'),
      applies: [{ code: 70, stderr: 'gitops-lite: cannot create /srv/app/.gitops-lite/runs/run-1\n' }]
    })
    expect((await deployToHost(beforeChange, options(), recorder())).error?.fix).toMatch(
      /^Nothing was changed on the host/
    )
  })

  it('a service whose containers could not be removed fails the step, naming it, though the rest is deployed', async () => {
    const old = JSON.stringify({
      id: 'c2',
      name: '/app-old-1',
      service: 'old',
      oneoff: 'False',
      configHash: 'x',
      image: 'registry/old:v1',
      state: 'running',
      health: null,
      exitCode: 0,
      restartPolicy: ''
    })
    const host = new FakeHost({
      containers: [running, old],
      record: recordOf('web-hash-1'),
      applies: [
        { code: 15, events: ['phase remove', 'remove-failed old', 'remove-failed old', 'result remove-failed'] }
      ]
    })
    const log = recorder()
    const outcome = await deployToHost(host, options(), log)
    expect(outcome).toMatchObject({ result: 'deployed', removeFailed: ['old'] })
    expect(outcome.error?.message).toBe(
      'The services on deploy@vm1:22 are deployed and healthy, but the containers of old (gone from the compose files) could not be removed'
    )
    expect(log.lines).toContain('warning: old: removing its container failed')
  })
  it('a connection lost during the inspection fails the host before any change, saying so', async () => {
    const host = new FakeHost({
      containers: [running],
      record: recordOf('web-hash-1'),
      applies: [],
      inspect: () => {
        throw new ConnectionLostError('The connection to deploy@vm1:22 was lost: ECONNRESET')
      }
    })
    const outcome = await deployToHost(host, options(), recorder())
    expect(outcome.result).toBe('failed')
    expect(outcome.error).toBeInstanceOf(UserError)
    expect(outcome.error?.message).toBe('The connection to deploy@vm1:22 was lost: ECONNRESET while inspecting it')
    expect(outcome.error?.fix).toMatch(/^Nothing was changed on the host/)
    expect(host.calls).toEqual(['inspect'])
  })
})
