// The whole pipeline, end to end, as scripts/sandbox.sh runs it: a developer pushes images and
// dispatches from the app repo (dispatch-to-infra, wait: true), GitHub runs the infra workflow
// (bump-image-tag, then ssh-surgical-deploy over SSH to a real sshd "VM" on loopback), all
// through the committed bundles, against a real Docker engine, registry, git and sshd.
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { exec } from '../../packages/sandbox/src/exec'
import { httpGet } from '../../packages/sandbox/src/net'
import {
  PipelineSandbox,
  RELEASES,
  checkRelease,
  releaseTable,
  snapshotStack,
  type ReleaseResult,
  type ReleaseSpec,
  type PushedImage
} from '@gitops-lite/demo'
import { json, sandboxNarrative } from '../helpers/narrative'

/** Per step: a release takes 10-40 s on two cores; a stuck one must fail, not hang CI. */
const STEP_TIMEOUT_MS = 180_000

const { log, withNarrative } = sandboxNarrative()
let sandbox: PipelineSandbox
let scratch: string
let initialCompose: string
const results: ReleaseResult[] = []

function expectPushed(pushed: PushedImage[], expected: { service: string; tag: string }[]): void {
  expect(pushed.map((p) => `${p.service}:${p.tag}`)).toEqual(expected.map((e) => `${e.service}:${e.tag}`))
  for (const image of pushed) {
    expect(image.repository).toBe(`${sandbox.registry.address}/demo/${image.service}`)
    expect(image.digest).toMatch(/^sha256:[0-9a-f]{64}$/)
    expect(image.registryTags).toContain(image.tag)
    expect(image.reference).toBe(`${image.repository}:${image.tag}@${image.digest}`)
  }
}

/** The dispatch reached the fake GitHub API once, with exactly the payload the action reports. */
function expectDispatched(result: ReleaseResult): Record<string, unknown> {
  const payload = json<Record<string, unknown>>(result.dispatch.outputs.payload)
  const sent = sandbox.github
    .requestsTo('POST', /^\/repos\/acme\/infra\/dispatches$/)
    .filter(
      (r) =>
        (r.body as { client_payload?: { correlation_id?: string } }).client_payload?.correlation_id ===
        result.correlationId
    )
  expect(sent).toHaveLength(1)
  expect(sent[0].status).toBe(204)
  expect(sent[0].body).toEqual({ event_type: 'deploy', client_payload: payload })
  expect(payload).toMatchObject({
    schema: 1,
    correlation_id: result.correlationId,
    source: { repository: 'acme/app', sha: result.appCommit, ref: 'refs/heads/main' }
  })
  expect(result.correlationId).toMatch(/^[0-9a-f-]{36}$/)
  return payload
}

/** bump-image-tag's commit: one changed line per service, each the new pinned reference. */
function expectOneLinePerService(result: ReleaseResult, previous: Record<string, string>): void {
  const commit = result.infraCommit!
  expect(commit).toBeDefined()
  expect(commit.files).toEqual(['compose.yaml'])
  expect(commit.removed).toEqual(result.pushed.map((p) => `    image: ${previous[p.service]}`))
  expect(commit.added).toEqual(result.pushed.map((p) => `    image: ${p.reference}`))
  expect(commit.subject).toContain(result.pushed.map((p) => p.tag)[0])
}

function imageLine(compose: string, service: string): string {
  const lines = compose.split('\n')
  return lines[lines.indexOf(`  ${service}:`) + 1].replace(/^\s*image:\s*/, '')
}

beforeAll(async () => {
  sandbox = await PipelineSandbox.up({
    dir: join((scratch = await mkdtemp(join(tmpdir(), 'gitops-lite-e2e-'))), 'sandbox'),
    projectName: `gle2e-${process.pid}`,
    log
  })
  initialCompose = await sandbox.infraCompose()
}, STEP_TIMEOUT_MS)

