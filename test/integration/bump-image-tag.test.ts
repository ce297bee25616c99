import { execFileSync } from 'node:child_process'
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FakeGitHub, createGitRemote } from '@gitops-lite/sandbox'
import { runAction, type ActionRun, type RunActionOptions } from '../helpers/run-action'

/** Per-test limit: each test runs the bundle as a process against real git repositories. */
const timeout = 180_000

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8' }).trim()
}

/** A bare "remote" with one commit of `files` on main; returns its path. */
async function createRemote(files: Record<string, string>): Promise<string> {
  return (await createGitRemote({ dir: mkdtempSync(join(tmpdir(), 'bump-remote-')), files })).bareDir
}

/** A fresh clone of the remote, as actions/checkout leaves it. */
function clone(bare: string): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'bump-clone-')), 'infra')
  git(tmpdir(), 'clone', '--quiet', bare, dir)
  return dir
}

function remoteFile(bare: string, path: string, ref = 'main'): string {
  return git(bare, 'show', `${ref}:${path}`)
}

function remoteHead(bare: string, ref = 'main'): string {
  return git(bare, 'rev-parse', ref)
}

function bump(
  workspace: string,
  inputs: Record<string, string>,
  options: Omit<RunActionOptions, 'workspace' | 'inputs'> = {}
): Promise<ActionRun> {
  return runAction('bump-image-tag', { workspace, inputs, ...options })
}

function expectSuccess(run: ActionRun): void {
  if (run.exitCode !== 0) throw new Error(`exit ${run.exitCode}\n${run.stdout}\n${run.stderr}`)
}

const compose = [
  'services:',
  '  api:',
  '    image: ghcr.io/acme/api:v1.0.0 # bumped by CI',
  '    ports: ["8080:80"]',
  '  worker:',
  "    image: 'ghcr.io/acme/worker:v1.0.0'",
  '  db:',
  '    image: postgres:16',
  ''
].join('\n')

