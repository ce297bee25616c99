import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FakeGitHub, createGitRemote } from '@gitops-lite/sandbox'
import { runAction, type ActionRun, type RunActionOptions } from '../helpers/run-action'

/** Per-test limit: each test runs the bundle as a process against real git repositories. */
const timeout = 180_000
const digest = `sha256:${'a'.repeat(64)}`

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8' }).trim()
}

async function cloneOf(files: Record<string, string>): Promise<{ bare: string; work: string }> {
  const { bareDir } = await createGitRemote({ dir: mkdtempSync(join(tmpdir(), 'promote-remote-')), files })
  const work = join(mkdtempSync(join(tmpdir(), 'promote-clone-')), 'infra')
  git(tmpdir(), 'clone', '--quiet', bareDir, work)
  return { bare: bareDir, work }
}

function promote(
  workspace: string,
  inputs: Record<string, string>,
  options: Omit<RunActionOptions, 'workspace' | 'inputs'> = {}
): Promise<ActionRun> {
  return runAction('bump-image-tag', {
    workspace,
    inputs: { files: 'environments/production/compose.yaml', ...inputs },
    ...options
  })
}

function expectSuccess(run: ActionRun): void {
  if (run.exitCode !== 0) throw new Error(`exit ${run.exitCode}\n${run.stdout}\n${run.stderr}`)
}

const staging = [
  'name: app-staging',
  'services:',
  '  api:',
  `    image: ghcr.io/acme/api:v1.1.0@${digest}`,
  '  worker:',
  '    image: ghcr.io/acme/worker:${WORKER_TAG}',
  '  queue:',
  '    image: redis:7.4-alpine',
  ''
].join('\n')

const production = [
  'name: app-production',
  'services:',
  '  api:',
  '    # what production runs',
  "    image: 'ghcr.io/acme/api:v1.0.0'",
  '    ports: ["8080:8080"]',
  '  worker:',
  '    image: ghcr.io/acme/worker:v1.0.0',
  '  queue:',
  '    image: redis:7.4-alpine',
  ''
].join('\n')

const repository = {
  'environments/staging/compose.yaml': staging,
  'environments/staging/.env': 'WORKER_TAG=v1.1.3\n',
  'environments/production/compose.yaml': production
}

describe("bump-image-tag 'from-file' (promotion), run as the runner runs it", () => {
  it(
    'copies the whole stack from staging to production in one commit, byte-minimal, and says what moved',
    async () => {
      const { bare, work } = await cloneOf(repository)
      const run = await promote(work, {
        'from-file': 'environments/staging/compose.yaml',
        'commit-message': 'chore(promote): {services} to {tag} in production'
      })
      expectSuccess(run)
      expect(git(bare, 'show', 'main:environments/production/compose.yaml')).toBe(
        production.replace("api:v1.0.0'", `api:v1.1.0@${digest}'`).replace('worker:v1.0.0', 'worker:v1.1.3').trimEnd()
      )
      expect(JSON.parse(run.outputs.promoted)).toEqual({
        api: { from: 'ghcr.io/acme/api:v1.0.0', to: `ghcr.io/acme/api:v1.1.0@${digest}` },
        worker: { from: 'ghcr.io/acme/worker:v1.0.0', to: 'ghcr.io/acme/worker:v1.1.3' }
      })
      expect(run.outputs.services).toBe('["api","worker"]')
      expect(git(bare, 'log', '-1', '--format=%B', 'main')).toBe(
        [
          'chore(promote): api, worker to v1.1.0, v1.1.3 in production',
          '',
          'Service: api',
          'Service: worker',
          `Image: ghcr.io/acme/api:v1.1.0@${digest}`,
          'Image: ghcr.io/acme/worker:v1.1.3',
          'Promoted-From: environments/staging/compose.yaml'
        ].join('\n')
      )
      expect(run.stdout).toContain(`api runs ghcr.io/acme/api:v1.1.0@${digest} in environments/staging/compose.yaml:4`)

      // Promoting again changes nothing.
      const again = await promote(work, { 'from-file': 'environments/staging/compose.yaml' })
      expectSuccess(again)
      expect(again.outputs.changed).toBe('false')
      expect(again.outputs.promoted).toBe('{}')
    },
    timeout
  )

  it(
    'opens one pull request for the named services, with the same policies as any bump',
    async () => {
      const github = await FakeGitHub.start({ repositories: ['acme/infra'], tokens: ['test-token'] })
      try {
        const { bare, work } = await cloneOf(repository)
        const refused = await promote(work, {
          'from-file': 'environments/staging/compose.yaml',
          service: 'api, queue',
          'allowed-registries': 'ghcr.io'
        })
        expect(refused.exitCode).toBe(1)
        expect(refused.annotations[0]).toMatchObject({
          message: expect.stringContaining(
            "The image redis:7.4-alpine (service 'queue' in environments/staging/compose.yaml) is from docker.io, which 'allowed-registries' does not list (ghcr.io)"
          ),
          properties: expect.objectContaining({ file: 'environments/staging/compose.yaml', line: '8' })
        })
        const run = await promote(
          work,
          {
            'from-file': 'environments/staging/compose.yaml',
            service: 'api',
            'pull-request': 'true',
            'allowed-registries': 'ghcr.io'
          },
          {
            githubToken: 'test-token',
            env: { GITHUB_API_URL: github.url, GITHUB_RUN_ID: '7', GITHUB_RUN_ATTEMPT: '1' }
          }
        )
        expectSuccess(run)
        expect(run.outputs['pull-request-url']).toBe('https://github.com/acme/infra/pull/1')
        const [pullRequest] = github.pullRequests('acme/infra')
        expect(pullRequest).toMatchObject({
          head: 'gitops-lite/api-v1-1-0-run7-1',
          title: 'chore(deploy): update api to v1.1.0'
        })
        expect(git(bare, 'show', `${pullRequest.head}:environments/production/compose.yaml`)).toContain(
          `image: 'ghcr.io/acme/api:v1.1.0@${digest}'`
        )
        expect(git(bare, 'show', 'main:environments/production/compose.yaml')).toBe(production.trimEnd())
      } finally {
        await github.stop()
      }
    },
    timeout
  )

  it(
    'refuses a source image whose variable cannot be resolved, and a mutable tag, changing nothing',
    async () => {
      const { work } = await cloneOf({ ...repository, 'environments/staging/.env': '# no WORKER_TAG\n' })
      const unresolved = await promote(work, { 'from-file': 'environments/staging/compose.yaml', service: 'worker' })
      expect(unresolved.exitCode).toBe(1)
      expect(unresolved.annotations[0].message).toContain(
        'uses WORKER_TAG, which environments/staging/.env does not define'
      )
      const mutable = await cloneOf({ ...repository, 'environments/staging/.env': 'WORKER_TAG=latest\n' })
      const latest = await promote(mutable.work, {
        'from-file': 'environments/staging/compose.yaml',
        service: 'worker'
      })
      expect(latest.exitCode).toBe(1)
      expect(latest.annotations[0].message).toContain(`has the mutable tag "latest"`)
      for (const dir of [work, mutable.work]) {
        expect(readFileSync(join(dir, 'environments/production/compose.yaml'), 'utf8')).toBe(production)
        expect(git(dir, 'status', '--porcelain')).toBe('')
      }
    },
    timeout
  )
})
