import { existsSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { exec } from './exec'
import { freePort, isPortOpen, waitUntil } from './net'
import { startProcess, type ManagedProcess, type ProcessGroup } from './processes'

const sshdBinary = '/usr/sbin/sshd'

export interface StartSshHostOptions {
  /** Keys, sshd_config, authorized_keys, known_hosts, sshd.log and remote/ live here. Keys are reused if present. */
  dir: string
  /** Any 127.0.0.0/8 address; each address + port with its own host key acts as a separate VM. */
  address?: string
  /** Default: a free port on `address`. */
  port?: number
  /** Also create an encrypted client key with this passphrase (authorized as well). */
  passphrase?: string
  /** When given, group.cleanup() stops sshd. */
  group?: ProcessGroup
}

export interface SshKeyPair {
  /** OpenSSH private key text, as users paste it into a secret. */
  privateKey: string
  privateKeyPath: string
  publicKey: string
}

export interface SshHost {
  host: string
  port: number
  /** Tests run as root, so the login user is root; the "VM" shares the local Docker engine. */
  username: 'root'
  /** The unencrypted ed25519 client key (OpenSSH format). */
  privateKey: string
  privateKeyPath: string
  /** Present when `passphrase` was given. */
  encryptedKey?: SshKeyPair & { passphrase: string }
  /** '[127.0.0.1]:PORT ssh-ed25519 AAAA...' (no brackets on port 22). */
  knownHostsLine: string
  /** A known_hosts file holding only knownHostsLine. */
  knownHostsPath: string
  /** Host key fingerprint, 'SHA256:...'. */
  fingerprint: string
  /** An empty directory for this host's deploys, so two hosts on one engine never share compose files. */
  remoteDir: string
  pid: number
  logFile: string
  stop(): Promise<void>
}

/** ssh-keygen an ed25519 key unless the file already exists. */
async function ensureKey(path: string, passphrase: string, comment: string): Promise<SshKeyPair> {
  if (!existsSync(path)) {
    await exec('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', comment, '-f', path])
  }
  return {
    privateKey: await readFile(path, 'utf8'),
    privateKeyPath: path,
    publicKey: (await readFile(`${path}.pub`, 'utf8')).trim()
  }
}

/** The key type and base64 of a public key line, without its comment. */
function keyWithoutComment(publicKey: string): string {
  return publicKey.split(/\s+/).slice(0, 2).join(' ')
}

