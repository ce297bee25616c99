// `scripts/sandbox.sh --swarm`, end to end: the same three releases as the Compose pipeline
// (pipeline.test.ts), deployed with orchestrator: swarm to a stack on a single-node swarm of
// this engine, which the sandbox makes when the engine is in none and leaves again on teardown.
// By hand, run it under the swarm lock: flock /tmp/gitops-lite-swarm.lock node ... jest.js test/e2e/pipeline-swarm.test.ts
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { exec, STACK_NAMESPACE_LABEL, swarmActive } from '@gitops-lite/sandbox'
import {
  PipelineSandbox,
  RELEASES,
  checkRelease,
  releaseTable,
  snapshotSwarmStack,
  type ReleaseResult,
  type SwarmService
} from '@gitops-lite/demo'
import { json, sandboxNarrative } from '../helpers/narrative'

/** Per step: a release takes 10-25 s on two cores; a stuck one must fail, not hang CI. */
const STEP_TIMEOUT_MS = 180_000

const { log, withNarrative } = sandboxNarrative()
let sandbox: PipelineSandbox
let scratch: string
let swarmBefore: boolean
const results: ReleaseResult[] = []

const swarmService = (result: ReleaseResult, service: string) => result.after[service] as SwarmService

async function stackObjects(kind: string, stack: string): Promise<string> {
  if (!(await swarmActive())) return ''
  return (await exec('docker', [kind, 'ls', '-q', '--filter', `label=${STACK_NAMESPACE_LABEL}=${stack}`])).stdout.trim()
}

beforeAll(async () => {
  swarmBefore = await swarmActive()
  sandbox = await PipelineSandbox.up({
    dir: join((scratch = await mkdtemp(join(tmpdir(), 'gitops-lite-e2e-swarm-'))), 'sandbox'),
    projectName: `gle2eswarm${process.pid}`,
    orchestrator: 'swarm',
    log
  })
}, STEP_TIMEOUT_MS)

afterAll(async () => {
  if (!sandbox) return
  const { dir, projectName, vm, registry, state } = sandbox
  await sandbox.down()
  // Nothing left behind: no service, config or network of the stack, no sshd, no registry, no
  // state; and the engine is in a swarm exactly when it was before.
  for (const kind of ['service', 'config', 'network']) expect(await stackObjects(kind, projectName)).toBe('')
  expect(state.initialisedSwarm).toBe(!swarmBefore)
  expect(await swarmActive()).toBe(swarmBefore)
  for (const pid of [vm.pid, registry.pid]) expect(() => process.kill(pid, 0)).toThrow()
  expect(existsSync(dir)).toBe(false)
  await rm(scratch, { recursive: true, force: true })
  if (results.length) console.log(['The pipeline on Swarm, end to end:', ...releaseTable(results)].join('\n'))
}, STEP_TIMEOUT_MS)

