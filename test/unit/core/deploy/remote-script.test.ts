// The host side, run locally by sh: the generated scripts parse, values stay data, and the
// library's health wait, lock, file swap and detached runner behave (docker is a fake here).
import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  statSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  ATTACHED_BOOTSTRAP,
  DETACHED_BOOTSTRAP,
  ExitCode,
  REMOTE_LIBRARY,
  SWARM_LIBRARY,
  STACKS_LIBRARY,
  ShellScript,
  applyPhases,
  applyScript,
  exitCodeVariables,
  inspectionSections,
  libraryScript,
  remoteEvents,
  removePhases,
  stackEvents,
  computePlan,
  digestScript,
  inspectScript,
  stackFile,
  type HostReport,
  type StackTarget
} from '@gitops-lite/core'

const limits = { lockTimeoutSeconds: 5, commandTimeoutSeconds: 60, healthTimeoutSeconds: 10 }
const hostile = `/srv/it's "here" $(touch /tmp/pwned) \`id\` ; rm -rf /`
const stack: StackTarget = {
  remoteDir: hostile,
  composeFiles: ['compose.yaml'],
  projectName: '',
  composeCommand: 'auto'
}
const files = [
  stackFile('compose.yaml', Buffer.from('services: {}\n'), true),
  stackFile('conf/a b.txt'.replace(' ', '_'), Buffer.from('x\n'), false)
]

function emptyReport(): HostReport {
  return {
    compose: 'v2',
    composeVersion: '2',
    directory: '/srv/app',
    project: 'app',
    generation: '0',
    stateDamage: [],
    model: { services: new Map([['web', { image: 'x', mounts: [] }]]), topLevel: 't' },
    hashes: new Map([['web', 'h']]),
    containers: [],
    hostFiles: ['missing', 'missing']
  }
}

function apply(): string {
  const plan = computePlan({
    report: emptyReport(),
    uploads: files,
    envFiles: new Map(),
    hostDigests: new Map(),
    mode: 'surgical'
  })
  return applyScript({
    stack,
    mark: '@@gl-1',
    limits,
    runId: '1-1-abc',
    plan,
    files,
    pull: true,
    rollback: true,
    owner: `{"runUrl":"it's"}`,
    recordHead: '{"kind":"deploy"}\n',
    servicePrefixes: new Map([['web', '{"kind":"service","service":"web"']]),
    audit: '{"a":1'
  })
}

describe('generated scripts', () => {
  const scripts = () => ({
    inspect: inspectScript(stack, files, '@@gl-1', limits),
    digest: digestScript(stack, ['/a b', "/it's"], '@@gl-1', limits),
    apply: apply()
  })

  it.each(['sh', 'bash'])('parse with %s -n', (shell) => {
    for (const [name, script] of Object.entries(scripts())) {
      const result = spawnSync(shell, ['-n'], { input: script, encoding: 'utf8' })
      expect({ name, stderr: result.stderr, status: result.status }).toEqual({ name, stderr: '', status: 0 })
    }
  })

  it('keep every value as data: the variables read back exactly as given', () => {
    const assignments = scripts().apply.split(REMOTE_LIBRARY)[0]
    const probe = `${assignments}\nprintf '%s|%s|%s' "$GL_DIR" "$GL_OWNER" "$GL_DEPLOY"`
    const result = spawnSync('sh', ['-c', probe], { encoding: 'utf8' })
    expect(result.stdout).toBe(`${hostile}|{"runUrl":"it's"}|web`)
    expect(existsSync('/tmp/pwned')).toBe(false)
  })

  it('pass pre-deploy commands as argument vectors, in service order', () => {
    const report = {
      ...emptyReport(),
      model: {
        services: new Map([
          ['web', { mounts: [] }],
          ['api', { mounts: [] }]
        ]),
        topLevel: ''
      }
    }
    const preDeploy = new Map([
      ['web', ['sh', '-c', hostile]],
      ['api', ['migrate', '--to', "it's"]]
    ])
    const plan = computePlan({
      report,
      uploads: files,
      envFiles: new Map(),
      hostDigests: new Map(),
      mode: 'surgical',
      preDeploy
    })
    const script = applyScript({
      stack,
      mark: '@@gl-1',
      limits,
      runId: '1',
      plan,
      files,
      pull: true,
      rollback: true,
      owner: '{}',
      recordHead: '{}\n',
      servicePrefixes: new Map([
        ['web', '{"a":1'],
        ['api', '{"a":1']
      ]),
      audit: '{"a":1'
    })
    const definition = script.slice(
      script.indexOf('gl_pre_deploy_commands() {'),
      script.indexOf('\n}\n', script.indexOf('gl_pre_deploy_commands() {')) + 3
    )
    const probe = `gl_pre_deploy() { printf '[%s]' "$@"; echo; }\n${definition}\ngl_pre_deploy_commands`
    const result = spawnSync('sh', ['-c', probe], { encoding: 'utf8' })
    expect(result.stdout).toBe(`[api][migrate][--to][it's]\n[web][sh][-c][${hostile}]\n`)
    expect(existsSync('/tmp/pwned')).toBe(false)
  })

  it('refuse a list item the host would split, and a here-document that could end early', () => {
    expect(() => inspectScript({ ...stack, composeFiles: ['a b.yaml'] }, files, '@@gl-1', limits)).toThrow(
      /cannot be passed to the host as one word/
    )
    expect(() => new ShellScript().commandWithInput(['cat'], 'x\nGITOPS_LITE_EOF\ny')).toThrow(
      /cannot contain the line/
    )
  })
})

