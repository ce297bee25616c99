// The whole pipeline, end to end, as scripts/sandbox.sh runs it: a developer pushes images and
// dispatches from the app repo (dispatch-to-infra, wait: true), GitHub runs the infra workflow
// (bump-image-tag, then ssh-surgical-deploy over SSH to a real sshd "VM" on loopback), all
// through the committed bundles, against a real Docker engine, registry, git and sshd.
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
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
  type PushedImage
} from '@gitops-lite/demo'

/** Per step: a release takes 10-40 s on two cores; a stuck one must fail, not hang CI. */
const STEP_TIMEOUT_MS = 180_000

const narrative: string[] = []
let sandbox: PipelineSandbox
let scratch: string
let initialCompose: string
const results: ReleaseResult[] = []

/** Runs `body`; when an assertion fails, the end of the sandbox's narrative comes with it. */
async function withNarrative(body: () => Promise<void> | void): Promise<void> {
  try {
    await body()
  } catch (error) {
    const err = error as Error
    err.message += `\n\nLast lines of the sandbox narrative:\n${narrative.slice(-60).join('\n')}`
    throw err
  }
}

function json<T>(text: string | undefined): T {
  expect(text).toBeTruthy()
  return JSON.parse(text!) as T
}

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
  const sent = sandbox.github.requestsTo('POST', /^\/repos\/acme\/infra\/dispatches$/).filter(
    (r) => (r.body as { client_payload?: { correlation_id?: string } }).client_payload?.correlation_id === result.correlationId
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
    log: (line) => narrative.push(line)
  })
  initialCompose = await sandbox.infraCompose()
}, STEP_TIMEOUT_MS)

afterAll(async () => {
  if (!sandbox) return
  const { dir, projectName, vm, registry } = sandbox
  await sandbox.down()
  // Nothing left behind: no container or network of the project, no sshd, no registry, no state.
  expect(await snapshotStack(projectName)).toEqual({})
  expect((await exec('docker', ['network', 'ls', '-q', '--filter', `label=com.docker.compose.project=${projectName}`])).stdout.trim()).toBe('')
  for (const pid of [vm.pid, registry.pid]) expect(() => process.kill(pid, 0)).toThrow()
  expect(existsSync(dir)).toBe(false)
  await rm(scratch, { recursive: true, force: true })
  if (results.length) console.log(['The pipeline, end to end:', ...releaseTable(results)].join('\n'))
}, STEP_TIMEOUT_MS)