describe('the pipeline on Docker Swarm (sandbox --swarm), through the committed bundles', () => {
  it(
    'deploys with orchestrator: swarm to a swarm this engine is a manager of',
    () =>
      withNarrative(async () => {
        expect(await swarmActive()).toBe(true)
        expect(sandbox.target.orchestrator).toBe('swarm')
        expect(sandbox.state.orchestrator).toBe('swarm')
        expect(await snapshotSwarmStack(sandbox.projectName)).toEqual({})
      }),
    STEP_TIMEOUT_MS
  )

  it(
    'release 1: creates the stack, api with 2 healthy tasks behind the proxy, worker published on the node',
    () =>
      withNarrative(async () => {
        const result = await sandbox.release(RELEASES[0])
        results.push(result)
        const deploy = result.workflow!.deploy.run!
        expect(deploy.inputs.orchestrator).toBe('swarm')
        expect(deploy.stdout).toContain(`stack ${sandbox.projectName} on the swarm`)
        expect(json<string[]>(deploy.outputs.deployed).sort()).toEqual(['api', 'proxy', 'worker'])
        expect(Object.keys(result.after)).toEqual(['api', 'proxy', 'worker'])
        for (const pushed of result.pushed) {
          expect(result.after[pushed.service]).toMatchObject({ image: pushed.reference, health: 'healthy' })
        }
        expect(swarmService(result, 'api')).toMatchObject({ replicas: 2, status: '2/2 running' })
        expect(swarmService(result, 'api').tasks).toHaveLength(2)
        expect(swarmService(result, 'worker')).toMatchObject({ replicas: 1, status: '1/1 running' })
        // The proxy's nginx.conf went in as a Swarm config named by its content.
        expect(await stackObjects('config', sandbox.projectName)).not.toBe('')
        expect(result.http.api).toMatchObject({ status: 200, body: 'api v1\n' })
        expect(result.http.worker).toMatchObject({ status: 200, body: 'worker v1\n' })
        expect(result.audit?.entries.at(-1)).toMatchObject({ result: 'success', services: ['api', 'proxy', 'worker'] })
        expect(checkRelease(result)).toEqual([])
      }),
    STEP_TIMEOUT_MS
  )

  it(
    'release 2: only api is updated; worker and the proxy keep their spec version and tasks; no request fails',
    () =>
      withNarrative(async () => {
        const previous = results[0]
        const result = await sandbox.release(RELEASES[1])
        results.push(result)
        const deploy = result.workflow!.deploy.run!
        expect(json<string[]>(deploy.outputs.deployed)).toEqual(['api'])
        expect(result.changes.map((c) => [c.service, c.recreated])).toEqual([
          ['api', true],
          ['proxy', false],
          ['worker', false]
        ])
        for (const service of ['proxy', 'worker']) {
          const [before, after] = [swarmService(previous, service), swarmService(result, service)]
          expect({ version: after.version, updatedAt: after.updatedAt, tasks: after.tasks.map((t) => t.id) }).toEqual({
            version: before.version,
            updatedAt: before.updatedAt,
            tasks: before.tasks.map((t) => t.id)
          })
        }
        const [apiBefore, apiAfter] = [swarmService(previous, 'api'), swarmService(result, 'api')]
        expect(apiAfter.version).toBeGreaterThan(apiBefore.version)
        expect(apiAfter.tasks.map((t) => t.id)).not.toEqual(expect.arrayContaining(apiBefore.tasks.map((t) => t.id)))
        expect(apiAfter).toMatchObject({ image: result.pushed[0].reference, status: '2/2 running', health: 'healthy' })
        expect(result.http.api.body).toBe('api v2\n')
        // A GET through the proxy every 20 ms: the rolling start-first update of 2 tasks lost none.
        expect(result.probe).toMatchObject({ failures: 0, lastBody: 'api v2\n' })
        expect(result.probe.bodies['api v1']).toBeGreaterThan(0)
        expect(checkRelease(result)).toEqual([])
      }),
    STEP_TIMEOUT_MS
  )

  it(
    'release 3: api:v3 never gets healthy; the deploy rolls the service back, Git is put back, and they agree',
    () =>
      withNarrative(async () => {
        const previous = results[1]
        const result = await sandbox.release(RELEASES[2])
        results.push(result)
        const run = result.workflow!
        expect(run.deploy.run?.outputs['rolled-back']).toBe('true')
        expect(run.deploy.run?.stdout).toMatch(/api failed: update paused|api is update paused/)
        expect(run.deploy.run?.stdout).toContain('Tasks of api that failed or were shut down:')
        expect(run.deploy.run?.stdout).toMatch(/Rolling back/)
        expect(json<Record<string, unknown>[]>(run.deploy.run?.outputs['rolled-back-images'])).toEqual([
          expect.objectContaining({
            service: 'api',
            failedImage: result.pushed[0].reference,
            // The reference Git had, digest pin included: the restore writes exactly it back.
            restoredImage: previous.pushed[0].reference,
            failed: true
          })
        ])
        expect(result.dispatch.exitCode).not.toBe(0)
        expect(result.outcome).toBe('rolled back')

        // The swarm runs api v2 again, on 2 healthy tasks; worker was never touched.
        expect(swarmService(result, 'api')).toMatchObject({
          image: previous.pushed[0].reference,
          status: '2/2 running',
          health: 'healthy'
        })
        expect(swarmService(result, 'api').updateState).toBe('rollback_completed')
        expect(result.http.api.body).toBe('api v2\n')
        expect(result.after.worker.id).toBe(results[0].after.worker.id)
        expect(result.probe).toMatchObject({ failures: 0, bodies: { 'api v2': result.probe.probes } })

        // The restore job wrote v2 back; its deploy found nothing to do; Git and the swarm agree.
        expect(run.restore.result).toBe('success')
        expect(result.restoreCommit?.removed.map((l) => l.trim())).toEqual([`image: ${result.pushed[0].reference}`])
        expect(result.restoreCommit?.added.map((l) => l.trim())).toEqual([`image: ${previous.pushed[0].reference}`])
        const restoreDeploy = run.restore.runs![1]
        expect(restoreDeploy.exitCode).toBe(0)
        expect(json<string[]>(restoreDeploy.outputs.deployed)).toEqual([])
        expect(result.git).toEqual({
          api: result.after.api.image,
          proxy: expect.any(String),
          worker: result.after.worker.image
        })
        expect(result.dispatch.outputs['restore-commit']).toBe(
          `https://github.com/acme/infra/commit/${result.restoreCommit!.sha}`
        )
        // The audit log records the rolled-back deploy, then the restoring commit, which it names as such.
        expect(result.audit?.entries.map((e) => e.result)).toEqual(['success', 'success', 'rolled-back', 'success'])
        expect(result.audit?.entries.at(-1)).toMatchObject({
          services: [],
          sha: result.restoreCommit!.sha,
          restores: run.deploy.checkout!.sha
        })
        expect(checkRelease(result)).toEqual([])
      }),
    STEP_TIMEOUT_MS
  )
})