describe('lib.sh, swarm.sh and the TypeScript side', () => {
  const libraries = `${REMOTE_LIBRARY}\n${SWARM_LIBRARY}`
  const matches = (pattern: RegExp) => [...new Set([...libraries.matchAll(pattern)].map((m) => m[1]))].sort()

  it('agree on the events, the apply phases and the inspection sections', () => {
    expect(matches(/\bgl_event ([a-z-]+)/g)).toEqual([...remoteEvents].sort())
    expect(matches(/\bgl_event phase ([a-z-]+)/g)).toEqual([...applyPhases].sort())
    expect(matches(/\bgl_event section ([a-z-]+)/g)).toEqual([...inspectionSections].sort())
  })

  it('agree on the events and phases of stacks.sh (listing and removal)', () => {
    const inStacks = (pattern: RegExp) => [...new Set([...STACKS_LIBRARY.matchAll(pattern)].map((m) => m[1]))].sort()
    expect(inStacks(/\bgl_event ([a-z-]+)/g)).toEqual([...stackEvents].sort())
    expect(inStacks(/\bgl_event phase ([a-z-]+)/g)).toEqual([...removePhases].sort())
    expect(STACKS_LIBRARY).not.toMatch(/\b(exit|gl_fail) +[0-9]/)
  })

  it('agree on the exit codes: the libraries exit only with the ExitCode variables they are given', () => {
    const used = [
      ...new Set([...`${libraries}${STACKS_LIBRARY}`.matchAll(/\$(GL_EXIT_[A-Z_]+)/g)].map((m) => m[1]))
    ].sort()
    expect(used).toEqual(Object.keys(exitCodeVariables()).sort())
    expect(exitCodeVariables()).toMatchObject({ GL_EXIT_OK: '0', GL_EXIT_ROLLED_BACK: '10', GL_EXIT_STALE_PLAN: '76' })
    expect(libraries).not.toMatch(/\b(exit|gl_fail|gl_finish [a-z-]+) +[0-9]/)
  })
})

/** Runs the library as a deploy gives it (libraryScript) with a fake docker on PATH; `body` is the code to run after it. */
function runLibrary(body: string, fake: string, env: Record<string, string> = {}) {
  const target: StackTarget = {
    remoteDir: join(fake, 'remote'),
    composeFiles: ['compose.yaml'],
    projectName: 'app',
    composeCommand: 'auto'
  }
  const hostLimits = { lockTimeoutSeconds: 1, commandTimeoutSeconds: 60, healthTimeoutSeconds: 5 }
  // GL_TIMEOUT is gl_check_host's, which these tests skip.
  const script = libraryScript(target, '@@gl', hostLimits, [], { GL_TIMEOUT: '', ...env })
    .code('GL_STEADY_SECONDS=1')
    .code(body)
  return spawnSync('sh', ['-c', script.toString()], {
    encoding: 'utf8',
    env: { ...process.env, PATH: `${join(fake, 'bin')}:${process.env.PATH}`, FAKE: fake },
    timeout: 20_000
  })
}

// docker ps prints $FAKE/ids.<service>; docker inspect prints the next line of $FAKE/state.<id> (then keeps the last).
const fakeDocker = `#!/bin/sh
case $1 in
  ps) for a in "$@"; do case $a in label=com.docker.compose.service=*) s=\${a#label=com.docker.compose.service=} ;; esac; done
      cat "$FAKE/ids.$s" 2>/dev/null || true ;;
  inspect) case $3 in *'range .Log'*) echo "exit 1: connection refused"; exit 0 ;; esac
      eval id=\\$$#; n=$(cat "$FAKE/n.$id" 2>/dev/null || echo 1)
      line=$(sed -n "\${n}p" "$FAKE/state.$id"); [ -n "$line" ] || line=$(tail -n 1 "$FAKE/state.$id")
      echo $((n + 1)) > "$FAKE/n.$id"; echo "$line" ;;
  logs) case $4 in quiet*) ;; *) echo "last words of $4" ;; esac ;;
  rm) case $3 in *stuck*) echo "Error response from daemon: cannot remove container $3" >&2; exit 1 ;; esac ;;
esac
`

function fakeHost(services: Record<string, string[][]>): string {
  const fake = mkdtempSync(join(tmpdir(), 'gl-fake-docker-'))
  mkdirSync(join(fake, 'bin'))
  writeFileSync(join(fake, 'bin', 'docker'), fakeDocker)
  chmodSync(join(fake, 'bin', 'docker'), 0o755)
  for (const [service, containers] of Object.entries(services)) {
    writeFileSync(join(fake, `ids.${service}`), containers.map((_, i) => `${service}${i}\n`).join(''))
    containers.forEach((states, i) => writeFileSync(join(fake, `state.${service}${i}`), states.join('\n') + '\n'))
  }
  return fake
}

const events = (stdout: string) =>
  stdout
    .split('\n')
    .filter((l) => l.startsWith('@@gl '))
    .map((l) => l.slice(5))