afterAll(async () => {
  if (!sandbox) return
  const { dir, projectName, vm, registry } = sandbox
  await sandbox.down()
  // Nothing left behind: no container or network of the project, no sshd, no registry, no state.
  expect(await snapshotStack(projectName)).toEqual({})
  expect(
    (
      await exec('docker', ['network', 'ls', '-q', '--filter', `label=com.docker.compose.project=${projectName}`])
    ).stdout.trim()
  ).toBe('')
  for (const pid of [vm.pid, registry.pid]) expect(() => process.kill(pid, 0)).toThrow()
  expect(existsSync(dir)).toBe(false)
  await rm(scratch, { recursive: true, force: true })
  if (results.length) console.log(['The pipeline, end to end:', ...releaseTable(results)].join('\n'))
}, STEP_TIMEOUT_MS)

describe('the pipeline, end to end, through the committed bundles', () => {
  it(
    'sets up a registry, an SSH VM, the fake GitHub API and the two repositories',
    () =>
      withNarrative(async () => {
        expect((await httpGet(`http://${sandbox.registry.address}/v2/`))?.status).toBe(200)
        expect(() => process.kill(sandbox.vm.pid, 0)).not.toThrow()
        expect(sandbox.github.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
        expect(imageLine(initialCompose, 'api')).toBe(`${sandbox.registry.address}/demo/api:v0`)
        expect(imageLine(initialCompose, 'worker')).toBe(`${sandbox.registry.address}/demo/worker:v0`)
        expect(await snapshotStack(sandbox.projectName)).toEqual({})
      }),
    STEP_TIMEOUT_MS
  )

  it(
    'release 1: pushes api:v1 and worker:v1, dispatches both, bumps both lines, deploys both',
    () =>
      withNarrative(async () => {
        const result = await sandbox.release(RELEASES[0])
        results.push(result)
        expectPushed(result.pushed, [
          { service: 'api', tag: 'v1' },
          { service: 'worker', tag: 'v1' }
        ])

        // dispatch-to-infra: multi-service payload; waited for the run and saw it succeed.
        expect(result.dispatch.exitCode).toBe(0)
        const payload = expectDispatched(result)
        expect(payload.services).toEqual(
          result.pushed.map((p) => ({ service: p.service, image: p.repository, tag: p.tag, digest: p.digest }))
        )
        const run = result.workflow!
        expect(run).toBeDefined()
        expect(result.dispatch.outputs).toMatchObject({ 'run-id': String(run.runId), conclusion: 'success' })
        expect(result.dispatch.outputs['run-url']).toContain(`/actions/runs/${run.runId}`)
        expect(run.displayTitle).toContain(result.correlationId)
        expect(sandbox.github.workflowRun(run.runId)).toMatchObject({
          status: 'completed',
          conclusion: 'success',
          event: 'repository_dispatch'
        })

        // bump-image-tag: both services, one line each, pushed to main.
        expect(run.bump.run?.exitCode).toBe(0)
        expect(run.bump.run?.outputs.changed).toBe('true')
        expect(json<string[]>(run.bump.run?.outputs.services).sort()).toEqual(['api', 'worker'])
        expect(run.bump.run?.outputs['commit-sha']).toBe(await sandbox.infra.remote.head())
        expectOneLinePerService(result, {
          api: `${sandbox.registry.address}/demo/api:v0`,
          worker: `${sandbox.registry.address}/demo/worker:v0`
        })
        const compose = await sandbox.infraCompose()
        expect(compose).toBe(
          initialCompose
            .replace(`${sandbox.registry.address}/demo/api:v0`, result.pushed[0].reference)
            .replace(`${sandbox.registry.address}/demo/worker:v0`, result.pushed[1].reference)
        )

        // ssh-surgical-deploy: on a checkout of that commit, deployed both, no rollback.
        expect(run.deploy.run?.exitCode).toBe(0)
        expect(run.deploy.checkout?.sha).toBe(run.bump.run?.outputs['commit-sha'])
        expect(json<string[]>(run.deploy.run?.outputs.deployed).sort()).toEqual(['api', 'proxy', 'worker'])
        expect(run.deploy.run?.outputs['rolled-back']).toBe('false')

        // The VM: two running, healthy containers from the pinned images, serving v1 (api through nginx).
        expect(Object.keys(result.after)).toEqual(['api', 'proxy', 'worker'])
        for (const pushed of result.pushed) {
          expect(result.after[pushed.service]).toMatchObject({
            image: pushed.reference,
            status: 'running',
            health: 'healthy'
          })
        }
        expect(result.http.api).toMatchObject({ status: 200, body: 'api v1\n' })
        expect(result.http.worker).toMatchObject({ status: 200, body: 'worker v1\n' })
        expect(result.outcome).toBe('deployed')

        // The audit log on the host has a line for this deploy.
        expect(result.audit?.path).toBe(join(sandbox.vm.remoteDir, '.gitops-lite', 'audit.log'))
        expect(result.audit?.entries).toHaveLength(1)
        expect(result.audit?.entries[0]).toMatchObject({
          result: 'success',
          services: ['api', 'proxy', 'worker'],
          actor: 'sandbox-dev'
        })
        expect(checkRelease(result)).toEqual([])
      }),
    STEP_TIMEOUT_MS
  )

  it(
    'release 2: only api:v2; only api is recreated, worker keeps its container',
    () =>
      withNarrative(async () => {
        const previous = results[0]
        const result = await sandbox.release(RELEASES[1])
        results.push(result)
        expectPushed(result.pushed, [{ service: 'api', tag: 'v2' }])

        // dispatch-to-infra with service/image/tag/digest: the single-service payload.
        expect(result.dispatch.exitCode).toBe(0)
        const payload = expectDispatched(result)
        expect(payload).toMatchObject({
          service: 'api',
          image: result.pushed[0].repository,
          tag: 'v2',
          digest: result.pushed[0].digest
        })
        expect(payload.services).toBeUndefined()
        expect(result.dispatch.outputs.conclusion).toBe('success')

        // One line changed in the infra repo: api's image.
        const run = result.workflow!
        expect(json<string[]>(run.bump.run?.outputs.services)).toEqual(['api'])
        expect(json<Record<string, string>>(run.bump.run?.outputs.previous)).toEqual({
          api: previous.pushed[0].reference
        })
        expectOneLinePerService(result, { api: previous.pushed[0].reference })
        expect(result.infraCommit!.stat).toMatch(/1 file changed, 1 insertion\(\+\), 1 deletion\(-\)/)

        // Only api was deployed, start-first; the proxy's and worker's containers are untouched.
        expect(json<string[]>(run.deploy.run?.outputs.deployed)).toEqual(['api'])
        expect(run.deploy.run?.stdout).toContain('Replacing api start-first')
        expect(result.changes).toEqual([
          { service: 'api', before: previous.after.api.id, after: result.after.api.id, recreated: true },
          { service: 'proxy', before: previous.after.proxy.id, after: previous.after.proxy.id, recreated: false },
          { service: 'worker', before: previous.after.worker.id, after: previous.after.worker.id, recreated: false }
        ])
        expect(result.after.worker.startedAt).toBe(previous.after.worker.startedAt)
        expect(result.after.api).toMatchObject({
          image: result.pushed[0].reference,
          status: 'running',
          health: 'healthy'
        })
        expect(result.http.api).toMatchObject({ status: 200, body: 'api v2\n' })
        expect(result.http.worker).toMatchObject({ status: 200, body: 'worker v1\n' })
        // A GET through the proxy every 20 ms throughout: none failed.
        expect(result.probe).toMatchObject({ failures: 0, lastBody: 'api v2\n' })
        expect(result.audit?.entries).toHaveLength(2)
        expect(result.audit?.entries[1]).toMatchObject({ result: 'success', services: ['api'] })
        expect(checkRelease(result)).toEqual([])
      }),
    STEP_TIMEOUT_MS
  )

  it(
    'release 3: api:v3 fails its healthcheck; the deploy rolls back, Git is put back, the wait fails, api:v2 still serves',
    () =>
      withNarrative(async () => {
        const previous = results[1]
        const result = await sandbox.release(RELEASES[2])
        results.push(result)
        expectPushed(result.pushed, [{ service: 'api', tag: 'v3' }])

        // The bump itself succeeds: Git records v3.
        const run = result.workflow!
        expect(run.bump.run?.exitCode).toBe(0)
        expectOneLinePerService(result, { api: previous.pushed[0].reference })

        // The deploy fails and rolls back; the run fails; dispatch-to-infra (wait) fails with it.
        expect(run.deploy.run?.exitCode).not.toBe(0)
        expect(run.deploy.run?.outputs['rolled-back']).toBe('true')
        expect(run.conclusion).toBe('failure')
        expect(sandbox.github.workflowRun(run.runId)).toMatchObject({ status: 'completed', conclusion: 'failure' })
        expect(result.dispatch.exitCode).not.toBe(0)
        expect(result.dispatch.outputs.conclusion).toBe('failure')
        expect(result.dispatch.annotations.some((a) => a.level === 'error' && a.message.includes('failure'))).toBe(true)

        // The VM runs api:v2 again, healthy and serving; worker was never touched.
        expect(result.after.api).toMatchObject({
          image: previous.pushed[0].reference,
          status: 'running',
          health: 'healthy'
        })
        expect(result.http.api).toMatchObject({ status: 200, body: 'api v2\n' })
        expect(result.after.worker.id).toBe(results[0].after.worker.id)
        expect(result.after.worker.startedAt).toBe(results[0].after.worker.startedAt)
        expect(result.outcome).toBe('rolled back')
        // The broken api never served (it stayed off the service name) and no request failed.
        expect(result.probe).toMatchObject({ failures: 0, bodies: { 'api v2': result.probe.probes } })

        // The deploy's log shows the failed health wait and the rollback.
        expect(run.deploy.run?.stdout).toMatch(/api: unhealthy/)
        expect(run.deploy.run?.stdout).toMatch(/Rolling back/)

        // The deploy says what went back; the restore job writes it back to Git, for api only.
        const rolledBack = json<Record<string, unknown>[]>(run.deploy.run?.outputs['rolled-back-images'])
        expect(rolledBack).toEqual([
          expect.objectContaining({
            file: 'compose.yaml',
            service: 'api',
            failedImage: result.pushed[0].reference,
            restoredImage: previous.pushed[0].reference,
            failed: true,
            failedCommit: run.deploy.checkout!.sha,
            restoredCommit: previous.workflow!.deploy.checkout!.sha
          })
        ])
        expect(run.restore.result).toBe('success')
        const restore = result.restoreCommit!
        expect(restore.files).toEqual(['compose.yaml'])
        expect(restore.removed.map((l) => l.trim())).toEqual([`image: ${result.pushed[0].reference}`])
        expect(restore.added.map((l) => l.trim())).toEqual([`image: ${previous.pushed[0].reference}`])
        expect(restore.subject).toBe(
          `revert(deploy): api back to v2, v3 failed on ${sandbox.vm.username}@${sandbox.vm.host}:${sandbox.vm.port}`
        )
        expect(restore.message).toContain(`Rolled-Back-Commit: ${run.deploy.checkout!.sha}`)
        expect(restore.message).toContain(
          `Rolled-Back-Run: https://github.com/acme/infra/actions/runs/${run.runId}/attempts/1`
        )
        expect(imageLine(await sandbox.infraCompose(), 'api')).toBe(previous.pushed[0].reference)
        expect(result.git).toMatchObject({ api: result.after.api.image, worker: result.after.worker.image })
        // The restoring commit's deploy changes nothing on the VM (api was not recreated again).
        const restoreDeploy = run.restore.runs![1]
        expect(restoreDeploy.exitCode).toBe(0)
        expect(json<string[]>(restoreDeploy.outputs.deployed)).toEqual([])
        expect(restoreDeploy.stdout).toMatch(/Nothing to do/)

        // dispatch-to-infra says Git was put back, with the commit's link.
        const commitUrl = `https://github.com/acme/infra/commit/${restore.sha}`
        expect(result.dispatch.outputs['restore-commit']).toBe(commitUrl)
        expect(result.dispatch.annotations.some((a) => a.level === 'error' && a.message.includes(commitUrl))).toBe(true)

        // The audit log records the rolled-back deploy, then the restoring commit, which it names as such.
        expect(result.audit?.entries).toHaveLength(4)
        expect(result.audit?.entries[2]).toMatchObject({ result: 'rolled-back', services: ['api'] })
        expect(result.audit?.entries[3]).toMatchObject({
          result: 'success',
          services: [],
          sha: restore.sha,
          restores: run.deploy.checkout!.sha
        })
        expect(checkRelease(result)).toEqual([])
      }),
    STEP_TIMEOUT_MS
  )

  // The infra workflow deploys in the repository_dispatch run (templates/infra-repo: bump.yml's
  // job deploy), where GITHUB_SHA is main *before* the bump; the checkout is the bumped commit.
  it(
    'the host records the commit each deploy actually deployed',
    () =>
      withNarrative(() => {
        expect(results).toHaveLength(3)
        const deployed = [...results.map((r) => r.workflow?.deploy.checkout?.sha), results[2].restoreCommit?.sha]
        expect(deployed.every(Boolean)).toBe(true)
        expect(results.at(-1)!.audit?.entries.map((e) => e.sha)).toEqual(deployed)
      }),
    STEP_TIMEOUT_MS
  )
})

/** The deploy's rolled-back-images output. */
function rolledBackImages(
  result: ReleaseResult
): { service: string; failed: boolean; failedImage: string; restoredImage: string }[] {
  return json(result.workflow?.deploy.run?.outputs['rolled-back-images'])
}

/** Another run's bump landing on the infra repo's main: one image line changed, committed and pushed. */
async function landBump(service: string, reference: string): Promise<string> {
  const dir = await sandbox.infra.remote.clone(join(scratch, `concurrent-${Date.now()}`))
  const path = join(dir, 'compose.yaml')
  const text = await readFile(path, 'utf8')
  await writeFile(path, text.replace(`image: ${imageLine(text, service)}`, `image: ${reference}`))
  const git = (...args: string[]) =>
    exec('git', ['-C', dir, '-c', 'user.name=Other Run', '-c', 'user.email=other@acme.invalid', ...args])
  await git('commit', '-qam', `chore(deploy): update ${service} (a concurrent bump)`)
  await git('push', '-q', 'origin', 'HEAD:main')
  return (await git('rev-parse', 'HEAD')).stdout.trim()
}

// After release 3 (Git and the VM at api v2, worker v1): the automatic path of "Rolling back" on the real bench.
describe('Git stays the truth after an automatic rollback', () => {
  const release = (spec: Omit<ReleaseSpec, 'number'>, number: number): ReleaseSpec => ({ ...spec, number })
  const apiV2 = () => results[1].pushed[0].reference

  it(
    'a release of two services of which one fails: only the failed one goes back in Git; the healthy one is deployed again',
    () =>
      withNarrative(async () => {
        const result = await sandbox.release(
          release(
            {
              title: 'api and worker, of which api fails',
              form: 'services',
              images: [
                { service: 'api', tag: 'v4', body: 'api v4 (broken)\n', healthy: false },
                { service: 'worker', tag: 'v2', body: 'worker v2\n', healthy: true }
              ]
            },
            4
          )
        )
        results.push(result)
        const [api, worker] = result.pushed
        const run = result.workflow!
        expect(run.deploy.run?.outputs['rolled-back']).toBe('true')
        expect(rolledBackImages(result)).toEqual([
          expect.objectContaining({ service: 'api', failed: true, failedImage: api.reference, restoredImage: apiV2() }),
          expect.objectContaining({
            service: 'worker',
            failed: false,
            failedImage: worker.reference,
            restoredImage: results[0].pushed[1].reference
          })
        ])
        // The restoring commit changes api's line only; worker keeps v2 in Git, and its deploy brings worker v2 up.
        expect(result.restoreCommit?.removed).toEqual([`    image: ${api.reference}`])
        expect(result.restoreCommit?.added).toEqual([`    image: ${apiV2()}`])
        expect(json<string[]>(run.restore.runs![1].outputs.deployed)).toEqual(['worker'])
        expect(result.git).toMatchObject({ api: apiV2(), worker: worker.reference })
        expect(result.after.api.image).toBe(apiV2())
        expect(result.after.worker.image).toBe(worker.reference)
        expect(result.http.api.body).toBe('api v2\n')
        expect(result.http.worker.body).toBe('worker v2\n')
        expect(result.dispatch.outputs['restore-commit']).toBe(
          `https://github.com/acme/infra/commit/${result.restoreCommit!.sha}`
        )
        expect(result.audit?.entries.at(-1)).toMatchObject({
          result: 'success',
          services: ['worker'],
          sha: result.restoreCommit!.sha,
          restores: run.deploy.checkout!.sha
        })
      }),
    STEP_TIMEOUT_MS
  )

  it(
    'a later unrelated change deploys without trying the failed image again',
    () =>
      withNarrative(async () => {
        const before = results.at(-1)!
        const result = await sandbox.release(
          release(
            {
              title: 'a new worker only',
              form: 'single',
              images: [{ service: 'worker', tag: 'v3', body: 'worker v3\n', healthy: true }]
            },
            5
          )
        )
        results.push(result)
        expect(result.outcome).toBe('deployed')
        expect(json<string[]>(result.workflow!.deploy.run?.outputs.deployed)).toEqual(['worker'])
        expect(result.after.api.id).toBe(before.after.api.id)
        expect(result.git).toMatchObject({ api: apiV2(), worker: result.pushed[0].reference })
        expect(result.workflow!.restore.result).toBe('skipped')
        expect(result.dispatch.outputs['restore-commit']).toBe('')
      }),
    STEP_TIMEOUT_MS
  )

  it(
    'a bump landing between the failed commit and the restoring one is kept',
    () =>
      withNarrative(async () => {
        const workerV2 = results[3].pushed[1].reference
        let concurrent = ''
        sandbox.workflow.beforeJob(async (job) => {
          if (job === 'restore') concurrent = await landBump('worker', workerV2)
        })
        try {
          const result = await sandbox.release(
            release(
              {
                title: 'an api that fails, while another run bumps worker',
                form: 'single',
                images: [{ service: 'api', tag: 'v5', body: 'api v5 (broken)\n', healthy: false }]
              },
              6
            )
          )
          results.push(result)
          expect(result.outcome).toBe('rolled back')
          expect(concurrent).toMatch(/^[0-9a-f]{40}$/)
          const parent = (
            await exec('git', ['-C', sandbox.infra.remote.bareDir, 'rev-parse', `${result.restoreCommit!.sha}^`])
          ).stdout.trim()
          expect(parent).toBe(concurrent)
          expect(result.restoreCommit?.removed).toEqual([`    image: ${result.pushed[0].reference}`])
          expect(result.restoreCommit?.added).toEqual([`    image: ${apiV2()}`])
          // The concurrent bump stays in Git, and the restoring commit's deploy brings it to the VM.
          expect(result.git).toMatchObject({ api: apiV2(), worker: workerV2 })
          expect(result.after.worker.image).toBe(workerV2)
          expect(result.after.api.image).toBe(apiV2())
        } finally {
          sandbox.workflow.beforeJob(undefined)
        }
      }),
    STEP_TIMEOUT_MS
  )
})
