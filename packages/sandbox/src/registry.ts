import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { exec } from './exec'
import { freePort, httpGet, waitUntil } from './net'
import { startProcess, type ProcessGroup } from './processes'

export interface StartRegistryOptions {
  /** Holds the config, the stored images and registry.log. */
  dir: string
  /** Default: a free port. */
  port?: number
  /** When given, group.cleanup() stops the registry. */
  group?: ProcessGroup
  /** Require this login (htpasswd with a bcrypt entry, made by apache2-utils' htpasswd). */
  auth?: { username: string; password: string }
}

export interface Registry {
  /** '127.0.0.1:PORT': image names are `${address}/team/app:tag`. No TLS: dockerd trusts loopback registries. */
  address: string
  port: number
  pid: number
  logFile: string
  stop(): Promise<void>
}

/** Debian's docker-registry (distribution 2.8) on 127.0.0.1, filesystem storage, no auth unless `auth` is given. */
export async function startRegistry(options: StartRegistryOptions): Promise<Registry> {
  const port = options.port ?? (await freePort())
  const address = `127.0.0.1:${port}`
  await mkdir(join(options.dir, 'storage'), { recursive: true })
  const configFile = join(options.dir, 'config.yml')
  const htpasswdFile = join(options.dir, 'htpasswd')
  if (options.auth) {
    // The password on stdin (-i), never in argv; -B: bcrypt, the only hash the registry accepts.
    const { stdout } = await exec('htpasswd', ['-iBn', options.auth.username], { input: options.auth.password })
    await writeFile(htpasswdFile, stdout)
  }
  // The packaged config turns on htpasswd auth and listens on every interface: write our own.
  await writeFile(
    configFile,
    [
      'version: 0.1',
      'log:',
      '  level: warn',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${JSON.stringify(join(options.dir, 'storage'))}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: ${address}`,
      ...(options.auth
        ? ['auth:', '  htpasswd:', '    realm: gitops-lite', `    path: ${JSON.stringify(htpasswdFile)}`]
        : []),
      ''
    ].join('\n')
  )
  const logFile = join(options.dir, 'registry.log')
  const args = ['serve', configFile]
  const registry = options.group
    ? options.group.start('docker-registry', 'docker-registry', args, { logFile })
    : startProcess('docker-registry', 'docker-registry', args, { logFile })

  try {
    await waitUntil(
      `the registry at http://${address}/v2/ (log: ${logFile})`,
      async () => {
        if (!registry.isRunning()) throw new Error(`docker-registry exited early; see ${logFile}`)
        return (await httpGet(`http://${address}/v2/`))?.status === (options.auth ? 401 : 200)
      },
      { timeoutMs: 15_000 }
    )
  } catch (error) {
    await registry.stop()
    throw error
  }
  return { address, port, pid: registry.pid, logFile, stop: () => registry.stop() }
}

/**
 * Tags each image `from` as `to` and pushes it to a registry that requires `login`, with a
 * Docker config of its own (this machine's ~/.docker never holds the login); the `to` tags are
 * then removed from the engine, so a deploy must pull them with a login of its own.
 */
export async function pushWithLogin(
  registry: Pick<Registry, 'address'>,
  login: { username: string; password: string },
  images: readonly (readonly [from: string, to: string])[]
): Promise<void> {
  const config = await mkdtemp(join(tmpdir(), 'gl-push-config-'))
  try {
    await exec(
      'docker',
      ['--config', config, 'login', '--username', login.username, '--password-stdin', registry.address],
      {
        input: login.password
      }
    )
    for (const [from, to] of images) {
      await exec('docker', ['tag', from, to])
      await exec('docker', ['--config', config, 'push', '-q', to])
      await exec('docker', ['rmi', to])
    }
  } finally {
    await rm(config, { recursive: true, force: true })
  }
}

/**
 * Strings that betray `secret` in a file: itself, and its base64 at each of the three byte
 * alignments it can have inside a longer base64 text (a Docker config's auth, a registry auth header).
 */
export function secretNeedles(secret: string): string[] {
  const needles = [secret]
  for (const shift of [0, 1, 2]) {
    const encoded = Buffer.from('x'.repeat(shift) + secret).toString('base64')
    // Only the groups of three bytes made of the secret alone encode the same whatever surrounds it.
    needles.push(encoded.slice(shift > 0 ? 4 : 0, Math.floor((shift + secret.length) / 3) * 4))
  }
  return needles
}