describe('the health wait (gl_wait_healthy)', () => {
  it('waits for a healthcheck to pass', () => {
    const fake = fakeHost({
      web: [['running starting 0 no. 0 T1', 'running starting 0 no. 0 T1', 'running healthy 0 no. 0 T1']]
    })
    const result = runLibrary('gl_wait_healthy web; echo "rc=$?"', fake)
    expect(events(result.stdout)).toEqual([
      'phase health web',
      'health web starting',
      'health web healthy',
      'phase healthy'
    ])
    expect(result.stdout).toContain('rc=0')
  })

  it('fails at once on unhealthy or a crashed container, naming the service', () => {
    const unhealthy = runLibrary(
      'gl_wait_healthy web; echo "rc=$? failed=$GL_FAILED"',
      fakeHost({ web: [['running starting 0 no. 0 T1', 'running unhealthy 0 no. 0 T1']] })
    )
    expect(events(unhealthy.stdout)).toContain('failed web unhealthy')
    expect(unhealthy.stdout).toContain('rc=1 failed=web')
    const crashed = runLibrary('gl_wait_healthy web; echo "rc=$?"', fakeHost({ web: [['exited none 3 no. 0 T1']] }))
    expect(events(crashed.stdout)).toContain('failed web exited(3)')
    const missing = runLibrary('gl_wait_healthy web; echo "rc=$?"', fakeHost({}))
    expect(events(missing.stdout)).toContain('failed web no-container')
  })

  it('without a healthcheck, wants the container running unchanged for a while; a finished job is fine', () => {
    const steady = runLibrary(
      'gl_wait_healthy worker job; echo "rc=$?"',
      fakeHost({ worker: [['running none 0 always. 0 T1']], job: [['exited none 0 no. 0 T1']] })
    )
    expect(steady.stdout).toContain('rc=0')
    const restarting = [
      'running none 0 always. 0 T1',
      'restarting none 1 always. 1 T1',
      'running none 0 always. 1 T2',
      'restarting none 1 always. 2 T2',
      'running none 0 always. 2 T3'
    ]
    const loop = runLibrary(
      'gl_wait_healthy worker; echo "rc=$? failed=$GL_FAILED"',
      fakeHost({ worker: [[...restarting, ...restarting.map((s) => s.replace(/T(\d)/, 'T9$1'))]] }),
      { GL_HEALTH_TIMEOUT: '3' }
    )
    expect(events(loop.stdout)).toContain('failed worker not-ready-after-3-s')
    expect(loop.stdout).toContain('rc=1 failed=worker')
  })

  it('follows docker events while it waits, and stops the stream when it is done', () => {
    const fake = fakeHost({ web: [['running starting 0 no. 0 T1', 'running healthy 0 no. 0 T1']] })
    // A stream that stays open: the wait must end it rather than leave it running on the host.
    writeFileSync(
      join(fake, 'bin', 'docker'),
      fakeDocker.replace(
        'case $1 in',
        'case $1 in\n  events) echo "$$" > "$FAKE/events.pid"; echo "$*" > "$FAKE/events.args"; exec sleep 30 ;;'
      )
    )
    const result = runLibrary('gl_wait_healthy web; echo "rc=$?"', fake)
    expect(result.stdout).toContain('rc=0')
    expect(readFileSync(join(fake, 'events.args'), 'utf8')).toMatch(
      /--until \d+ .*label=com\.docker\.compose\.project=app .*event=health_status/
    )
    const pid = Number(readFileSync(join(fake, 'events.pid'), 'utf8'))
    expect(() => process.kill(pid, 0)).toThrow()
  })

  it("shows the failing service's last log lines and healthchecks, prefixed", () => {
    const result = runLibrary('gl_show_logs web', fakeHost({ web: [['running unhealthy 0 no. 0 T1']] }))
    expect(result.stdout).toBe(
      'Last 40 log lines of web (container web0):\n  | last words of web0\nLast healthchecks of web:\n  | exit 1: connection refused\n'
    )
  })

  it('says so when the failing service logged nothing, rather than printing an empty heading', () => {
    const result = runLibrary('gl_show_logs quiet', fakeHost({ quiet: [['running unhealthy 0 no. 0 T1']] }))
    expect(result.stdout).toBe(
      'quiet (container quiet0) logged nothing.\nLast healthchecks of quiet:\n  | exit 1: connection refused\n'
    )
  })
})

describe('the project name (gl_resolve_project)', () => {
  it("is compose v1's default: COMPOSE_PROJECT_NAME from the .env, else the folder name, normalized", () => {
    const fake = fakeHost({})
    const remote = join(fake, 'My.Stack')
    mkdirSync(remote)
    const resolve = () =>
      runLibrary('GL_COMPOSE=v1; gl_resolve_project; printf %s "$GL_PROJECT"', fake, { GL_DIR: remote, GL_PROJECT: '' })
        .stdout
    expect(resolve()).toBe('mystack')
    writeFileSync(join(remote, '.env'), 'A=1\nCOMPOSE_PROJECT_NAME="Shop_Staging"\n')
    expect(resolve()).toBe('shop_staging')
  })
})

describe('the lock (gl_lock)', () => {
  it('makes a second deploy wait, showing who holds it, and gives up after lock-timeout', async () => {
    const fake = fakeHost({})
    mkdirSync(join(fake, 'remote', '.gitops-lite'), { recursive: true })
    writeFileSync(
      join(fake, 'remote', '.gitops-lite', 'lock.owner'),
      '{"runUrl":"https://github.com/acme/infra/actions/runs/1"}\n'
    )
    const holder = spawn('sh', [
      '-c',
      `exec 9>>"${join(fake, 'remote', '.gitops-lite', 'lock')}"; flock -x 9; echo locked; exec sleep 4`
    ])
    await new Promise((resolve) => holder.stdout.once('data', resolve))
    const waiter = runLibrary('gl_lock -x; echo got-it', fake, { GL_LOCK_TIMEOUT: '1' })
    holder.kill()
    expect(waiter.status).toBe(ExitCode.lockTimeout)
    expect(events(waiter.stdout)).toEqual([
      'lock-wait {"runUrl":"https://github.com/acme/infra/actions/runs/1"}',
      'lock-timeout {"runUrl":"https://github.com/acme/infra/actions/runs/1"}'
    ])
    const free = runLibrary('gl_lock -x; echo got-it', fake)
    expect(free.stdout).toContain('got-it') // a dead holder leaves no stale lock
  })
})

describe('swap and restore', () => {
  it('back up what is replaced, put new files in place, and restore exactly the previous state', () => {
    const fake = fakeHost({})
    const remote = join(fake, 'remote')
    const run = join(fake, 'run')
    mkdirSync(join(run, 'new', 'conf'), { recursive: true })
    mkdirSync(remote, { recursive: true })
    writeFileSync(join(remote, 'compose.yaml'), 'old compose\n')
    writeFileSync(join(remote, '.env'), 'SECRET=1\n')
    writeFileSync(join(run, 'new', 'compose.yaml'), 'new compose\n')
    writeFileSync(join(run, 'new', 'conf', 'added.txt'), 'added\n')
    writeFileSync(join(run, 'new', '.env'), 'SECRET=overwritten\n')
    const env = { GL_FILES: 'compose.yaml conf/added.txt .env' }
    const swapped = runLibrary(`GL_RUN=${run}; GL_STAGE=${run}/new; gl_swap && echo swapped`, fake, env)
    expect(swapped.stdout).toContain('swapped')
    expect(readFileSync(join(remote, 'compose.yaml'), 'utf8')).toBe('new compose\n')
    expect(readFileSync(join(remote, 'conf', 'added.txt'), 'utf8')).toBe('added\n')
    expect(readFileSync(join(remote, '.env'), 'utf8')).toBe('SECRET=1\n')
    runLibrary(`GL_RUN=${run}; gl_restore`, fake, env)
    expect(readFileSync(join(remote, 'compose.yaml'), 'utf8')).toBe('old compose\n')
    expect(existsSync(join(remote, 'conf', 'added.txt'))).toBe(false)
    expect(readFileSync(join(remote, '.env'), 'utf8')).toBe('SECRET=1\n')
  })
})

