// Preview environments on the real bench: the main stack and two pull-request previews side by
// side on one VM (sshd on 127.0.0.1, the real Docker engine with Compose v2, a local registry),
// each preview its own project, remote-dir and override file; then `mode: remove` takes one
// preview down and leaves the others as they were.
import { existsSync } from 'node:fs'
import { mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { exec, freePort, type SshHost } from '@gitops-lite/sandbox'
import {
  containers,
  deploy,
  deployInputs,
  expectFailure,
  expectSuccess,
  newWorkspace,
  output,
  readJsonLines,
  serves,
  startDeployFixture,
  startVm,
  timeout,
  writeVmSecrets,
  type DeployFixture,
  stopDeployFixture
} from './ssh-surgical-deploy/fixture'

let bench: DeployFixture
let vm: SshHost
let workspace: string
const main = { project: `gl-main-${process.pid}`, dir: '', port: 0 }
const previews = [1, 2].map((number) => ({ number, project: `gl-pr-${number}-${process.pid}`, dir: '', port: 0 }))
const volumeOf = (project: string) => `${project}_cache`

/** The preview's override: its own port, the previews' shared secrets, a named volume. */
function overrideFile(port: number): string {
  return [
    'services:',
    '  web:',
    `    ports: !override ["127.0.0.1:${port}:80"]`,
    '    env_file: !override [../.web.env]',
    '  worker:',
    '    volumes: ["cache:/cache"]',
    'volumes:',
    '  cache: {}',
    ''
  ].join('\n')
}

async function names(kind: 'network' | 'volume', project: string): Promise<string[]> {
  const { stdout } = await exec('docker', [kind, 'ls', '-q', '--filter', `label=com.docker.compose.project=${project}`])
  return stdout.split('\n').filter(Boolean).sort()
}

/** The projects `mode: list` finds under the previews' folder, from the host's records. */
async function listedPreviews(): Promise<string[]> {
  const run = expectSuccess(
    await deploy(workspace, deployInputs(vm, { 'remote-dir': join(vm.remoteDir, 'previews'), mode: 'list', files: '' }))
  )
  const stacks = output(run, 'stacks') as { host: string; remoteDir: string; project: string; sha: string }[]
  for (const stack of stacks)
    expect(stack).toMatchObject({
      host: `${vm.username}@${vm.host}:${vm.port}`,
      remoteDir: expect.stringContaining('/previews/pr-')
    })
  for (const stack of stacks) expect(run.summary).toContain(`${stack.project}  ${stack.remoteDir}`)
  return stacks.map((s) => s.project).sort()
}

const removeInputs = (preview: { project: string; dir: string }, extra: Record<string, string> = {}) =>
  deployInputs(vm, { 'remote-dir': preview.dir, 'project-name': preview.project, mode: 'remove', files: '', ...extra })

beforeAll(async () => {
  bench = await startDeployFixture('ssh-previews')
  vm = await startVm(bench, 'vm', '127.0.0.1')
  main.dir = join(vm.remoteDir, 'stack')
  main.port = await freePort()
  await writeVmSecrets(main.dir, {})
  bench.group.trackComposeProject(main.project)
  workspace = await newWorkspace(bench, 'infra', {
    web: bench.images.webV1,
    worker: bench.images.worker,
    webPort: main.port
  })
  // The previews' secrets, once, in the folder that holds every preview.
  await writeVmSecrets(join(vm.remoteDir, 'previews'), {})
  for (const preview of previews) {
    preview.dir = join(vm.remoteDir, 'previews', `pr-${preview.number}`)
    preview.port = await freePort()
    bench.group.trackComposeProject(preview.project)
    bench.group.defer(`remove volume ${volumeOf(preview.project)}`, async () => {
      await exec('docker', ['volume', 'rm', '-f', volumeOf(preview.project)], { allowFailure: true })
    })
  }
}, timeout)

afterAll(() => stopDeployFixture(bench), timeout)

describe('preview environments beside the main stack (Compose v2)', () => {
  let before: Record<string, Record<string, string>>

  it(
    'deploys the main stack and two previews side by side, each with its own project, folder and port',
    async () => {
      expectSuccess(await deploy(workspace, deployInputs(vm, { 'remote-dir': main.dir, 'project-name': main.project })))
      for (const preview of previews) {
        await writeFile(join(workspace, 'compose.preview.yaml'), overrideFile(preview.port))
        const inputs = deployInputs(vm, {
          'remote-dir': preview.dir,
          'project-name': preview.project,
          files: 'compose.yaml\ncompose.preview.yaml\nconf/motd.txt'
        })
        expect(output(expectSuccess(await deploy(workspace, inputs)), 'deployed')).toEqual(['web', 'worker'])
      }
      for (const stack of [main, ...previews]) expect(await serves(stack.port)).toBe('web v1')
      expect(await names('volume', previews[0].project)).toEqual([volumeOf(previews[0].project)])
      expect(await listedPreviews()).toEqual(previews.map((p) => p.project).sort())
      before = Object.fromEntries(
        await Promise.all([main, ...previews].map(async (s) => [s.project, await containers(s.project)]))
      )
    },
    timeout
  )

  it(
    'a dry run lists what would go and changes nothing',
    async () => {
      const [preview] = previews
      const run = expectSuccess(await deploy(workspace, removeInputs(preview, { 'dry-run': 'true' })))
      const removal = (output(run, 'plan') as Record<string, { result: string; removal: Record<string, unknown> }>)[
        `${vm.username}@${vm.host}:${vm.port}`
      ]
      expect(removal.result).toBe('dry-run')
      expect(removal.removal).toMatchObject({
        project: preview.project,
        containers: expect.arrayContaining([
          expect.objectContaining({ service: 'web' }),
          expect.objectContaining({ service: 'worker' })
        ]),
        networks: [`${preview.project}_default`],
        volumes: [{ name: volumeOf(preview.project), removed: false }],
        files: ['compose.yaml', 'compose.preview.yaml', 'conf/motd.txt'],
        state: join(preview.dir, '.gitops-lite'),
        failed: []
      })
      expect(run.stdout).toContain(`Would remove project ${preview.project}`)
      expect(await containers(preview.project)).toEqual(before[preview.project])
      expect(existsSync(join(preview.dir, '.gitops-lite', 'state'))).toBe(true)
    },
    timeout
  )

  it(
    'refuses to remove a project that remote-dir does not hold, changing nothing',
    async () => {
      const [preview] = previews
      const wrongProject = expectFailure(
        await deploy(workspace, removeInputs({ project: main.project, dir: preview.dir }))
      )
      expect(wrongProject.annotations.find((a) => a.level === 'error')?.message).toContain(
        `${preview.dir} on ${vm.username}@${vm.host}:${vm.port} holds the project '${preview.project}', not '${main.project}'`
      )
      const wrongDir = expectFailure(
        await deploy(workspace, removeInputs({ project: preview.project, dir: join(vm.remoteDir, 'previews', 'pr-9') }))
      )
      expect(wrongDir.annotations.find((a) => a.level === 'error')?.message).toContain(
        `The project '${preview.project}' on ${vm.username}@${vm.host}:${vm.port} runs from ${preview.dir}`
      )
      for (const stack of [main, ...previews]) expect(await containers(stack.project)).toEqual(before[stack.project])
    },
    timeout
  )

  it(
    'removes one preview completely, keeping its named volume and the audit log; the others are untouched',
    async () => {
      const [preview, other] = previews
      const run = expectSuccess(await deploy(workspace, removeInputs(preview), { GITHUB_ACTOR: 'closer' }))
      expect(output(run, 'removed')).toEqual(['web', 'worker'])
      expect(run.summary).toContain(`Removing project ${preview.project} from`)
      expect(await containers(preview.project)).toEqual({})
      expect(await names('network', preview.project)).toEqual([])
      expect(await names('volume', preview.project)).toEqual([volumeOf(preview.project)])
      // What it uploaded and its state are gone; the audit log records the removal.
      expect((await readdir(preview.dir)).sort()).toEqual(['.gitops-lite'])
      expect(await readdir(join(preview.dir, '.gitops-lite'))).toEqual(['audit.log'])
      expect((await readJsonLines(join(preview.dir, '.gitops-lite', 'audit.log'))).at(-1)).toMatchObject({
        mode: 'remove',
        project: preview.project,
        actor: 'closer',
        removeVolumes: false,
        result: 'removed'
      })
      expect(existsSync(join(vm.remoteDir, 'previews', '.web.env'))).toBe(true)
      for (const stack of [main, other]) {
        expect(await containers(stack.project)).toEqual(before[stack.project])
        expect(await serves(stack.port)).toBe('web v1')
      }
      expect(await listedPreviews()).toEqual([other.project])
      // Again: nothing left to remove.
      const again = expectSuccess(await deploy(workspace, removeInputs(preview)))
      expect(Object.values(output(again, 'plan') as Record<string, { result: string }>)[0].result).toBe('unchanged')
    },
    timeout
  )

  it(
    'never removes through a symbolic link; with remove-volumes, the named volume goes too',
    async () => {
      const [, preview] = previews
      // A folder the deploy uploaded into is replaced by a link to a folder outside remote-dir.
      const outside = join(bench.work, 'outside')
      await mkdir(outside, { recursive: true })
      await writeFile(join(outside, 'motd.txt'), "not the preview's\n")
      await rm(join(preview.dir, 'conf'), { recursive: true })
      await symlink(outside, join(preview.dir, 'conf'))
      const partly = expectFailure(await deploy(workspace, removeInputs(preview, { 'remove-volumes': 'true' })))
      expect(partly.annotations.find((a) => a.level === 'error')?.message).toContain(
        'conf/motd.txt (a folder on its path is a symbolic link)'
      )
      expect(await readFile(join(outside, 'motd.txt'), 'utf8')).toBe("not the preview's\n")
      expect(await containers(preview.project)).toEqual({})
      // The record stays until everything is gone: with the link removed, a rerun finishes.
      expect(existsSync(join(preview.dir, '.gitops-lite', 'state'))).toBe(true)
      await rm(join(preview.dir, 'conf'))
      expectSuccess(await deploy(workspace, removeInputs(preview, { 'remove-volumes': 'true' })))
      expect(await names('volume', preview.project)).toEqual([])
      expect(await readdir(join(preview.dir, '.gitops-lite'))).toEqual(['audit.log'])
      expect(await containers(main.project)).toEqual(before[main.project])
      expect(await serves(main.port)).toBe('web v1')
    },
    timeout
  )
})
