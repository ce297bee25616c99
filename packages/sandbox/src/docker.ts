import { chmod, mkdir, mkdtemp, rm, symlink, writeFile, copyFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { exec } from './exec'
import { SANDBOX_LABEL, type ProcessGroup } from './processes'

/** Base image for everything the sandbox builds: busybox-static, since no public registry is reachable. */
export const BASE_IMAGE = 'local/busybox:1'

const startDockerScript = resolve(import.meta.dirname, '..', '..', '..', 'scripts', 'start-docker.sh')
const hostBusybox = '/bin/busybox'

export interface DockerInfo {
  serverVersion: string
  composeVersion: string
}

let dockerReady: Promise<DockerInfo> | undefined

/** Makes sure the engine answers (starting dockerd when it does not) and Compose v2 works. */
export function ensureDocker(): Promise<DockerInfo> {
  dockerReady ??= checkDocker().catch((error: unknown) => {
    dockerReady = undefined
    throw error
  })
  return dockerReady
}

async function checkDocker(): Promise<DockerInfo> {
  const serverVersion = () => exec('docker', ['info', '--format', '{{.ServerVersion}}'], { allowFailure: true })
  let info = await serverVersion()
  if (info.code !== 0) {
    const started = await exec('bash', [startDockerScript], { allowFailure: true })
    if (started.code !== 0) {
      throw new Error(
        `The Docker engine does not answer and ${startDockerScript} could not start it:\n${started.stderr.trim()}\n` +
          'Run scripts/install-prereqs.sh and scripts/start-docker.sh as root.'
      )
    }
    info = await serverVersion()
  }
  const compose = await exec('docker', ['compose', 'version', '--short'], { allowFailure: true })
  if (compose.code !== 0) {
    throw new Error(
      `'docker compose version' failed (${compose.stderr.trim()}); install Compose v2 with scripts/install-prereqs.sh`
    )
  }
  return { serverVersion: info.stdout.trim(), composeVersion: compose.stdout.trim() }
}

export async function imageExists(reference: string): Promise<boolean> {
  return (await exec('docker', ['image', 'inspect', reference], { allowFailure: true })).code === 0
}

let baseImageReady: Promise<void> | undefined

/**
 * Builds BASE_IMAGE once: a rootfs holding the host's static busybox with every applet
 * linked (sh, httpd, wget, nc, sleep, ...), imported with `docker import`. Kept between runs.
 */
export function ensureBaseImage(): Promise<void> {
  baseImageReady ??= importBaseImage().catch((error: unknown) => {
    baseImageReady = undefined
    throw error
  })
  return baseImageReady
}

async function importBaseImage(): Promise<void> {
  await ensureDocker()
  if (await imageExists(BASE_IMAGE)) return
  const work = await mkdtemp(join(tmpdir(), 'gitops-lite-rootfs-'))
  try {
    const rootfs = join(work, 'rootfs')
    await mkdir(join(rootfs, 'bin'), { recursive: true })
    await copyFile(hostBusybox, join(rootfs, 'bin', 'busybox')).catch((error: Error) => {
      throw new Error(
        `Cannot copy ${hostBusybox} (${error.message}); install busybox-static with scripts/install-prereqs.sh`
      )
    })
    await chmod(join(rootfs, 'bin', 'busybox'), 0o755)
    const applets = (await exec(hostBusybox, ['--list-full'])).stdout.split('\n').filter(Boolean)
    for (const applet of applets) {
      if (applet === 'bin/busybox') continue
      await mkdir(join(rootfs, dirname(applet)), { recursive: true })
      await symlink('/bin/busybox', join(rootfs, applet))
    }
    for (const dir of ['etc', 'root', 'www', 'proc', 'sys', 'dev', 'var/run'])
      await mkdir(join(rootfs, dir), { recursive: true })
    await mkdir(join(rootfs, 'tmp'), { mode: 0o1777 })
    await chmod(join(rootfs, 'tmp'), 0o1777)
    await writeFile(
      join(rootfs, 'etc', 'passwd'),
      'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n'
    )
    await writeFile(join(rootfs, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n')

    const tarball = join(work, 'rootfs.tar')
    await exec('tar', ['-C', rootfs, '--numeric-owner', '-cf', tarball, '.'])
    await exec('docker', [
      'import',
      '--change',
      'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin',
      '--change',
      'CMD ["sh"]',
      tarball,
      BASE_IMAGE
    ])
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

/** A file in a build context: its text, or text plus a file mode (e.g. 0o755 for scripts). */
export type ContextFile = string | { content: string; mode?: number }

export interface HealthcheckSpec {
  /** Exec form, e.g. ['wget', '-q', '-O', '/dev/null', 'http://127.0.0.1/']. */
  test: string[]
  intervalSeconds?: number
  timeoutSeconds?: number
  retries?: number
  startPeriodSeconds?: number
}

/** A Dockerfile FROM BASE_IMAGE (or `from`), described as data: context files are copied to / in the image. */
export interface ImageSpec {
  /** A local image to build on instead of BASE_IMAGE, e.g. one from ensureDebianImage. */
  from?: string
  cmd?: string[]
  env?: Record<string, string>
  expose?: number[]
  healthcheck?: HealthcheckSpec
  workdir?: string
}

export interface BuildImageOptions {
  tag: string
  /** Full Dockerfile text; it should build FROM BASE_IMAGE. Leave out to use `spec`. */
  dockerfile?: string
  spec?: ImageSpec
  /** The build context: relative path -> file. With `spec`, each lands at /<path> in the image. */
  contextFiles?: Record<string, ContextFile>
  /** Labels the image for this group, so group.cleanup() removes it (and its other tags). */
  group?: ProcessGroup
  labels?: Record<string, string>
}

export interface BuiltImage {
  tag: string
  /** sha256:... */
  id: string
}

export function renderDockerfile(spec: ImageSpec, contextFiles: Record<string, ContextFile> = {}): string {
  const lines = [`FROM ${spec.from ?? BASE_IMAGE}`]
  for (const path of Object.keys(contextFiles)) lines.push(`COPY ${JSON.stringify([path, `/${path}`])}`)
  for (const [name, value] of Object.entries(spec.env ?? {})) lines.push(`ENV ${name}=${JSON.stringify(value)}`)
  if (spec.workdir) lines.push(`WORKDIR ${spec.workdir}`)
  for (const port of spec.expose ?? []) lines.push(`EXPOSE ${port}`)
  if (spec.healthcheck) {
    const { test, intervalSeconds = 1, timeoutSeconds = 1, retries = 3, startPeriodSeconds } = spec.healthcheck
    // The 20.10 engine rejects --start-period=0s, so it is written only when set.
    const startPeriod = startPeriodSeconds ? ` --start-period=${startPeriodSeconds}s` : ''
    lines.push(
      `HEALTHCHECK --interval=${intervalSeconds}s --timeout=${timeoutSeconds}s --retries=${retries}${startPeriod} CMD ${JSON.stringify(test)}`
    )
  }
  if (spec.cmd) lines.push(`CMD ${JSON.stringify(spec.cmd)}`)
  return lines.join('\n') + '\n'
}

/** `DOCKER_BUILDKIT=0 docker build` (BuildKit would try to reach Docker Hub) of a Dockerfile or a spec. */
export async function buildImage(options: BuildImageOptions): Promise<BuiltImage> {
  await ensureBaseImage()
  const contextFiles = options.contextFiles ?? {}
  if ((options.dockerfile === undefined) === (options.spec === undefined)) {
    throw new Error(`buildImage(${options.tag}): pass exactly one of 'dockerfile' and 'spec'`)
  }
  const dockerfile = options.dockerfile ?? renderDockerfile(options.spec ?? {}, contextFiles)
  const context = await mkdtemp(join(tmpdir(), 'gitops-lite-build-'))
  try {
    for (const [path, file] of Object.entries(contextFiles)) {
      const target = join(context, path)
      await mkdir(dirname(target), { recursive: true })
      await writeFile(target, typeof file === 'string' ? file : file.content)
      if (typeof file !== 'string' && file.mode !== undefined) await chmod(target, file.mode)
    }
    await writeFile(join(context, 'Dockerfile.sandbox'), dockerfile)
    const labels = { ...options.labels, ...(options.group ? { [SANDBOX_LABEL]: options.group.labelValue } : {}) }
    const labelArgs = Object.entries(labels).flatMap(([key, value]) => ['--label', `${key}=${value}`])
    await exec(
      'docker',
      ['build', '-q', '-f', join(context, 'Dockerfile.sandbox'), '-t', options.tag, ...labelArgs, context],
      {
        env: { DOCKER_BUILDKIT: '0' }
      }
    )
  } finally {
    await rm(context, { recursive: true, force: true })
  }
  const id = (await exec('docker', ['image', 'inspect', '--format', '{{.Id}}', options.tag])).stdout.trim()
  return { tag: options.tag, id }
}

export interface DemoHttpImageOptions {
  tag: string
  /** Served at / (index.html). */
  body: string
  /** true: HEALTHCHECK fetches / and passes; false: it always fails (container turns unhealthy in ~2 s). */
  healthy: boolean
  /** More files under the web root, e.g. { 'version.txt': 'v2' }. */
  extraFiles?: Record<string, string>
  group?: ProcessGroup
  labels?: Record<string, string>
}

/** A small real web service: `busybox httpd` on port 80 serving `body`, with a HEALTHCHECK. */
export function buildDemoHttpImage(options: DemoHttpImageOptions): Promise<BuiltImage> {
  const contextFiles: Record<string, ContextFile> = { 'www/index.html': options.body }
  for (const [path, content] of Object.entries(options.extraFiles ?? {})) contextFiles[`www/${path}`] = content
  return buildImage({
    tag: options.tag,
    group: options.group,
    labels: options.labels,
    contextFiles,
    spec: {
      cmd: ['busybox', 'httpd', '-f', '-p', '80', '-h', '/www'],
      expose: [80],
      healthcheck: {
        test: options.healthy ? ['wget', '-q', '-O', '/dev/null', 'http://127.0.0.1/'] : ['false'],
        intervalSeconds: 1,
        retries: 2
      }
    }
  })
}