describe('a swap that fails part-way', () => {
  it('names the file, and the restore puts back only the files it had changed', () => {
    const fake = fakeHost({})
    const remote = join(fake, 'remote')
    const run = join(remote, '.gitops-lite', 'runs', 'r1')
    mkdirSync(join(run, 'new', 'sub'), { recursive: true })
    writeFileSync(join(remote, 'a.txt'), 'old a\n')
    writeFileSync(join(remote, 'c.txt'), 'old c\n')
    writeFileSync(join(remote, 'sub'), 'a file where the folder sub/ should be\n')
    for (const [name, text] of [
      ['a.txt', 'new a\n'],
      ['sub/b.txt', 'new b\n'],
      ['c.txt', 'new c\n']
    ])
      writeFileSync(join(run, 'new', name), text)
    const result = runLibrary(`GL_RUN=${run}; GL_STAGE=${run}/new; gl_swap || gl_restore; echo "rc=$?"`, fake, {
      GL_FILES: 'a.txt sub/b.txt c.txt'
    })
    expect(events(result.stdout)).toEqual(['phase swap', 'swap-failed sub/b.txt', 'phase restore'])
    expect(result.stdout).toContain('rc=0')
    expect(readFileSync(join(remote, 'a.txt'), 'utf8')).toBe('old a\n')
    expect(readFileSync(join(remote, 'c.txt'), 'utf8')).toBe('old c\n')
  })

  it('restores nothing when nothing was changed', () => {
    const fake = fakeHost({})
    const remote = join(fake, 'remote')
    const run = join(remote, '.gitops-lite', 'runs', 'r1')
    mkdirSync(join(run, 'new'), { recursive: true })
    writeFileSync(join(remote, 'sub'), 'a file where the folder sub/ should be\n')
    writeFileSync(join(run, 'new', 'b.txt'), 'new b\n')
    const result = runLibrary(
      `GL_RUN=${run}; GL_STAGE=${run}/new; mkdir -p "$GL_STAGE/sub" && mv "$GL_STAGE/b.txt" "$GL_STAGE/sub/"; gl_swap || gl_restore; echo "rc=$?"`,
      fake,
      {
        GL_FILES: 'sub/b.txt'
      }
    )
    expect(events(result.stdout)).toEqual(['phase swap', 'swap-failed sub/b.txt'])
    expect(result.stdout).toContain('rc=0')
  })
})

describe('a restore that cannot put a file back', () => {
  it('names the file and fails, and the rollback stops there (exit 11) rather than start the old services on new files', () => {
    const fake = fakeHost({ web: [['running unhealthy 0 no. 0 T1']] })
    const remote = join(fake, 'remote')
    const run = join(remote, '.gitops-lite', 'runs', 'r1')
    mkdirSync(join(run, 'new'), { recursive: true })
    writeFileSync(join(remote, 'compose.yaml'), 'old compose\n')
    writeFileSync(join(run, 'new', 'compose.yaml'), 'new compose\n')
    writeFileSync(join(run, 'record.head'), '{"kind":"deploy"}\n')
    // The backup is swapped for a directory once the swap has made it: putting it back fails.
    const env = {
      GL_FILES: 'compose.yaml',
      GL_DEPLOY: 'web',
      GL_RECREATE: 'web',
      GL_START_FIRST: '',
      GL_REMOVE: '',
      GL_PREVIOUS: 'web',
      GL_NEW_SERVICES: '',
      GL_FULL: '0',
      GL_PULL: '0',
      GL_ROLLBACK: '1',
      GL_AUDIT: '{"a":1',
      GL_COMPOSE: 'v2',
      GL_TIMEOUT: ''
    }
    const script = `GL_RUN=${run}; GL_STAGE=${run}/new; gl_started=$(date +%s); gl_swap() { mkdir -p "$GL_RUN/old/compose.yaml" && : > "$GL_RUN/old.absent" && mv -f "$GL_STAGE/compose.yaml" "$GL_DIR/compose.yaml" && echo compose.yaml > "$GL_RUN/swapped"; }; gl_apply_main`
    const result = runLibrary(script, fake, env)
    expect(result.status).toBe(ExitCode.rollbackFailed)
    const seen = events(result.stdout)
    expect(seen.slice(seen.indexOf('phase rollback'))).toEqual([
      'phase rollback',
      'phase restore',
      'restore-failed compose.yaml',
      'result rollback-failed'
    ])
    expect(readFileSync(join(remote, 'compose.yaml'), 'utf8')).toBe('new compose\n')
  })
})

describe('an apply that fails after taking the lock', () => {
  it('removes lock.owner, so a waiting run is not told a dead run holds the lock', () => {
    const fake = fakeHost({})
    const state = join(fake, 'remote', '.gitops-lite')
    mkdirSync(join(state, 'generation'), { recursive: true }) // a directory: the generation cannot be written
    const env = { GL_RUN_ID: 'r1', GL_OWNER: '{"runUrl":"u"}', GL_EXPECT_GENERATION: '0' }
    const result = runLibrary('gl_apply_begin; echo "not reached"', fake, env)
    expect(result.status).toBe(ExitCode.hostError)
    expect(result.stderr).toContain('cannot write')
    expect(existsSync(join(state, 'lock.owner'))).toBe(false)
  })
})

describe('listing the containers for the inspection (gl_containers)', () => {
  it('fails when docker cannot list or inspect them, but not when one went away in between', () => {
    const run = (ps: string, inspect: string) => {
      const fake = fakeHost({})
      writeFileSync(join(fake, 'bin', 'docker'), `#!/bin/sh\ncase $1 in ps) ${ps} ;; inspect) ${inspect} ;; esac\n`)
      return runLibrary('gl_list_compose_containers "$FAKE/listing"; gl_containers "$FAKE/listing"; echo "rc=$?"', fake)
        .stdout
    }
    expect(run('exit 1', 'exit 0')).toContain('rc=1')
    expect(run('echo app c1', 'echo "{}"; exit 1')).toContain('rc=0')
    expect(run('echo app c1', 'exit 124')).toContain('rc=1')
    // Only the project's containers are inspected.
    expect(run('echo other c0; echo app c1', 'echo "inspect $*"')).toMatch(/inspect .* c1\n/)
    expect(run('echo other c0; echo app c1', 'echo "inspect $*"')).not.toMatch(/ c0/)
  })
})

