import { mkdir, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { parse } from 'yaml'
import { formatDuration } from '@gitops-lite/core'
import {
  buildDemoHttpImage,
  ensureBaseImage,
  ensureDocker,
  ensureNginxImage,
  BASE_IMAGE,
  type DockerInfo,
  exec,
  FakeGitHub,
  createGitRemote,
  type GitRemote,
  freePort,
  httpGet,
  nginxProxyConfig,
  ProcessGroup,
  startProbes,
  type ProbeResult,
  startRegistry,
  type Registry,
  repoRoot,
  runAction,
  type ActionRun,
  startSshHost,
  type SshHost
} from '@gitops-lite/sandbox'
import { InfraWorkflow, actionError, logTail, type InfraRunResult } from './infra-workflow'
import { Narrator, firstLine, type LineSink } from './narrator'
import { probe, readAuditLog, type AuditEntry, type HttpProbe, type StackSnapshot } from './stack'
import { PROXY_CONFIG, shortImage, stackTarget, type Orchestrator, type StackTarget } from './target'
import {
  DEFAULT_PROJECT_NAME,
  DEFAULT_SANDBOX_DIR,
  activeOwner,
  readState,
  teardownSandbox,
  writeState,
  type SandboxState
} from './state'

export const APP_REPOSITORY = 'acme/app'
export const INFRA_REPOSITORY = 'acme/infra'
/**
 * The services of the sandbox stack: both busybox httpd demo images. worker is published on
 * the host; api is replaced start-first behind an nginx proxy, which publishes api's port.
 */
export const SERVICES = ['api', 'worker'] as const
export type ServiceName = (typeof SERVICES)[number]

/** The token the app repo's workflow holds as a secret (the fake GitHub API accepts only it). */
const DISPATCH_TOKEN = 'github_pat_sandbox_0000000000000000000000'
const identity = [
  '-c',
  'user.name=Sandbox Developer',
  '-c',
  'user.email=dev@acme.invalid',
  '-c',
  'commit.gpgsign=false'
]

export interface SandboxOptions {
  /** Everything lives here; reset on up(). Default <repo>/.sandbox. */
  dir?: string
  /** The compose project (or Swarm stack) on the VM. Default gitops-lite-sandbox. */
  projectName?: string
  /** What runs the stack: Compose on the VM (default) or a Swarm stack on a single-node swarm of this engine. */
  orchestrator?: Orchestrator
  /** Narrative output; default stdout. */
  log?: LineSink
  /** ssh-surgical-deploy's `health-timeout`. */
  healthTimeout?: string
  /** dispatch-to-infra's `wait-timeout`. */
  waitTimeout?: string
}

/** One image of a release: what the developer builds and pushes. */
export interface ReleaseImage {
  service: ServiceName
  tag: string
  /** What the service serves at /. */
  body: string
  /** false: the image's HEALTHCHECK always fails. */
  healthy: boolean
}

export interface ReleaseSpec {
  number: number
  title: string
  images: ReleaseImage[]
  /** How dispatch-to-infra is called: the `services` JSON input, or `service`/`image`/`tag`/`digest`. */
  form: 'services' | 'single'
}

export interface PushedImage {
  service: ServiceName
  /** Repository without tag, e.g. 127.0.0.1:5000/demo/api. */
  repository: string
  tag: string
  digest: string
  /** repository:tag@digest, what the compose file will say. */
  reference: string
  healthy: boolean
  /** The registry's tag list for the repository after the push. */
  registryTags: string[]
}

/** The commit bump-image-tag pushed to the infra repo, as `git show` has it. */
export interface InfraCommit {
  sha: string
  subject: string
  message: string
  /** `git show --stat` */
  stat: string
  /** `git show` of the compose file: the unified diff. */
  diff: string
  /** Changed lines of the diff (without the +/- sign), per file. */
  removed: string[]
  added: string[]
  files: string[]
}

export type ReleaseOutcome = 'deployed' | 'rolled back' | 'failed'

export interface ServiceChange {
  service: string
  before?: string
  after?: string
  recreated: boolean
}

export interface ReleaseResult {
  spec: ReleaseSpec
  orchestrator: Orchestrator
  pushed: PushedImage[]
  appCommit: string
  dispatch: ActionRun
  correlationId?: string
  /** The infra workflow run the dispatch started (bump job, deploy job). */
  workflow?: InfraRunResult
  infraCommit?: InfraCommit
  /** The commit the restore job pushed after a rollback, writing the restored images back. */
  restoreCommit?: InfraCommit
  /** Each service's image as the infra repo's main says after the release. */
  git: Record<string, string>
  before: StackSnapshot
  after: StackSnapshot
  changes: ServiceChange[]
  /** GET / of each published service after the release. */
  http: Record<string, HttpProbe>
  /** GETs of api through the proxy every 20 ms, from the dispatch until the workflow ended. */
  probe: ProbeResult
  audit?: { path: string; entries: AuditEntry[] }
  outcome: ReleaseOutcome
  durationMs: number
}

/**
 * The whole pipeline on this machine: a registry, an sshd "VM", an app and an infra repo with
 * bare remotes, and a stand-in for GitHub (its API, and its runner for the infra workflow).
 * The three actions run only through their committed bundles; the sandbox plays the developer
 * (builds, pushes, dispatches from the app repo's CI) and GitHub (events, checkouts, runner env).
 */
export class PipelineSandbox {
  readonly narrator: Narrator
  readonly group: ProcessGroup
  private readonly waitTimeout: string
  private releaseRunId = 500
  private abortedBy?: string

  private constructor(
    readonly dir: string,
    readonly projectName: string,
    readonly target: StackTarget,
    readonly state: SandboxState,
    readonly docker: DockerInfo,
    readonly registry: Registry,
    readonly vm: SshHost,
    readonly github: FakeGitHub,
    readonly app: { remote: GitRemote; workDir: string },
    readonly infra: { remote: GitRemote },
    readonly ports: Record<ServiceName, number>,
    readonly workflow: InfraWorkflow,
    narrator: Narrator,
    group: ProcessGroup,
    options: SandboxOptions
  ) {
    this.narrator = narrator
    this.group = group
    this.waitTimeout = options.waitTimeout ?? '5m'
  }

  /** Stops a release in progress at its next step (Ctrl-C), and mutes the narrative. */
  abort(reason: string): void {
    this.abortedBy = reason
    this.narrator.mute()
  }

  private checkAborted(): void {
    if (this.abortedBy) throw new Error(`The sandbox was stopped (${this.abortedBy})`)
  }

  /** Published URL of a service on the VM. */
  url(service: ServiceName): string {
    return `http://127.0.0.1:${this.ports[service]}/`
  }

  /** Image repository of a service in the local registry. */
  imageRepository(service: ServiceName): string {
    return `${this.registry.address}/demo/${service}`
  }

  /**
   * Resets `dir` (tearing down what a previous run left), then starts the registry, the VM, the
   * fake GitHub API and its workflow runner, and creates the two repositories.
   */
  static async up(options: SandboxOptions = {}): Promise<PipelineSandbox> {
    const dir = resolve(options.dir ?? DEFAULT_SANDBOX_DIR)
    const projectName = options.projectName ?? DEFAULT_PROJECT_NAME
    const target = stackTarget(options.orchestrator)
    const narrator = new Narrator(options.log)
    narrator.heading('Setting up the sandbox')

    await narrator.run(`Reset ${dir}`, async (step) => {
      const owner = await activeOwner(await readState(dir))
      if (owner !== undefined)
        throw new Error(`Another sandbox run (pid ${owner}) is using ${dir}; wait for it or stop it first`)
      for (const line of await teardownSandbox(dir, { projectName })) step.note(line)
      await mkdir(dir, { recursive: true })
    })

    const group = new ProcessGroup('sandbox')
    const state: SandboxState = {
      version: 1,
      dir,
      startedAt: new Date().toISOString(),
      ownerPid: process.pid,
      label: group.labelValue,
      projectName,
      orchestrator: target.orchestrator,
      processes: []
    }
    await writeState(state)
    // The deploy action creates this project (or stack) on the VM; cleanup takes it down.
    group.defer(`remove the ${target.stackName(projectName)}`, async () => {
      await target.remove(projectName)
    })

    try {
      await narrator.run(
        'The action bundles (dist/) the runner would execute',
        async (step) => {
          const changed = await exec('git', ['-C', repoRoot, 'status', '--porcelain', '--', 'dist'], {
            allowFailure: true
          })
          const lines = changed.code === 0 ? changed.stdout.split('\n').filter(Boolean) : []
          if (lines.length)
            step.note(`not as committed (running them anyway): ${lines.map((l) => l.slice(3)).join(', ')}`)
          return lines.length
        },
        (n) => (n ? `${n} file(s) differ from the commit` : 'as committed')
      )
      const docker = await narrator.run(
        'Docker engine and Compose v2',
        () => ensureDocker(),
        (d) => `engine ${d.serverVersion}, compose ${d.composeVersion}`
      )
      const { setUp } = target
      if (setUp) {
        await narrator.run(
          setUp.title,
          async () => {
            const prepared = await setUp.run()
            state.initialisedSwarm = prepared.initialisedSwarm
            await writeState(state)
            return prepared.note
          },
          (note) => note
        )
      }
      await narrator.run(`Base image ${BASE_IMAGE} (busybox-static; no public registry needed)`, () =>
        ensureBaseImage()
      )
      const nginx = await narrator.run(
        "nginx image for api's reverse proxy (Debian's nginx-light via debootstrap: 1-2 minutes once, then kept in the engine)",
        () => ensureNginxImage(),
        (tag) => tag
      )

      const registry = await narrator.run(
        'Local registry (docker-registry on loopback)',
        () => startRegistry({ dir: join(dir, 'registry'), group }),
        (r) => `${r.address}, pid ${r.pid}`
      )
      state.registry = registry.address
      state.processes.push({ name: 'docker-registry', pid: registry.pid, match: join(dir, 'registry') })
      await writeState(state)
      const proxyImage = `${registry.address}/demo/proxy:nginx`
      await narrator.run(`Push the nginx image as ${proxyImage}`, async () => {
        await exec('docker', ['tag', nginx, proxyImage])
        group.trackImage(proxyImage)
        await exec('docker', ['push', '--quiet', proxyImage])
      })

      const vm = await narrator.run(
        'SSH "VM": sshd on 127.0.0.1 with its own host key, sharing this Docker engine',
        () => startSshHost({ dir: join(dir, 'vm'), group }),
        (h) => `${h.username}@${h.host}:${h.port}, pid ${h.pid}, host key ${h.fingerprint}`
      )
      state.processes.push({ name: 'sshd', pid: vm.pid, match: join(dir, 'vm') })
      state.vm = { host: vm.host, port: vm.port, username: vm.username, remoteDir: vm.remoteDir }
      await writeState(state)

      const ports = { api: await freePort(), worker: await freePort() }
      state.urls = { api: `http://127.0.0.1:${ports.api}/`, worker: `http://127.0.0.1:${ports.worker}/` }
      await writeState(state)

      const github = await narrator.run(
        'Stand-in for the GitHub API (repository dispatches, workflow runs)',
        () => FakeGitHub.start({ repositories: [APP_REPOSITORY, INFRA_REPOSITORY], tokens: [DISPATCH_TOKEN] }),
        (g) => `${g.url}, repositories ${APP_REPOSITORY} and ${INFRA_REPOSITORY}`
      )
      group.defer('stop the fake GitHub API', () => github.stop().catch(() => undefined))

      const { app, infra } = await narrator.run('Git repositories with bare remotes', async (step) => {
        const appRemote = await createGitRemote({
          dir: join(dir, 'git', 'app'),
          files: {
            'README.md':
              '# acme/app\n\nThe application: its CI builds demo/api and demo/worker and dispatches to acme/infra.\n'
          },
          message: 'Initial commit'
        })
        const workDir = await appRemote.clone(join(dir, 'work', 'app'))
        const compose = target.initialCompose({ registry: registry.address, ports, proxyImage })
        const infraRemote = await createGitRemote({
          dir: join(dir, 'git', 'infra'),
          files: {
            'compose.yaml': compose,
            [PROXY_CONFIG]: nginxProxyConfig([{ listen: 80, service: 'api', port: 80 }]),
            'README.md': '# acme/infra\n\nWhat runs on the VM. Every deploy is a commit here.\n'
          },
          message: 'The stack: api and worker'
        })
        // dispatch-to-infra looks for the commit that put Git back after a rollback through the API.
        github.serveCommits(INFRA_REPOSITORY, { bareDir: infraRemote.bareDir, branch: infraRemote.branch })
        step.note(`${APP_REPOSITORY}   ${appRemote.bareDir}`)
        step.note(`${INFRA_REPOSITORY} ${infraRemote.bareDir}, compose.yaml:`)
        for (const line of compose.trimEnd().split('\n')) step.note(`  ${line}`)
        return { app: { remote: appRemote, workDir }, infra: { remote: infraRemote } }
      })

      const workflow = new InfraWorkflow({
        github,
        repository: INFRA_REPOSITORY,
        remote: infra.remote,
        runnerDir: join(dir, 'runner'),
        narrator,
        // deploy.yml's `with:`: the environment's secrets VM_HOST, VM_SSH_KEY, VM_KNOWN_HOSTS.
        deployInputs: {
          host: `${vm.username}@${vm.host}:${vm.port}`,
          key: vm.privateKey,
          'known-hosts': vm.knownHostsLine,
          'remote-dir': vm.remoteDir,
          files: `compose.yaml\n${PROXY_CONFIG}`,
          // Stable, so a teardown finds the project whatever remote-dir is called.
          'project-name': projectName,
          ...target.deployInputs,
          ...(options.healthTimeout ? { 'health-timeout': options.healthTimeout } : {})
        }
      })
      return new PipelineSandbox(
        dir,
        projectName,
        target,
        state,
        docker,
        registry,
        vm,
        github,
        app,
        infra,
        ports,
        workflow,
        narrator,
        group,
        options
      )
    } catch (error) {
      await group.cleanup().catch(() => undefined)
      await teardownSandbox(dir, { projectName }).catch(() => undefined)
      throw error
    }
  }

  /** One release, as a developer and GitHub would run it: build & push, dispatch, bump, deploy; then look. */
  async release(spec: ReleaseSpec): Promise<ReleaseResult> {
    const { narrator } = this
    const started = Date.now()
    const names = spec.images.map((i) => `${i.service}:${i.tag}${i.healthy ? '' : ' (failing healthcheck)'}`).join(', ')
    narrator.heading(`Release ${spec.number}: ${spec.title} (${names})`)
    const before = await this.target.snapshot(this.projectName)

    const pushed: PushedImage[] = []
    for (const image of spec.images) {
      this.checkAborted()
      pushed.push(
        await narrator.run(
          `[developer] build ${image.service}:${image.tag} (serves "${image.body.trim()}", ${image.healthy ? 'healthy' : 'HEALTHCHECK always fails'}) and push it`,
          () => this.buildAndPush(image),
          (p) => `${p.repository}:${p.tag} @ ${p.digest.slice(0, 19)}…`
        )
      )
    }

    this.checkAborted()
    const appCommit = await narrator.run(
      `[developer] commit and push ${APP_REPOSITORY}`,
      () => this.commitApp(spec),
      (sha) => `main is ${sha.slice(0, 7)}`
    )

    this.checkAborted()
    const dispatchStep = narrator.step(
      `[${APP_REPOSITORY} CI] dispatch-to-infra → ${INFRA_REPOSITORY} (${spec.form === 'services' ? 'services: ' : 'service: '}` +
        `${pushed.map((p) => p.service).join(', ')}; wait: true)`
    )
    // What a user of api sees: a GET through the proxy every 20 ms while the release goes out.
    const probes = startProbes([{ name: 'api', url: this.url('api'), intervalMs: 20 }], {
      maxMs: 15 * 60_000,
      maxProbes: 100_000
    })
    let apiProbe: ProbeResult
    let dispatch: ActionRun
    let workflow: InfraRunResult | undefined
    try {
      dispatch = await this.dispatch(spec, pushed, appCommit)
      const id = dispatch.outputs['correlation-id'] || undefined
      workflow = id ? await this.workflow.run(id) : undefined
    } finally {
      apiProbe = (await probes.stop())[0]
    }
    const correlationId = dispatch.outputs['correlation-id'] || undefined
    const waited = dispatch.outputs.conclusion
      ? `run ${dispatch.outputs['run-id']} concluded ${dispatch.outputs.conclusion}`
      : 'no conclusion'
    if (dispatch.exitCode === 0) dispatchStep.done(`${waited}; correlation id ${correlationId}`)
    else {
      dispatchStep.fail(`the step failed: ${actionError(dispatch)}`)
      if (!workflow) for (const line of logTail(dispatch, 8)) dispatchStep.note(`│ ${line}`)
    }

    this.checkAborted()
    const infraCommitSha = workflow?.bump.run?.outputs['commit-sha']
    const infraCommit = infraCommitSha ? await this.showInfraCommit(infraCommitSha) : undefined
    if (infraCommit) {
      const step = narrator.step(`[look] the commit bump-image-tag pushed to ${INFRA_REPOSITORY}`)
      for (const line of infraCommit.stat.split('\n')) step.note(line)
      for (const line of infraCommit.diff.split('\n').filter((l) => /^[-+](?![-+])/.test(l))) step.note(line)
      step.done(
        `${infraCommit.removed.length} line(s) out, ${infraCommit.added.length} in, only in ${infraCommit.files.join(', ')}`
      )
    }

    const restoreCommitSha = workflow?.restore.run?.outputs['commit-sha']
    const restoreCommit = restoreCommitSha ? await this.showInfraCommit(restoreCommitSha) : undefined
    if (restoreCommit) {
      const step = narrator.step(`[look] the commit the restore job pushed to ${INFRA_REPOSITORY} after the rollback`)
      for (const line of restoreCommit.stat.split('\n')) step.note(line)
      for (const line of restoreCommit.diff.split('\n').filter((l) => /^[-+](?![-+])/.test(l))) step.note(line)
      step.done(
        `Git names what ${this.target.where} runs again${dispatch.outputs['restore-commit'] ? '; dispatch-to-infra reported it' : ''}`
      )
    }

    const after = await this.target.snapshot(this.projectName)
    const changes = compareStacks(before, after)
    const git = await this.infraImages()
    const { target } = this
    const vmStep = narrator.step(`[look] ${target.lookTitle(this.projectName)}`)
    for (const change of changes) {
      const now = after[change.service]
      const was = before[change.service]
      const what = !was
        ? 'created'
        : change.recreated
          ? `${target.replaced} (was ${was.ref})`
          : `unchanged since ${was.startedAt.slice(11, 19)}`
      vmStep.note(
        `${change.service.padEnd(7)} ${(now?.ref ?? '-').padEnd(12)}  ${what.padEnd(30)} ${now ? target.describe(now) : 'gone'}`
      )
    }
    vmStep.done(
      `${
        changes
          .filter((c) => c.recreated)
          .map((c) => c.service)
          .join(', ') || 'nothing'
      } ${target.replaced}`
    )

    const disagree = SERVICES.filter((service) => after[service] && git[service] !== after[service].image)
    narrator
      .step(`[look] Git (${INFRA_REPOSITORY} main) and ${target.where}`)
      .done(
        disagree.length === 0
          ? 'they agree on every image'
          : `they disagree on ${disagree.map((s) => `${s} (Git ${shortImage(git[s] ?? '-')}, ${target.where.replace(/^the /, '')} ${shortImage(after[s].image)})`).join(', ')}`
      )

    const probeStep = narrator.step(
      `[look] GET ${this.url('api')} (api through the proxy) every 20 ms during the release`
    )
    const answers = Object.entries(apiProbe.bodies).map(([body, n]) => `${n} × "${body}"`)
    probeStep.note(
      `${apiProbe.probes} requests: ${apiProbe.probes - apiProbe.failures} answered (${answers.join(', ') || 'none'}), ${apiProbe.failures} failed`
    )
    if (!before.api) probeStep.done('api was not deployed before this release: it answers once it first came up')
    else if (apiProbe.failures > 0)
      probeStep.fail(`api was unreachable for up to ${(apiProbe.longestOutageMs / 1000).toFixed(2)} s`)
    else probeStep.done('no failed request')

    const http: Record<string, HttpProbe> = {}
    const httpStep = narrator.step('[look] the stack serving')
    for (const service of SERVICES) {
      http[service] = await probe(this.url(service))
      const answer =
        http[service].status === null ? 'no answer' : `${http[service].status} "${http[service].body.trim()}"`
      httpStep.note(`GET ${this.url(service)} → ${answer}`)
    }
    httpStep.done()

    const audit = await readAuditLog(this.vm.remoteDir)
    if (audit?.entries.length) {
      narrator.step(`[look] audit log on the VM: ${audit.path}`).done(summarizeAudit(audit.entries.at(-1)!))
    }

    const rolledBack = workflow?.deploy.run?.outputs['rolled-back'] === 'true'
    const outcome: ReleaseOutcome =
      dispatch.exitCode === 0 && workflow?.conclusion === 'success' ? 'deployed' : rolledBack ? 'rolled back' : 'failed'
    const durationMs = Date.now() - started
    narrator.line(`   Release ${spec.number}: ${outcome} in ${formatDuration(durationMs)}`)
    return {
      spec,
      orchestrator: target.orchestrator,
      pushed,
      appCommit,
      dispatch,
      correlationId,
      workflow,
      infraCommit,
      restoreCommit,
      git,
      before,
      after,
      changes,
      http,
      probe: apiProbe,
      audit,
      outcome,
      durationMs
    }
  }

  private async buildAndPush(image: ReleaseImage): Promise<PushedImage> {
    const repository = this.imageRepository(image.service)
    const tagged = `${repository}:${image.tag}`
    await buildDemoHttpImage({ tag: tagged, body: image.body, healthy: image.healthy, group: this.group })
    await exec('docker', ['push', '--quiet', tagged])
    const digests = JSON.parse(
      (await exec('docker', ['image', 'inspect', '--format', '{{json .RepoDigests}}', tagged])).stdout
    ) as string[]
    const digest = digests.find((d) => d.startsWith(`${repository}@`))?.split('@')[1]
    if (!digest)
      throw new Error(`docker push ${tagged} left no digest for ${repository} (RepoDigests: ${digests.join(', ')})`)
    const tags = await httpGet(`http://${this.registry.address}/v2/demo/${image.service}/tags/list`)
    const registryTags = tags?.status === 200 ? ((JSON.parse(tags.body) as { tags?: string[] }).tags ?? []) : []
    return {
      service: image.service,
      repository,
      tag: image.tag,
      digest,
      reference: `${tagged}@${digest}`,
      healthy: image.healthy,
      registryTags
    }
  }

  private async commitApp(spec: ReleaseSpec): Promise<string> {
    const dir = this.app.workDir
    for (const image of spec.images) {
      await mkdir(join(dir, image.service), { recursive: true })
      await writeFile(join(dir, image.service, 'index.html'), image.body)
    }
    await exec('git', ['-C', dir, 'add', '--all'])
    await exec('git', [
      '-C',
      dir,
      ...identity,
      'commit',
      '-q',
      '--allow-empty',
      '-m',
      `release ${spec.images.map((i) => `${i.service} ${i.tag}`).join(', ')}`
    ])
    await exec('git', ['-C', dir, 'push', '-q', 'origin', 'HEAD:main'])
    return (await exec('git', ['-C', dir, 'rev-parse', 'HEAD'])).stdout.trim()
  }

  /** The app repo's CI step: dispatch-to-infra, as the runner runs it, against the fake GitHub API. */
  private dispatch(spec: ReleaseSpec, pushed: PushedImage[], appCommit: string): Promise<ActionRun> {
    const images: Record<string, string> =
      spec.form === 'services'
        ? {
            services: JSON.stringify(
              pushed.map((p) => ({ service: p.service, image: p.repository, tag: p.tag, digest: p.digest }))
            )
          }
        : { service: pushed[0].service, image: pushed[0].repository, tag: pushed[0].tag, digest: pushed[0].digest }
    const runId = String(++this.releaseRunId)
    return runAction('dispatch-to-infra', {
      workspace: this.app.workDir,
      inputs: {
        token: DISPATCH_TOKEN,
        repository: INFRA_REPOSITORY,
        ...images,
        'api-url': this.github.url,
        wait: 'true',
        'wait-timeout': this.waitTimeout
      },
      event: {
        name: 'push',
        payload: { ref: 'refs/heads/main', after: appCommit, repository: { full_name: APP_REPOSITORY } }
      },
      env: {
        GITHUB_REPOSITORY: APP_REPOSITORY,
        GITHUB_REPOSITORY_OWNER: APP_REPOSITORY.split('/')[0],
        GITHUB_SHA: appCommit,
        GITHUB_REF: 'refs/heads/main',
        GITHUB_REF_NAME: 'main',
        GITHUB_EVENT_NAME: 'push',
        GITHUB_WORKFLOW: 'release',
        GITHUB_RUN_ID: runId,
        GITHUB_RUN_NUMBER: String(spec.number),
        GITHUB_ACTOR: 'sandbox-dev',
        GITHUB_API_URL: this.github.url
      },
      timeoutMs: 10 * 60_000
    })
  }

  private async showInfraCommit(sha: string): Promise<InfraCommit> {
    const bare = this.infra.remote.bareDir
    const git = async (...args: string[]) => (await exec('git', ['-C', bare, ...args])).stdout
    const diff = await git('show', '--format=', '--unified=1', sha)
    const lines = diff.split('\n')
    return {
      sha,
      subject: (await git('show', '-s', '--format=%s', sha)).trim(),
      message: (await git('show', '-s', '--format=%B', sha)).trim(),
      stat: (await git('show', '--stat', '--format=commit %h  %s%nAuthor: %an <%ae>%n%w(0,4,4)%b', sha))
        .replace(/\n{2,}/g, '\n')
        .trimEnd(),
      diff: diff.trimEnd(),
      removed: lines.filter((l) => l.startsWith('-') && !l.startsWith('---')).map((l) => l.slice(1)),
      added: lines.filter((l) => l.startsWith('+') && !l.startsWith('+++')).map((l) => l.slice(1)),
      files: (await git('show', '--format=', '--name-only', sha)).split('\n').filter(Boolean)
    }
  }

  /** Infra repo's main and its compose.yaml, as the remote has them. */
  async infraCompose(): Promise<string> {
    return (await exec('git', ['-C', this.infra.remote.bareDir, 'show', `${this.infra.remote.branch}:compose.yaml`]))
      .stdout
  }

  /** Each service's image in the infra repo's compose.yaml on main. */
  async infraImages(): Promise<Record<string, string>> {
    const data = parse(await this.infraCompose()) as { services?: Record<string, { image?: string }> }
    return Object.fromEntries(
      Object.entries(data.services ?? {}).map(([service, definition]) => [service, definition.image ?? ''])
    )
  }

  /**
   * Stops the GitHub stand-in and leaves everything else running (registry, VM, the deployed
   * stack) for a later `teardownSandbox` (`scripts/sandbox.sh --down`).
   */
  async keep(): Promise<void> {
    await this.github.stop().catch(() => undefined)
    this.state.kept = true
    // The processes outlive this one; a later --down stops them by PID.
    this.state.ownerPid = 0
    await writeState(this.state)
  }

  /** Everything down: the GitHub stand-in, the deployed stack, sshd, the registry, the images and the directory. */
  async down(): Promise<string[]> {
    const failures: string[] = []
    await this.group.cleanup().catch((error: Error) => failures.push(error.message))
    this.state.ownerPid = 0
    await writeState(this.state).catch(() => undefined)
    const done = await teardownSandbox(this.dir, { projectName: this.projectName })
    if (failures.length) throw new Error(failures.join('\n'))
    return done
  }
}

export function compareStacks(before: StackSnapshot, after: StackSnapshot): ServiceChange[] {
  const services = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()
  return services.map((service) => ({
    service,
    before: before[service]?.id,
    after: after[service]?.id,
    recreated: before[service]?.id !== after[service]?.id
  }))
}

function summarizeAudit(entry: AuditEntry): string {
  const fields = ['result', 'services', 'sha', 'restores', 'duration', 'duration_ms', 'actor']
  const parts = fields
    .filter((f) => entry[f] !== undefined)
    .map((f) => `${f}=${typeof entry[f] === 'string' ? entry[f] : JSON.stringify(entry[f])}`)
  return parts.length ? `last entry: ${parts.join(' ')}` : firstLine(JSON.stringify(entry))
}