describe('bump-image-tag, run as the runner runs it', () => {
  it(
    'bumps, commits and pushes, with outputs and a job summary',
    async () => {
      const bare = await createRemote({ 'compose.yaml': compose })
      const work = clone(bare)
      const run = await bump(work, { service: 'api', tag: 'v1.2.3' })
      expectSuccess(run)

      expect(remoteFile(bare, 'compose.yaml')).toBe(compose.replace('api:v1.0.0', 'api:v1.2.3').trimEnd())
      expect(run.outputs).toEqual({
        changed: 'true',
        services: '["api"]',
        previous: '{"api":"ghcr.io/acme/api:v1.0.0"}',
        image: 'ghcr.io/acme/api:v1.2.3',
        'commit-sha': remoteHead(bare),
        'pull-request-url': '',
        diff: expect.stringContaining(
          '-    image: ghcr.io/acme/api:v1.0.0 # bumped by CI\n+    image: ghcr.io/acme/api:v1.2.3 # bumped by CI'
        ),
        promoted: ''
      })
      expect(git(bare, 'log', '-1', '--format=%an <%ae>%n%B', 'main')).toBe(
        'github-actions[bot] <41898282+github-actions[bot]@users.noreply.github.com>\nchore(deploy): update api to v1.2.3\n\nService: api\nImage: ghcr.io/acme/api:v1.2.3'
      )
      expect(run.summary).toContain(
        '| api | <code>ghcr.io/acme/api:v1.0.0</code> | <code>ghcr.io/acme/api:v1.2.3</code> | compose.yaml:3 |'
      )
      expect(run.summary).toContain(`Pushed ${remoteHead(bare)} to main.`)
    },
    timeout
  )

  it(
    'prints the diff and changes nothing in a dry run',
    async () => {
      const bare = await createRemote({ 'compose.yaml': compose })
      const work = clone(bare)
      const head = remoteHead(bare)
      const run = await bump(work, { service: 'worker', tag: 'v2', 'dry-run': 'true' })
      expectSuccess(run)
      expect(run.stdout).toContain("-    image: 'ghcr.io/acme/worker:v1.0.0'\n+    image: 'ghcr.io/acme/worker:v2'")
      expect(run.outputs).toEqual(
        expect.objectContaining({ changed: 'true', services: '["worker"]', 'commit-sha': '' })
      )
      expect(readFileSync(join(work, 'compose.yaml'), 'utf8')).toBe(compose)
      expect(git(work, 'status', '--porcelain')).toBe('')
      expect(remoteHead(bare)).toBe(head)
      expect(git(work, 'rev-parse', 'HEAD')).toBe(head)
    },
    timeout
  )

  it(
    'is an idempotent no-op when the service already runs the tag',
    async () => {
      const bare = await createRemote({ 'compose.yaml': compose })
      const work = clone(bare)
      const head = remoteHead(bare)
      const run = await bump(work, { service: 'api', tag: 'v1.0.0' })
      expectSuccess(run)
      expect(run.outputs).toEqual(
        expect.objectContaining({
          changed: 'false',
          services: '[]',
          previous: '{}',
          'commit-sha': '',
          image: 'ghcr.io/acme/api:v1.0.0'
        })
      )
      expect(remoteHead(bare)).toBe(head)
      expect(run.summary).toContain('already at the requested image')
    },
    timeout
  )

  it.each([
    [{ service: 'api', tag: 'v1;rm -rf /' }, /Input 'tag' "v1;rm -rf \/" is not a valid image tag/, undefined],
    [{ service: 'api$(id)', tag: 'v2' }, /not a valid compose service name/, undefined],
    [{ service: 'api', tag: 'latest' }, /The tag "latest" is mutable/, undefined],
    [{ service: 'api', tag: 'v2', digest: 'sha256:abc' }, /is not a valid image digest/, undefined],
    [
      { service: 'api', tag: 'v2', files: '../../etc/compose.yaml' },
      /Input 'files' "..\/..\/etc\/compose.yaml" is not a path inside the workspace/,
      undefined
    ],
    [
      { service: 'api', tag: 'v2', 'allowed-registries': 'registry.example.com' },
      /from ghcr.io, which 'allowed-registries' does not list/,
      { file: 'compose.yaml', line: '3' }
    ],
    [
      { service: 'api', tag: 'v2', 'allowed-registries': 'ghcr.io/acme' },
      /entry "ghcr.io\/acme" is not a registry host: it is the host ghcr.io followed by a path/,
      undefined
    ],
    [
      { service: 'web', tag: 'v2' },
      /Service 'web' is not defined in compose.yaml; the services are: api, worker, db/,
      { file: 'compose.yaml', line: '1' }
    ],
    [
      { service: 'api', tag: 'v2', 'pull-request': 'true', push: 'false' },
      /Input 'pull-request' is true but 'push' is false/,
      undefined
    ]
  ])(
    'refuses bad input %j, changing nothing',
    async (inputs, message, location) => {
      const bare = await createRemote({ 'compose.yaml': compose })
      const work = clone(bare)
      const head = remoteHead(bare)
      const run = await bump(work, inputs)
      expect(run.exitCode).toBe(1)
      const errors = run.annotations.filter((a) => a.level === 'error')
      expect(errors).toHaveLength(1)
      expect(errors[0].message).toMatch(message)
      if (location) expect(errors[0].properties).toEqual(expect.objectContaining(location))
      expect(readFileSync(join(work, 'compose.yaml'), 'utf8')).toBe(compose)
      expect(git(work, 'status', '--porcelain')).toBe('')
      expect(git(work, 'rev-parse', 'HEAD')).toBe(head)
      expect(remoteHead(bare)).toBe(head)
    },
    timeout
  )

  it(
    'reads the repository_dispatch payload that dispatch-to-infra sends',
    async () => {
      const bare = await createRemote({ 'compose.yaml': compose })
      const work = clone(bare)
      const digest = `sha256:${'e'.repeat(64)}`
      const run = await bump(
        work,
        {},
        {
          event: {
            name: 'repository_dispatch',
            payload: {
              action: 'deploy',
              client_payload: {
                schema: 1,
                image: 'ghcr.io/acme/api',
                tag: 'v3.0.0',
                services: [
                  { service: 'api', digest },
                  { service: 'worker', image: 'ghcr.io/acme/worker', tag: 'v3.0.1' }
                ],
                environment: 'production',
                source: {
                  repository: 'acme/app',
                  sha: 'a'.repeat(40),
                  ref: 'refs/heads/main',
                  run_id: '7',
                  run_url: 'https://github.com/acme/app/actions/runs/7',
                  actor: 'dev'
                },
                correlation_id: 'c0ffee'
              }
            }
          }
        }
      )
      expectSuccess(run)
      expect(remoteFile(bare, 'compose.yaml')).toBe(
        compose.replace('api:v1.0.0', `api:v3.0.0@${digest}`).replace('worker:v1.0.0', 'worker:v3.0.1').trimEnd()
      )
      expect(JSON.parse(run.outputs.services)).toEqual(['api', 'worker'])
      expect(git(bare, 'log', '-1', '--format=%B', 'main')).toBe(
        [
          'chore(deploy): update api, worker to v3.0.0, v3.0.1',
          '',
          'Service: api',
          'Service: worker',
          `Image: ghcr.io/acme/api:v3.0.0@${digest}`,
          'Image: ghcr.io/acme/worker:v3.0.1',
          'Environment: production',
          'Source-Repository: acme/app',
          `Source-Commit: ${'a'.repeat(40)}`,
          'Source-Run: https://github.com/acme/app/actions/runs/7'
        ].join('\n')
      )
    },
    timeout
  )

  it(
    'refuses a payload source that would forge commit trailers, changing nothing',
    async () => {
      const bare = await createRemote({ 'compose.yaml': compose })
      const work = clone(bare)
      const head = remoteHead(bare)
      const run = await bump(
        work,
        {},
        {
          event: {
            name: 'repository_dispatch',
            payload: {
              client_payload: {
                service: 'api',
                image: 'ghcr.io/acme/api',
                tag: 'v2',
                source: { repository: 'acme/app\nSigned-off-by: Mallory <m@example.com>', sha: 'a'.repeat(40) }
              }
            }
          }
        }
      )
      expect(run.exitCode).toBe(1)
      expect(run.annotations.filter((a) => a.level === 'error').map((a) => a.message)).toEqual([
        expect.stringContaining(
          'client_payload.source.repository "acme/app\\nSigned-off-by: Mallory <m@example.com>" is not a GitHub repository as owner/name'
        )
      ])
      expect(readFileSync(join(work, 'compose.yaml'), 'utf8')).toBe(compose)
      expect(git(work, 'status', '--porcelain')).toBe('')
      expect(remoteHead(bare)).toBe(head)
    },
    timeout
  )

  it(
    'refuses a dispatch payload naming a service that runs another image',
    async () => {
      const bare = await createRemote({ 'compose.yaml': compose })
      const run = await bump(
        clone(bare),
        {},
        {
          event: {
            name: 'repository_dispatch',
            payload: { client_payload: { service: 'api', image: 'ghcr.io/acme/web', tag: 'v2' } }
          }
        }
      )
      expect(run.exitCode).toBe(1)
      expect(run.annotations[0].message).toMatch(/Service 'api' runs ghcr.io\/acme\/api, not ghcr.io\/acme\/web/)
    },
    timeout
  )

  it(
    'updates a tag variable in the env file, and finds files per environment',
    async () => {
      const bare = await createRemote({
        'staging.compose.yaml': 'services:\n  api:\n    image: ghcr.io/acme/api:${API_TAG}\n',
        '.env': '# tags\nAPI_TAG=v1 # api\n'
      })
      const work = clone(bare)
      const run = await bump(
        work,
        {},
        {
          event: {
            name: 'repository_dispatch',
            payload: {
              client_payload: { service: 'api', image: 'ghcr.io/acme/api', tag: 'v2', environment: 'staging' }
            }
          }
        }
      )
      // `files` is not set above: the default set has no staging.compose.yaml, so set it and run again.
      expect(run.exitCode).toBe(1)
      expect(run.annotations[0].message).toMatch(/No compose file in \. \(looked for compose.yaml/)
      const again = await runAction('bump-image-tag', {
        workspace: work,
        inputs: { files: '{environment}.compose.yaml' },
        event: {
          name: 'repository_dispatch',
          payload: { client_payload: { service: 'api', image: 'ghcr.io/acme/api', tag: 'v2', environment: 'staging' } }
        }
      })
      expectSuccess(again)
      expect(remoteFile(bare, '.env')).toBe('# tags\nAPI_TAG=v2 # api')
      expect(remoteFile(bare, 'staging.compose.yaml')).toBe('services:\n  api:\n    image: ghcr.io/acme/api:${API_TAG}')
      expect(again.outputs.previous).toBe('{"api":"ghcr.io/acme/api:v1"}')
    },
    timeout
  )

  it(
    "shows only the changed variable's line of the env file in the dry-run log and the diff output",
    async () => {
      const env = 'DB_PASSWORD=hunter2\nAPI_TAG=v1\nSMTP_PASSWORD=pa55\n'
      const bare = await createRemote({
        'compose.yaml': 'services:\n  api:\n    image: ghcr.io/acme/api:${API_TAG}\n',
        '.env': env
      })
      const work = clone(bare)
      const run = await bump(work, { service: 'api', tag: 'v2', 'dry-run': 'true' })
      expectSuccess(run)
      expect(run.outputs.diff).toBe('--- a/.env\n+++ b/.env\n@@ -2 +2 @@\n-API_TAG=v1\n+API_TAG=v2\n')
      expect(run.stdout).toContain('-API_TAG=v1\n+API_TAG=v2')
      for (const secret of ['hunter2', 'pa55'])
        expect(run.stdout + run.stderr + JSON.stringify(run.outputs)).not.toContain(secret)
      expect(readFileSync(join(work, '.env'), 'utf8')).toBe(env)
    },
    timeout
  )

  it(
    'refuses clearly and puts the file back when git will not commit it (a gitignored env file)',
    async () => {
      const bare = await createRemote({
        'compose.yaml': 'services:\n  api:\n    image: ghcr.io/acme/api:${API_TAG}\n',
        '.gitignore': '.env\n'
      })
      const work = clone(bare)
      const head = remoteHead(bare)
      // Written by an earlier step (e.g. from secrets), never committed.
      const env = 'DB_PASSWORD=hunter2\nAPI_TAG=v1\n'
      writeFileSync(join(work, '.env'), env)
      const run = await bump(work, { service: 'api', tag: 'v2' })
      expect(run.exitCode).toBe(1)
      const errors = run.annotations.filter((a) => a.level === 'error').map((a) => a.message)
      expect(errors).toEqual([
        expect.stringContaining(
          'git refused to stage .env: The following paths are ignored by one of your .gitignore files: .env'
        )
      ])
      expect(errors[0]).toContain('The file is ignored by git (.gitignore), so a change to it cannot be committed')
      expect(run.stdout + run.stderr).not.toContain('This is a bug')
      expect(readFileSync(join(work, '.env'), 'utf8')).toBe(env)
      expect(git(work, 'status', '--porcelain', '--ignored')).toBe('!! .env')
      expect(git(work, 'rev-parse', 'HEAD')).toBe(head)
      expect(remoteHead(bare)).toBe(head)
    },
    timeout
  )

  it(
    'writes without committing when commit is false',
    async () => {
      const bare = await createRemote({ 'compose.yaml': compose })
      const work = clone(bare)
      const run = await bump(work, { image: 'postgres', tag: '17', commit: 'false' })
      expectSuccess(run)
      expect(readFileSync(join(work, 'compose.yaml'), 'utf8')).toBe(compose.replace('postgres:16', 'postgres:17'))
      expect(git(work, 'status', '--porcelain')).toBe('M compose.yaml')
      expect(run.outputs['commit-sha']).toBe('')
    },
    timeout
  )

  it(
    'commits the target of a symbolic link, and the link stays a link',
    async () => {
      const bare = await createRemote({ 'prod/compose.yaml': compose })
      const seed = clone(bare)
      symlinkSync(join('prod', 'compose.yaml'), join(seed, 'compose.yaml'))
      git(seed, 'add', 'compose.yaml')
      git(seed, '-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '--quiet', '-m', 'link compose.yaml')
      git(seed, 'push', '--quiet', 'origin', 'main')
      const work = clone(bare)
      expectSuccess(await bump(work, { service: 'api', tag: 'v2' }))
      expect(remoteFile(bare, 'prod/compose.yaml')).toBe(compose.replace('api:v1.0.0', 'api:v2').trimEnd())
      expect(git(bare, 'ls-tree', 'main', 'compose.yaml')).toMatch(/^120000 blob /)
      expect(lstatSync(join(work, 'compose.yaml')).isSymbolicLink()).toBe(true)
      expect(git(work, 'status', '--porcelain')).toBe('')
    },
    timeout
  )

  describe("with 'branch' other than the checked-out one", () => {
    /** main runs api v2; production still runs v1.0.0 and has a folder of its own. The clone is on main. */
    async function twoBranches(): Promise<{ bare: string; work: string }> {
      const bare = await createRemote({ 'compose.yaml': compose.replace('api:v1.0.0', 'api:v2') })
      const seed = clone(bare)
      git(seed, 'checkout', '--quiet', '-b', 'production')
      writeFileSync(join(seed, 'compose.yaml'), compose)
      mkdirSync(join(seed, 'production'))
      writeFileSync(
        join(seed, 'production', 'compose.yaml'),
        'services:\n  worker:\n    image: ghcr.io/acme/worker:v1.0.0\n'
      )
      git(seed, 'add', '--', 'compose.yaml', 'production/compose.yaml')
      git(seed, '-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '--quiet', '-m', 'production')
      git(seed, 'push', '--quiet', 'origin', 'production')
      return { bare, work: clone(bare) }
    }

    it(
      'plans, commits and pushes on that branch, not on the one checked out',
      async () => {
        const { bare, work } = await twoBranches()
        const main = remoteHead(bare)
        const run = await bump(work, { service: 'api', tag: 'v2', branch: 'production' })
        expectSuccess(run)
        expect(run.outputs).toEqual(
          expect.objectContaining({
            changed: 'true',
            services: '["api"]',
            previous: '{"api":"ghcr.io/acme/api:v1.0.0"}',
            'commit-sha': remoteHead(bare, 'production')
          })
        )
        expect(remoteFile(bare, 'compose.yaml', 'production')).toBe(compose.replace('api:v1.0.0', 'api:v2').trimEnd())
        expect(remoteHead(bare)).toBe(main)
        expect(run.summary).toContain(`Pushed ${remoteHead(bare, 'production')} to production.`)
      },
      timeout
    )

    it(
      "finds a working directory only that branch has, and a dry run shows that branch's diff, pushing nothing",
      async () => {
        const { bare, work } = await twoBranches()
        const heads = [remoteHead(bare), remoteHead(bare, 'production')]
        const run = await bump(work, {
          'working-directory': 'production',
          service: 'worker',
          tag: 'v3',
          branch: 'production',
          'dry-run': 'true'
        })
        expectSuccess(run)
        expect(run.outputs.diff).toMatch(/^--- a\/production\/compose\.yaml\n\+\+\+ b\/production\/compose\.yaml\n/)
        expect(run.outputs.diff).toContain(
          '-    image: ghcr.io/acme/worker:v1.0.0\n+    image: ghcr.io/acme/worker:v3\n'
        )
        expect([remoteHead(bare), remoteHead(bare, 'production')]).toEqual(heads)
        expect(git(work, 'status', '--porcelain')).toBe('')
        expect(git(work, 'symbolic-ref', '--short', 'HEAD')).toBe('main')
      },
      timeout
    )
  })

  it(
    're-applies the edit on the new head when the branch moved since checkout',
    async () => {
      const bare = await createRemote({ 'compose.yaml': compose })
      const stale = clone(bare)
      expectSuccess(await bump(clone(bare), { service: 'worker', tag: 'v5' }))
      const run = await bump(stale, { service: 'api', tag: 'v6' })
      expectSuccess(run)
      expect(run.stdout).toMatch(/'main' moved while pushing \(attempt 1 of 5\)/)
      expect(run.stdout).toContain('Commit-and-push rounds: 2')
      expect(remoteFile(bare, 'compose.yaml')).toBe(
        compose.replace('api:v1.0.0', 'api:v6').replace('worker:v1.0.0', 'worker:v5').trimEnd()
      )
      expect(git(bare, 'rev-list', '--count', 'main')).toBe('3')
    },
    timeout
  )

  describe("with 'restore' (a rolled-back deploy's rolled-back-images)", () => {
    const failed = compose.replace('api:v1.0.0', 'api:v2.0.0').replace('worker:v1.0.0', 'worker:v2.0.0')
    const rolledBack = (service: string, failedTag: string, restoredTag: string, isFailed: boolean) => ({
      host: 'deploy@vm1:22',
      file: 'compose.yaml',
      service,
      failedImage: `ghcr.io/acme/${service}:${failedTag}`,
      restoredImage: `ghcr.io/acme/${service}:${restoredTag}`,
      failed: isFailed,
      failedCommit: 'f'.repeat(40),
      restoredCommit: 'e'.repeat(40),
      run: 'https://github.com/acme/infra/actions/runs/7/attempts/1'
    })
    const restore = JSON.stringify([
      rolledBack('api', 'v2.0.0', 'v1.0.0', true),
      rolledBack('worker', 'v2.0.0', 'v1.0.0', false)
    ])

    it(
      'writes back the failed service only, on top of a bump that landed since checkout, with the rollback trailers',
      async () => {
        const bare = await createRemote({ 'compose.yaml': failed })
        const stale = clone(bare)
        expectSuccess(await bump(clone(bare), { service: 'db', image: 'postgres', tag: '17' }))
        const run = await bump(stale, { files: 'compose.yaml', restore })
        expectSuccess(run)
        expect(run.stdout).toContain("worker: not written back, it did not fail: it keeps the release's image")
        expect(run.stdout).toContain('Commit-and-push rounds: 2')
        expect(remoteFile(bare, 'compose.yaml')).toBe(
          failed.replace('api:v2.0.0', 'api:v1.0.0').replace('postgres:16', 'postgres:17').trimEnd()
        )
        expect(run.outputs).toMatchObject({ changed: 'true', services: '["api"]', 'commit-sha': remoteHead(bare) })
        const message = git(bare, 'log', '-1', '--format=%B', 'main')
        expect(message.split('\n')[0]).toBe('revert(deploy): api back to v1.0.0, v2.0.0 failed on deploy@vm1:22')
        expect(git(bare, 'log', '-1', '--format=%(trailers:key=Rolled-Back-Commit,valueonly)', 'main')).toBe(
          'f'.repeat(40)
        )
        expect(message).toContain('Rolled-Back-Run: https://github.com/acme/infra/actions/runs/7/attempts/1')
      },
      timeout
    )

    it(
      'leaves a service that was bumped again since the failed release, even when that bump lands during the restore',
      async () => {
        const bare = await createRemote({ 'compose.yaml': failed })
        const stale = clone(bare)
        expectSuccess(await bump(clone(bare), { service: 'api', tag: 'v2.0.1' }))
        const head = remoteHead(bare)
        const run = await bump(stale, { files: 'compose.yaml', restore })
        expectSuccess(run)
        expect(run.stdout).toContain(
          'api: not written back, it changed since the failed release: the files now say ghcr.io/acme/api:v2.0.1'
        )
        expect(run.outputs).toMatchObject({ changed: 'false', 'commit-sha': '' })
        expect(remoteHead(bare)).toBe(head)
      },
      timeout
    )

    it(
      "refuses a compose file that is not among 'files', and '[]' does nothing",
      async () => {
        const bare = await createRemote({ 'compose.yaml': failed, 'other/compose.yaml': failed })
        const work = clone(bare)
        const refused = await bump(work, { files: 'other/compose.yaml', restore })
        expect(refused.exitCode).not.toBe(0)
        expect(refused.annotations.map((a) => a.message).join('\n')).toContain(
          "Input 'restore' names compose.yaml for service 'api', which is not among this step's compose files (other/compose.yaml)"
        )
        const nothing = await bump(work, { files: 'compose.yaml', restore: '[]' })
        expectSuccess(nothing)
        expect(nothing.outputs.changed).toBe('false')
        expect(remoteFile(bare, 'compose.yaml')).toBe(failed.trimEnd())
      },
      timeout
    )
  })

  it(
    'lands every one of 12 concurrent bumps of different services against one remote',
    async () => {
      const count = 12
      const services = Array.from({ length: count }, (_, i) => `svc${i}`)
      const text = `services:\n${services.map((s) => `  ${s}:\n    image: ghcr.io/acme/${s}:v0 # ${s}\n`).join('')}`
      const bare = await createRemote({ 'compose.yaml': text })
      const workspaces = services.map(() => clone(bare))
      const started = Date.now()
      // Twelve writers racing at once: more than the default 5 rounds is possible, as the README says.
      const runs = await Promise.all(
        services.map((service, i) => bump(workspaces[i], { service, tag: `v${i + 1}`, 'max-attempts': '10' }))
      )
      const seconds = (Date.now() - started) / 1000
      runs.forEach(expectSuccess)

      const attempts = runs.map((run) => Number(/Commit-and-push rounds: (\d+)/.exec(run.stdout)![1]))
      console.log(
        `${count} concurrent bumps landed in ${seconds.toFixed(1)} s; commit-and-push rounds per run: ${attempts.join(', ')} (max ${Math.max(...attempts)})`
      )
      expect(remoteFile(bare, 'compose.yaml')).toBe(
        services.reduce((t, s, i) => t.replace(`${s}:v0 #`, `${s}:v${i + 1} #`), text).trimEnd()
      )
      expect(git(bare, 'rev-list', '--count', 'main')).toBe(String(count + 1))
      expect(new Set(runs.map((r) => r.outputs['commit-sha'])).size).toBe(count)
      expect(git(bare, 'log', '--format=%s', 'main').split('\n').sort()).toEqual(
        [...services.map((s, i) => `chore(deploy): update ${s} to v${i + 1}`), 'Initial commit'].sort()
      )
    },
    timeout
  )

  it(
    'pushes a branch and opens a pull request in pull-request mode',
    async () => {
      const github = await FakeGitHub.start({ repositories: ['acme/infra'], tokens: ['test-token'] })
      try {
        const bare = await createRemote({ 'compose.yaml': compose })
        const head = remoteHead(bare)
        const run = await bump(
          clone(bare),
          { service: 'api', tag: 'v7', 'pull-request': 'true' },
          {
            githubToken: 'test-token',
            env: { GITHUB_API_URL: github.url, GITHUB_RUN_ID: '99', GITHUB_RUN_ATTEMPT: '1' }
          }
        )
        expectSuccess(run)
        const branch = 'gitops-lite/api-v7-run99-1'
        expect(remoteHead(bare)).toBe(head)
        expect(remoteFile(bare, 'compose.yaml', branch)).toBe(compose.replace('api:v1.0.0', 'api:v7').trimEnd())
        expect(remoteHead(bare, branch)).toBe(run.outputs['commit-sha'])
        expect(run.outputs['pull-request-url']).toBe('https://github.com/acme/infra/pull/1')
        expect(github.pullRequests('acme/infra')).toEqual([
          expect.objectContaining({
            head: branch,
            base: 'main',
            title: 'chore(deploy): update api to v7',
            state: 'open'
          })
        ])
        expect(github.pullRequests('acme/infra')[0].body).toContain(
          '| api | <code>ghcr.io/acme/api:v1.0.0</code> | <code>ghcr.io/acme/api:v7</code> |'
        )
        // The token reaches the log only in the runner's own add-mask command.
        expect(
          run.stdout.split('\n').filter((line) => line.includes('test-token') && !line.startsWith('::add-mask::'))
        ).toEqual([])
      } finally {
        await github.stop()
      }
    },
    timeout
  )

  it(
    'refuses pull-request mode without a valid GITHUB_REPOSITORY before pushing a branch',
    async () => {
      const github = await FakeGitHub.start({ repositories: ['acme/infra'], tokens: ['test-token'] })
      try {
        const bare = await createRemote({ 'compose.yaml': compose })
        const work = clone(bare)
        const head = remoteHead(bare)
        const run = await bump(
          work,
          { service: 'api', tag: 'v7', 'pull-request': 'true' },
          {
            githubToken: 'test-token',
            env: { GITHUB_API_URL: github.url, GITHUB_RUN_ID: '6', GITHUB_RUN_ATTEMPT: '1', GITHUB_REPOSITORY: '' }
          }
        )
        expect(run.exitCode).toBe(1)
        expect(run.annotations.filter((a) => a.level === 'error').map((a) => a.message)).toEqual([
          expect.stringContaining(
            `GITHUB_REPOSITORY "" is not a GitHub repository (owner/name), but 'pull-request: true' needs it`
          )
        ])
        expect(git(bare, 'for-each-ref', '--format=%(refname)', 'refs/heads')).toBe('refs/heads/main')
        expect(remoteHead(bare)).toBe(head)
        expect(readFileSync(join(work, 'compose.yaml'), 'utf8')).toBe(compose)
        expect(git(work, 'status', '--porcelain')).toBe('')
        expect(github.pullRequests('acme/infra')).toEqual([])
      } finally {
        await github.stop()
      }
    },
    timeout
  )

  it(
    'says what to do when the pull request cannot be opened',
    async () => {
      const github = await FakeGitHub.start({ repositories: ['acme/infra'], tokens: ['the-right-token'] })
      try {
        const bare = await createRemote({ 'compose.yaml': compose })
        const run = await bump(
          clone(bare),
          { service: 'api', tag: 'v7', 'pull-request': 'true' },
          {
            githubToken: 'a-wrong-token',
            env: { GITHUB_API_URL: github.url, GITHUB_RUN_ID: '5', GITHUB_RUN_ATTEMPT: '1' }
          }
        )
        expect(run.exitCode).toBe(1)
        expect(run.annotations[0].message).toMatch(
          /Could not open a pull request from 'gitops-lite\/api-v7-run5-1' into 'main' of acme\/infra .*GitHub rejected the token \(401/
        )
        expect(remoteFile(bare, 'compose.yaml', 'gitops-lite/api-v7-run5-1')).toContain('api:v7')
      } finally {
        await github.stop()
      }
    },
    timeout
  )
})