export function knownHostsHostPattern(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`
}

function sshdConfig(options: { dir: string; address: string; port: number; hostKeyPath: string }): string {
  return [
    `Port ${options.port}`,
    `ListenAddress ${options.address}`,
    `HostKey ${options.hostKeyPath}`,
    `AuthorizedKeysFile ${join(options.dir, 'authorized_keys')}`,
    `PidFile ${join(options.dir, 'sshd.pid')}`,
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    // No PAM and no ownership checks: the keys live in a test directory, not in ~/.ssh.
    'UsePAM no',
    'StrictModes no',
    'PrintMotd no',
    'Subsystem sftp /usr/lib/openssh/sftp-server',
    ''
  ].join('\n')
}

async function launchSshd(
  options: StartSshHostOptions & { address: string; hostKeyPath: string; logFile: string }
): Promise<{ sshd: ManagedProcess; port: number }> {
  const { dir, address, logFile } = options
  const configFile = join(dir, 'sshd_config')
  // A port picked by freePort can be taken before sshd binds it; then try another.
  const attempts = options.port === undefined ? 3 : 1
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort(address))
    await writeFile(configFile, sshdConfig({ dir, address, port, hostKeyPath: options.hostKeyPath }))
    const name = `sshd ${address}:${port}`
    const args = ['-f', configFile, '-D', '-e']
    const sshd = options.group
      ? options.group.start(name, sshdBinary, args, { logFile })
      : startProcess(name, sshdBinary, args, { logFile })
    try {
      await waitUntil(
        `sshd on ${address}:${port} (log: ${logFile})`,
        async () => {
          if (!sshd.isRunning()) throw new Error(`sshd exited before listening on ${address}:${port}`)
          return isPortOpen(address, port)
        },
        { timeoutMs: 10_000, intervalMs: 50 }
      )
      return { sshd, port }
    } catch (error) {
      await sshd.stop()
      if (attempt >= attempts) {
        const log = await readFile(logFile, 'utf8').catch(() => '')
        throw new Error(
          `${(error as Error).message}\nLast lines of ${logFile}:\n${log.trim().split('\n').slice(-10).join('\n')}`
        )
      }
    }
  }
}

/** Runs a real sshd ("a VM") on a loopback address; host and client keys are made on first use of `dir`. */
export async function startSshHost(options: StartSshHostOptions): Promise<SshHost> {
  const { dir, address = '127.0.0.1' } = options
  if (!address.startsWith('127.')) throw new Error(`startSshHost: address '${address}' is not loopback; use 127.0.0.x`)
  const remoteDir = join(dir, 'remote')
  await mkdir(remoteDir, { recursive: true })
  // sshd refuses to start without its privilege separation directory.
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 })

  const hostKey = await ensureKey(join(dir, 'ssh_host_ed25519_key'), '', `gitops-lite-sandbox-host-${address}`)
  const clientKey = await ensureKey(join(dir, 'client_ed25519'), '', 'gitops-lite-sandbox-client')
  const encryptedKey =
    options.passphrase === undefined
      ? undefined
      : {
          ...(await ensureKey(
            join(dir, 'client_ed25519_encrypted'),
            options.passphrase,
            'gitops-lite-sandbox-client-encrypted'
          )),
          passphrase: options.passphrase
        }
  const authorized = [clientKey.publicKey, ...(encryptedKey ? [encryptedKey.publicKey] : [])]
  await writeFile(join(dir, 'authorized_keys'), authorized.join('\n') + '\n')

  const fingerprintLine = (await exec('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${hostKey.privateKeyPath}.pub`]))
    .stdout
  const fingerprint = /SHA256:\S+/.exec(fingerprintLine)?.[0]
  if (!fingerprint)
    throw new Error(`startSshHost: cannot read a SHA256 fingerprint from ssh-keygen output '${fingerprintLine.trim()}'`)

  const logFile = join(dir, 'sshd.log')
  const { sshd, port } = await launchSshd({ ...options, address, hostKeyPath: hostKey.privateKeyPath, logFile })

  const knownHostsLine = `${knownHostsHostPattern(address, port)} ${keyWithoutComment(hostKey.publicKey)}`
  const knownHostsPath = join(dir, 'known_hosts')
  await writeFile(knownHostsPath, knownHostsLine + '\n')

  return {
    host: address,
    port,
    username: 'root',
    privateKey: clientKey.privateKey,
    privateKeyPath: clientKey.privateKeyPath,
    encryptedKey,
    knownHostsLine,
    knownHostsPath,
    fingerprint,
    remoteDir,
    pid: sshd.pid,
    logFile,
    stop: () => sshd.stop()
  }
}

/**
 * Arguments for the OpenSSH client that log in to `host` with its unencrypted key and verify
 * the host key strictly: `exec('ssh', [...sshClientArgs(host), 'docker', 'compose', 'version'])`.
 */
export function sshClientArgs(
  host: SshHost,
  {
    privateKeyPath = host.privateKeyPath,
    knownHostsPath = host.knownHostsPath
  }: { privateKeyPath?: string; knownHostsPath?: string } = {}
): string[] {
  return [
    '-o',
    `UserKnownHostsFile=${knownHostsPath}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'BatchMode=yes',
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'LogLevel=ERROR',
    '-i',
    privateKeyPath,
    '-p',
    String(host.port),
    `${host.username}@${host.host}`
  ]
}