describe('docker calls on the host', () => {
  it('are bounded by command-timeout, so a hung engine cannot hold the lock for ever', () => {
    const fake = fakeHost({})
    writeFileSync(join(fake, 'bin', 'docker'), '#!/bin/sh\nexec sleep 30\n')
    const started = Date.now()
    const result = runLibrary('gl_service_ids web; echo "rc=$?"', fake, { GL_TIMEOUT: 'timeout 1' })
    expect(result.stdout).toContain('rc=124')
    expect(Date.now() - started).toBeLessThan(10_000)
  })

  it('in the health wait, get a short limit each, so a hung engine fails the wait near health-timeout', () => {
    const fake = fakeHost({})
    writeFileSync(join(fake, 'bin', 'docker'), '#!/bin/sh\nexec sleep 30\n')
    const started = Date.now()
    const result = runLibrary(
      'GL_POLL_SECONDS=1; gl_wait_healthy web; echo "rc=$? failed=$GL_FAILED timeout=$GL_TIMEOUT"',
      fake,
      { GL_TIMEOUT: 'timeout 60', GL_HEALTH_TIMEOUT: '2' }
    )
    expect(events(result.stdout)).toContain('failed web not-ready-after-2-s')
    expect(result.stdout).toContain('rc=1 failed=web timeout=timeout 60')
    expect(Date.now() - started).toBeLessThan(15_000)
  })
})

describe('swap and restore keep the host records', () => {
  it('never replace or remove anything under .gitops-lite/ (lock, record, audit log)', () => {
    const fake = fakeHost({})
    const remote = join(fake, 'remote')
    const run = join(fake, 'run')
    mkdirSync(join(run, 'new', '.gitops-lite'), { recursive: true })
    mkdirSync(join(remote, '.gitops-lite'), { recursive: true })
    writeFileSync(join(remote, 'compose.yaml'), 'old compose\n')
    writeFileSync(join(remote, '.gitops-lite', 'audit.log'), '{"result":"success"}\n')
    writeFileSync(join(remote, '.gitops-lite', 'lock'), '')
    const lockInode = statSync(join(remote, '.gitops-lite', 'lock')).ino
    writeFileSync(join(run, 'new', 'compose.yaml'), 'new compose\n')
    for (const name of ['audit.log', 'lock', 'state']) writeFileSync(join(run, 'new', '.gitops-lite', name), 'forged\n')
    const env = { GL_FILES: 'compose.yaml .gitops-lite/audit.log .gitops-lite/lock .gitops-lite/state' }
    expect(runLibrary(`GL_RUN=${run}; GL_STAGE=${run}/new; gl_swap && echo swapped`, fake, env).stdout).toContain(
      'swapped'
    )
    expect(readFileSync(join(remote, 'compose.yaml'), 'utf8')).toBe('new compose\n')
    expect(readFileSync(join(remote, '.gitops-lite', 'audit.log'), 'utf8')).toBe('{"result":"success"}\n')
    expect(statSync(join(remote, '.gitops-lite', 'lock')).ino).toBe(lockInode)
    expect(existsSync(join(remote, '.gitops-lite', 'state'))).toBe(false)
    runLibrary(`GL_RUN=${run}; gl_restore`, fake, env)
    expect(readFileSync(join(remote, 'compose.yaml'), 'utf8')).toBe('old compose\n')
    expect(readFileSync(join(remote, '.gitops-lite', 'audit.log'), 'utf8')).toBe('{"result":"success"}\n')
    expect(existsSync(join(remote, '.gitops-lite', 'lock'))).toBe(true)
  })
})

describe('removing services gone from the files (gl_remove_containers)', () => {
  it('tries every container, and a failed removal fails it, naming the service', () => {
    const result = runLibrary(
      'gl_remove_containers old old-1 old old-stuck-2 cache cache-1; echo "rc=$?"',
      fakeHost({})
    )
    expect(events(result.stdout)).toEqual(['phase remove', 'remove-failed old'])
    expect(result.stdout).toContain('rc=1')
    expect(result.stderr).toContain('cannot remove container old-stuck-2')
    expect(runLibrary('gl_remove_containers old old-1; echo "rc=$?"', fakeHost({})).stdout).toContain('rc=0')
  })

  it('the apply passes each container with its service', () => {
    const report = {
      ...emptyReport(),
      containers: [
        {
          id: 'c0ffee',
          name: 'app-old-1',
          service: 'old',
          oneoff: false,
          configHash: '',
          image: 'x',
          state: 'running',
          health: null,
          exitCode: 0,
          restartPolicy: ''
        }
      ]
    }
    const plan = computePlan({ report, uploads: files, envFiles: new Map(), hostDigests: new Map(), mode: 'surgical' })
    const script = applyScript({
      stack,
      mark: '@@gl-1',
      limits,
      runId: '1',
      plan,
      files,
      pull: true,
      rollback: true,
      owner: '{}',
      recordHead: '{}\n',
      servicePrefixes: new Map([['web', '{"kind":"service"']]),
      audit: '{"a":1'
    })
    const probe = `${script.split(REMOTE_LIBRARY)[0]}\nprintf '%s' "$GL_REMOVE"`
    expect(spawnSync('sh', ['-c', probe], { encoding: 'utf8' }).stdout).toBe('old c0ffee')
  })
})

describe('start-first services in the apply script', () => {
  it('passes each with its rollout settings, and leaves it out of the recreate and rollback-by-recreate lists', () => {
    const report = emptyReport()
    const running = (service: string) => ({
      id: `${service}1`,
      name: `app-${service}-1`,
      service,
      oneoff: false,
      configHash: 'old',
      image: 'x',
      state: 'running',
      health: null,
      exitCode: 0,
      restartPolicy: ''
    })
    report.containers = [running('web'), running('db')]
    report.hashes = new Map([
      ['web', 'h2'],
      ['db', 'h2']
    ])
    report.model.services.set('web', {
      image: 'x',
      mounts: [],
      startFirst: {
        replicas: 2,
        parallelism: 1,
        delaySeconds: 3,
        monitorSeconds: 5,
        stopGraceSeconds: 20,
        conflicts: []
      }
    })
    report.model.services.set('db', { image: 'y', mounts: [] })
    const plan = computePlan({ report, uploads: files, envFiles: new Map(), hostDigests: new Map(), mode: 'surgical' })
    const prefixes = new Map([
      ['web', '{"kind":"service"'],
      ['db', '{"kind":"service"']
    ])
    const script = applyScript({
      stack,
      mark: '@@gl-1',
      limits,
      runId: '1',
      plan,
      files,
      pull: true,
      rollback: true,
      owner: '{}',
      recordHead: '{}\n',
      servicePrefixes: prefixes,
      audit: '{"a":1'
    })
    const probe = `${script.split(REMOTE_LIBRARY)[0]}\nprintf '%s|%s|%s|%s' "$GL_DEPLOY" "$GL_RECREATE" "$GL_START_FIRST" "$GL_PREVIOUS"`
    expect(spawnSync('sh', ['-c', probe], { encoding: 'utf8' }).stdout).toBe('db web|db|web 2 1 3 5 20|db')
  })
})