describe('the pipeline, end to end, through the committed bundles', () => {
  it('sets up a registry, an SSH VM, the fake GitHub API and the two repositories', () =>
    withNarrative(async () => {
      expect((await httpGet(`http://${sandbox.registry.address}/v2/`))?.status).toBe(200)
      expect(() => process.kill(sandbox.vm.pid, 0)).not.toThrow()
      expect(sandbox.github.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect(imageLine(initialCompose, 'api')).toBe(`${sandbox.registry.address}/demo/api:v0`)
      expect(imageLine(initialCompose, 'worker')).toBe(`${sandbox.registry.address}/demo/worker:v0`)
      expect(await snapshotStack(sandbox.projectName)).toEqual({})
    }), STEP_TIMEOUT_MS)

  it('release 1: pushes api:v1 and worker:v1, dispatches both, bumps both lines, deploys both', () =>
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
      expect(payload.services).toEqual(result.pushed.map((p) => ({ service: p.service, image: p.repository, tag: p.tag, digest: p.digest })))
      const run = result.workflow!
      expect(run).toBeDefined()
      expect(result.dispatch.outputs).toMatchObject({ 'run-id': String(run.runId), conclusion: 'success' })
      expect(result.dispatch.outputs['run-url']).toContain(`/actions/runs/${run.runId}`)
      expect(run.displayTitle).toContain(result.correlationId)
      expect(sandbox.github.workflowRun(run.runId)).toMatchObject({ status: 'completed', conclusion: 'success', event: 'repository_dispatch' })

      // bump-image-tag: both services, one line each, pushed to main.
      expect(run.bump.run?.exitCode).toBe(0)
      expect(run.bump.run?.outputs.changed).toBe('true')
      expect(json<string[]>(run.bump.run?.outputs.services).sort()).toEqual(['api', 'worker'])
      expect(run.bump.run?.outputs['commit-sha']).toBe(await sandbox.infra.remote.head())
      expectOneLinePerService(result, { api: `${sandbox.registry.address}/demo/api:v0`, worker: `${sandbox.registry.address}/demo/worker:v0` })
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
        expect(result.after[pushed.service]).toMatchObject({ image: pushed.reference, status: 'running', health: 'healthy' })
      }
      expect(result.http.api).toMatchObject({ status: 200, body: 'api v1\n' })
      expect(result.http.worker).toMatchObject({ status: 200, body: 'worker v1\n' })
      expect(result.outcome).toBe('deployed')

      // The audit log on the host has a line for this deploy.
      expect(result.audit?.path).toBe(join(sandbox.vm.remoteDir, '.gitops-lite', 'audit.log'))
      expect(result.audit?.entries).toHaveLength(1)
      expect(result.audit?.entries[0]).toMatchObject({ result: 'success', services: ['api', 'proxy', 'worker'], actor: 'sandbox-dev' })
      expect(checkRelease(result)).toEqual([])
    }), STEP_TIMEOUT_MS)

  it('release 2: only api:v2; only api is recreated, worker keeps its container', () =>
    withNarrative(async () => {
      const previous = results[0]
      const result = await sandbox.release(RELEASES[1])
      results.push(result)
      expectPushed(result.pushed, [{ service: 'api', tag: 'v2' }])

      // dispatch-to-infra with service/image/tag/digest: the single-service payload.
      expect(result.dispatch.exitCode).toBe(0)
      const payload = expectDispatched(result)
      expect(payload).toMatchObject({ service: 'api', image: result.pushed[0].repository, tag: 'v2', digest: result.pushed[0].digest })
      expect(payload.services).toBeUndefined()
      expect(result.dispatch.outputs.conclusion).toBe('success')

      // One line changed in the infra repo: api's image.
      const run = result.workflow!
      expect(json<string[]>(run.bump.run?.outputs.services)).toEqual(['api'])
      expect(json<Record<string, string>>(run.bump.run?.outputs.previous)).toEqual({ api: previous.pushed[0].reference })
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
      expect(result.after.api).toMatchObject({ image: result.pushed[0].reference, status: 'running', health: 'healthy' })
      expect(result.http.api).toMatchObject({ status: 200, body: 'api v2\n' })
      expect(result.http.worker).toMatchObject({ status: 200, body: 'worker v1\n' })
      // A GET through the proxy every 20 ms throughout: none failed.
      expect(result.probe).toMatchObject({ failures: 0, lastBody: 'api v2\n' })
      expect(result.audit?.entries).toHaveLength(2)
      expect(result.audit?.entries[1]).toMatchObject({ result: 'success', services: ['api'] })
      expect(checkRelease(result)).toEqual([])
    }), STEP_TIMEOUT_MS)

  it('release 3: api:v3 fails its healthcheck; the deploy rolls back, the wait fails, api:v2 still serves', () =>
    withNarrative(async () => {
      const previous = results[1]
      const result = await sandbox.release(RELEASES[2])
      results.push(result)
      expectPushed(result.pushed, [{ service: 'api', tag: 'v3' }])

      // The bump itself succeeds: Git records v3.
      const run = result.workflow!
      expect(run.bump.run?.exitCode).toBe(0)
      expectOneLinePerService(result, { api: previous.pushed[0].reference })
      expect(imageLine(await sandbox.infraCompose(), 'api')).toBe(result.pushed[0].reference)

      // The deploy fails and rolls back; the run fails; dispatch-to-infra (wait) fails with it.
      expect(run.deploy.run?.exitCode).not.toBe(0)
      expect(run.deploy.run?.outputs['rolled-back']).toBe('true')
      expect(run.conclusion).toBe('failure')
      expect(sandbox.github.workflowRun(run.runId)).toMatchObject({ status: 'completed', conclusion: 'failure' })
      expect(result.dispatch.exitCode).not.toBe(0)
      expect(result.dispatch.outputs.conclusion).toBe('failure')
      expect(result.dispatch.annotations.some((a) => a.level === 'error' && a.message.includes('failure'))).toBe(true)

      // The VM runs api:v2 again, healthy and serving; worker was never touched.
      expect(result.after.api).toMatchObject({ image: previous.pushed[0].reference, status: 'running', health: 'healthy' })
      expect(result.http.api).toMatchObject({ status: 200, body: 'api v2\n' })
      expect(result.after.worker.id).toBe(results[0].after.worker.id)
      expect(result.after.worker.startedAt).toBe(results[0].after.worker.startedAt)
      expect(result.outcome).toBe('rolled back')
      // The broken api never served (it stayed off the service name) and no request failed.
      expect(result.probe).toMatchObject({ failures: 0, bodies: { 'api v2': result.probe.probes } })

      // The deploy's log shows the failed health wait and the rollback.
      expect(run.deploy.run?.stdout).toMatch(/api: unhealthy/)
      expect(run.deploy.run?.stdout).toMatch(/Rolling back/)

      // The audit log records the rolled-back deploy too.
      expect(result.audit?.entries).toHaveLength(3)
      expect(result.audit?.entries[2]).toMatchObject({ result: 'rolled-back', services: ['api'] })
      expect(checkRelease(result)).toEqual([])
    }), STEP_TIMEOUT_MS)

  // The infra workflow deploys in the repository_dispatch run (templates/infra-repo: bump.yml's
  // job deploy), where GITHUB_SHA is main *before* the bump; the checkout is the bumped commit.
  it('the host records the commit each deploy actually deployed', () =>
    withNarrative(() => {
      expect(results).toHaveLength(3)
      const deployed = results.map((r) => r.workflow?.deploy.checkout?.sha)
      expect(deployed.every(Boolean)).toBe(true)
      expect(results.at(-1)!.audit?.entries.map((e) => e.sha)).toEqual(deployed)
    }), STEP_TIMEOUT_MS)
})