describe('the end of an apply (gl_apply_main)', () => {
  it('a record that cannot be written after the services changed: exit 14, audit line written, lock.owner removed', () => {
    const fake = fakeHost({ web: [['running healthy 0 no. 0 T1']] })
    const state = join(fake, 'remote', '.gitops-lite')
    const run = join(state, 'runs', 'r1')
    mkdirSync(join(state, 'state'), { recursive: true }) // a directory: writing the record fails
    mkdirSync(run, { recursive: true })
    writeFileSync(join(run, 'record.head'), '{"kind":"deploy"}\n')
    writeFileSync(join(run, 'record.services'), 'web {"kind":"service","service":"web"\n')
    writeFileSync(join(state, 'lock.owner'), '{"runUrl":"u"}\n')
    const env = {
      GL_DEPLOY: 'web',
      GL_RECREATE: 'web',
      GL_START_FIRST: '',
      GL_REMOVE: '',
      GL_PREVIOUS: 'web',
      GL_NEW_SERVICES: '',
      GL_FULL: '0',
      GL_PULL: '0',
      GL_ROLLBACK: '1',
      GL_AUDIT: '{"services":["web"]',
      GL_COMPOSE: 'v2',
      GL_TIMEOUT: ''
    }
    const result = runLibrary(`GL_RUN=${run}; GL_STAGE=${run}/new; gl_started=$(date +%s); gl_apply_main`, fake, env)
    expect(result.status).toBe(ExitCode.deployedWithoutRecord)
    expect(events(result.stdout)).toEqual(expect.arrayContaining(['phase healthy', 'result deployed-without-record']))
    expect(result.stderr).toContain('the services are deployed, but')
    expect(JSON.parse(readFileSync(join(state, 'audit.log'), 'utf8'))).toMatchObject({
      services: ['web'],
      result: 'deployed-without-record'
    })
    expect(existsSync(join(state, 'lock.owner'))).toBe(false)
  })
})

describe('the host checks (gl_check_host)', () => {
  it('exit with missingTool, naming what is missing', () => {
    const fake = fakeHost({})
    writeFileSync(join(fake, 'bin', 'docker'), '#!/bin/sh\nexit 1\n') // installed, but the engine does not answer
    const result = runLibrary('gl_check_host; echo "not reached"', fake)
    expect(result.status).toBe(ExitCode.missingTool)
    expect(result.stderr).toMatch(/^gitops-lite: .* cannot reach the Docker engine/)
  })

  it('find the compose variant and its version, asking each tool once', () => {
    const fake = fakeHost({})
    writeFileSync(
      join(fake, 'bin', 'docker'),
      '#!/bin/sh\necho "$*" >> "$FAKE/calls"\n[ "$*" != "compose version --short" ] || echo 2.26.1\n'
    )
    const result = runLibrary('gl_check_host; echo "$GL_COMPOSE $GL_COMPOSE_VERSION"', fake)
    expect(result.stdout).toBe('v2 2.26.1\n')
    expect(readFileSync(join(fake, 'calls'), 'utf8').split('\n').filter(Boolean).sort()).toEqual([
      'compose version --short',
      'version --format {{.Server.Version}}'
    ])
  })

  it('are not run again by the apply: the inspection made them, and names the compose it found', () => {
    const fake = fakeHost({})
    writeFileSync(join(fake, 'bin', 'docker'), '#!/bin/sh\necho "$*" >> "$FAKE/calls"\n')
    const env = { GL_RUN_ID: 'r1', GL_OWNER: '{}', GL_EXPECT_GENERATION: '0', GL_COMPOSE_PREF: 'docker compose' }
    const result = runLibrary('gl_apply_begin; echo "$GL_COMPOSE"', fake, env)
    expect(result.stdout).toContain('v2\n')
    expect(existsSync(join(fake, 'calls'))).toBe(false)
  })
})

describe('the digests of host files (gl_digest)', () => {
  it('prints one line per path: its sha256, dir, or missing', () => {
    const fake = fakeHost({})
    writeFileSync(join(fake, 'a.txt'), 'x\n')
    const result = runLibrary(`gl_digest "${join(fake, 'a.txt')}" "${join(fake, 'bin')}" "${join(fake, 'none')}"`, fake)
    const sha = createHash('sha256').update('x\n').digest('hex')
    expect(result.stdout).toBe(`sha256:${sha}\ndir\nmissing\n`)
  })
})

describe('the attached runner', () => {
  it('runs the script from stdin with stdin closed and exits with its code', () => {
    const result = spawnSync('sh', ['-c', ATTACHED_BOOTSTRAP], {
      input: 'read -r line || echo "no stdin"\nexit 4\n',
      encoding: 'utf8'
    })
    expect([result.status, result.stdout]).toEqual([4, 'no stdin\n'])
  })
})

describe('registry logins (gl_pull with GL_LOGINS)', () => {
  // docker login records its config folder, that folder's mode and its arguments, and accepts one password from stdin.
  const fakeDocker = `#!/bin/sh
case $1 in
  login) echo "$DOCKER_CONFIG $(stat -c %a "$DOCKER_CONFIG") $*" >> "$FAKE/login.log"
    [ "$(cat)" = "s3cret pw" ] || { echo "unauthorized: $5" >&2; exit 1; }
    echo '{"auths":{"x":{}}}' > "$DOCKER_CONFIG/config.json"; echo "Login Succeeded" ;;
  compose) echo "pull with $DOCKER_CONFIG $(cat "$DOCKER_CONFIG/config.json")" >> "$FAKE/pull.log" ;;
esac
`
  function host(): string {
    const fake = mkdtempSync(join(tmpdir(), 'gl-login-'))
    for (const dir of ['bin', 'tmp', 'stage']) mkdirSync(join(fake, dir))
    writeFileSync(join(fake, 'bin', 'docker'), fakeDocker)
    chmodSync(join(fake, 'bin', 'docker'), 0o755)
    return fake
  }
  const logins = (password: string) =>
    `reg.example.com:5000 ${Buffer.from('deployer').toString('base64')} ${Buffer.from(password).toString('base64')}`
  const pull = (fake: string, password: string) =>
    runLibrary(
      `export TMPDIR="$FAKE/tmp"; GL_STAGE="$FAKE/stage"; gl_pull web; echo "rc=$? config=[$GL_DOCKER_CONFIG]"`,
      fake,
      {
        GL_LOGINS: logins(password),
        GL_PULL: '1',
        GL_FULL: '0',
        GL_COMPOSE: 'v2'
      }
    )

  it('logs in with the password on stdin, into a private folder only the pull uses, removed right after', () => {
    const fake = host()
    const result = pull(fake, 's3cret pw')
    expect(result.stdout).toContain('rc=0 config=[]')
    const [folder, mode, ...args] = readFileSync(join(fake, 'login.log'), 'utf8').trim().split(' ')
    expect(folder.startsWith(join(fake, 'tmp'))).toBe(true)
    expect(mode).toBe('700')
    expect(args).toEqual(['login', '--username', 'deployer', '--password-stdin', 'reg.example.com:5000'])
    expect(readFileSync(join(fake, 'pull.log'), 'utf8')).toBe(`pull with ${folder} {"auths":{"x":{}}}\n`)
    expect(readdirSync(join(fake, 'tmp'))).toEqual([])
    expect(result.stdout + result.stderr).not.toContain('s3cret')
  })

  it('a refused login fails the pull before it runs, naming the registry, and leaves no folder', () => {
    const fake = host()
    const result = pull(fake, 'wrong')
    expect(result.stdout).toContain('rc=1 config=[]')
    expect(events(result.stdout)).toEqual(['phase login', 'login-failed reg.example.com:5000'])
    expect(result.stderr).toContain('unauthorized')
    expect(existsSync(join(fake, 'pull.log'))).toBe(false)
    expect(readdirSync(join(fake, 'tmp'))).toEqual([])
  })
})

describe('the detached runner', () => {
  it('streams the script log and exits with its code', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'gl-detached-')), 'run')
    const result = spawnSync('sh', ['-c', DETACHED_BOOTSTRAP, 'gitops-lite', dir], {
      input: '\necho one\nsleep 1\nprintf two\nexit 3\n',
      encoding: 'utf8'
    })
    expect(result.stdout).toBe('one\ntwo')
    expect(result.status).toBe(3)
    expect(readFileSync(join(dir, 'apply.sh'), 'utf8')).toContain('exit 3')
  })

  it('hands the registry logins to the script on stdin and writes them to no file', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'gl-detached-')), 'run')
    const logins = 'registry.example.com:5000 dXNlcg== c2VjcmV0LXB3\nghcr.io dXNlcg== b3RoZXItcHc=\n\n'
    const script = 'IFS= read -r l; set -- $l; echo "$# words, $1"\n'
    const result = spawnSync('sh', ['-c', DETACHED_BOOTSTRAP, 'gitops-lite', dir], {
      input: logins + script,
      encoding: 'utf8'
    })
    expect([result.status, result.stdout]).toEqual([0, '6 words, registry.example.com:5000\n'])
    expect(readFileSync(join(dir, 'apply.sh'), 'utf8')).toBe(script)
    for (const name of readdirSync(dir))
      expect(readFileSync(join(dir, name), 'utf8')).not.toMatch(/c2VjcmV0LXB3|b3RoZXItcHc=/)
  })

  it('refuses a run folder that exists: two scripts never share one', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'gl-detached-')), 'runs', 'run')
    const first = spawnSync('sh', ['-c', DETACHED_BOOTSTRAP, 'gitops-lite', dir], {
      input: '\necho first\n',
      encoding: 'utf8'
    })
    expect([first.status, first.stdout]).toEqual([0, 'first\n'])
    const second = spawnSync('sh', ['-c', DETACHED_BOOTSTRAP, 'gitops-lite', dir], {
      input: '\necho second\n',
      encoding: 'utf8'
    })
    expect(second.status).toBe(ExitCode.hostError)
    expect(readFileSync(join(dir, 'apply.sh'), 'utf8')).toBe('echo first\n')
  })

  it('lets the deploy finish on the host when the session dies', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'gl-detached-')), 'run')
    const follower = spawn('sh', ['-c', DETACHED_BOOTSTRAP, 'gitops-lite', dir])
    follower.stdin.end(`\nsleep 1\necho finished > "${dir}/marker"\n`)
    await new Promise((resolve) => setTimeout(resolve, 300))
    follower.kill('SIGKILL')
    await new Promise((resolve) => setTimeout(resolve, 1500))
    expect(readFileSync(join(dir, 'marker'), 'utf8')).toBe('finished\n')
    expect(readFileSync(join(dir, 'rc'), 'utf8')).toBe('0\n')
  })
})

describe('the state folder (generation, audit log, links, modes)', () => {
  const state = (fake: string) => join(fake, 'remote', '.gitops-lite')

  it.each([
    ['7\n', '7', ''],
    ['', '0', 'empty'],
    ['7', '0', 'cut-short'],
    ['123456789012345678901234567890\n', '0', 'too-long'],
    ['seven\n', '0', 'not-a-number'],
    ['07\n', '0', 'not-a-number'],
    ['1\n2\n', '0', 'not-a-number']
  ])('reads the generation %j as %s (damage: %j)', (content, generation, damage) => {
    const fake = fakeHost({})
    mkdirSync(state(fake), { recursive: true })
    writeFileSync(join(state(fake), 'generation'), content)
    const result = runLibrary('gl_read_generation; printf "%s|%s" "$GL_GENERATION" "$GL_GENERATION_DAMAGE"', fake)
    expect(result.stdout).toBe(`${generation}|${damage}`)
  })

  it('starts an audit entry on a line of its own after a line cut short', () => {
    const fake = fakeHost({})
    mkdirSync(state(fake), { recursive: true })
    writeFileSync(join(state(fake), 'audit.log'), '{"a":1}\n{"cut')
    runLibrary('gl_audit \'{"b":2}\'', fake)
    expect(readFileSync(join(state(fake), 'audit.log'), 'utf8')).toBe('{"a":1}\n{"cut\n{"b":2}\n')
    runLibrary('gl_audit \'{"c":3}\'', fake)
    expect(readFileSync(join(state(fake), 'audit.log'), 'utf8')).toBe('{"a":1}\n{"cut\n{"b":2}\n{"c":3}\n')
  })

  it('writes state files through a new temporary file: a link at any name is replaced, never written through', () => {
    const fake = fakeHost({})
    mkdirSync(state(fake), { recursive: true })
    symlinkSync(join(fake, 'outside-tmp'), join(state(fake), 'generation.tmp'))
    runLibrary('echo 5 | gl_state_write generation', fake)
    expect(readFileSync(join(state(fake), 'generation'), 'utf8')).toBe('5\n')
    expect(statSync(join(state(fake), 'generation')).mode & 0o777).toBe(0o600)
    expect(existsSync(join(fake, 'outside-tmp'))).toBe(false)
  })

  it('refuses a link at a state file or on the way to an uploaded file, naming it (exit 71)', () => {
    const fake = fakeHost({})
    mkdirSync(join(fake, 'elsewhere'))
    mkdirSync(state(fake), { recursive: true })
    symlinkSync(join(fake, 'elsewhere'), join(fake, 'remote', 'conf'))
    const folder = runLibrary('gl_check_links; echo "not reached"', fake, { GL_FILES: 'compose.yaml conf/motd.txt' })
    expect(folder.status).toBe(71)
    expect(events(folder.stdout)).toEqual([`refused-link ${join(fake, 'remote', 'conf')}`])
    symlinkSync(join(fake, 'elsewhere', 'audit'), join(state(fake), 'audit.log'))
    const stateFile = runLibrary('gl_check_links', fake, { GL_FILES: 'compose.yaml' })
    expect(stateFile.status).toBe(71)
    expect(stateFile.stderr).toContain(`${join(state(fake), 'audit.log')} is a symbolic link`)
  })

  it("sets the state folder's modes to 0700 and its files' to 0600, fixing older ones", () => {
    const fake = fakeHost({})
    mkdirSync(join(state(fake), 'runs', 'r0'), { recursive: true, mode: 0o755 })
    for (const name of ['lock', 'audit.log', 'runs/r0/log']) writeFileSync(join(state(fake), name), '', { mode: 0o644 })
    runLibrary('gl_secure_state', fake)
    expect(statSync(state(fake)).mode & 0o777).toBe(0o700)
    for (const name of ['lock', 'audit.log', 'runs/r0/log'])
      expect([name, statSync(join(state(fake), name)).mode & 0o777]).toEqual([name, 0o600])
  })

  it("prints the VM's env files for masking: .env, .<service>.env and the env_file paths given", () => {
    const fake = fakeHost({})
    const remote = join(fake, 'remote')
    mkdirSync(join(remote, 'env'), { recursive: true })
    writeFileSync(join(remote, '.env'), 'A=1\n')
    writeFileSync(join(remote, '.web.env'), 'B=2\n')
    writeFileSync(join(remote, 'env', 'db.env'), 'C=3\n')
    const result = runLibrary('gl_env_files env/db.env missing.env', fake)
    const decoded = result.stdout
      .split('\n')
      .slice(1)
      .filter(Boolean)
      .map((line) => Buffer.from(line, 'base64').toString())
    expect(decoded.sort()).toEqual(['A=1\n', 'B=2\n', 'C=3\n'])
  })
})

describe('compose calls that name services (gl_pull, gl_up)', () => {
  it('pass -- before the names, so none is ever read as an option', () => {
    const fake = mkdtempSync(join(tmpdir(), 'gl-fake-compose-'))
    mkdirSync(join(fake, 'bin'))
    writeFileSync(join(fake, 'bin', 'docker'), '#!/bin/sh\necho "docker $*" >> "$FAKE/calls"\n')
    chmodSync(join(fake, 'bin', 'docker'), 0o755)
    const result = runLibrary(
      'GL_COMPOSE=v2 GL_PULL=1 GL_FULL=0 GL_STAGE="$GL_DIR"; mkdir -p "$GL_DIR"; gl_pull web api && gl_up web api; echo "rc=$?"',
      fake,
      { GL_LOGINS: '', GL_DOCKER_CONFIG: '' }
    )
    expect(result.stderr).toBe('')
    expect(result.stdout).toContain('rc=0')
    const calls = readFileSync(join(fake, 'calls'), 'utf8')
    expect(calls).toContain('pull --quiet -- web api\n')
    expect(calls).toContain('up -d --no-deps --force-recreate -- web api\n')
  })
})

describe('stacks.sh helpers', () => {
  it("read the uploaded files from the record's header, and see a symbolic link on a file's way", () => {
    const fake = fakeHost({})
    const remote = join(fake, 'remote')
    mkdirSync(join(remote, '.gitops-lite'), { recursive: true })
    mkdirSync(join(remote, 'conf'))
    mkdirSync(join(fake, 'outside'))
    symlinkSync(join(fake, 'outside'), join(remote, 'nginx'))
    const header = {
      kind: 'deploy',
      schema: 1,
      project: 'app',
      files: { 'compose.yaml': 'sha256:aa', 'conf/motd.txt': 'sha256:bb', 'nginx/site.conf': 'sha256:cc' }
    }
    writeFileSync(
      join(remote, '.gitops-lite', 'state'),
      `${JSON.stringify(header)}\n{"kind":"service","service":"web"}\n`
    )
    const body = `${STACKS_LIBRARY}\ngl_recorded_files\nfor f in compose.yaml conf/motd.txt nginx/site.conf; do gl_no_link_on_the_way "$f" && echo "$f ok" || echo "$f link"; done`
    expect(runLibrary(body, fake).stdout).toBe(
      [
        'compose.yaml',
        'conf/motd.txt',
        'nginx/site.conf',
        'compose.yaml ok',
        'conf/motd.txt ok',
        'nginx/site.conf link',
        ''
      ].join('\n')
    )
  })
})
