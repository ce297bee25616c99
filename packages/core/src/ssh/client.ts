import type { Duplex } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import ssh2, { type Client, type ClientChannel, type ConnectConfig } from 'ssh2'
import { UserError, errorMessage } from '../errors'
import { formatTarget, knownHostName, type SshTarget } from './host-spec'
import { hostKeyAlgorithmsFor, verifyHostKey, type HostKeyPolicy, type HostKeyVerdict } from './known-hosts'

/** One hop: where, as whom, with which key, trusting which host keys. */
export interface SshEndpoint {
  target: SshTarget
  privateKey: string
  passphrase?: string
  hostKeys: HostKeyPolicy
}

export interface SshConnectOptions extends SshEndpoint {
  /** A jump host the connection goes through (ssh -J). */
  proxy?: SshEndpoint
  /** Limit for one attempt: TCP connect, key exchange and authentication. */
  connectTimeoutMs: number
  /** Attempts at connecting before giving up (only connecting is retried, never a command). */
  attempts?: number
  keepaliveIntervalMs?: number
  /** Told about each failed attempt that will be retried, and about hosts accepted insecurely. */
  log?: (message: string) => void
}

export interface ExecOptions {
  /** Written to the command's stdin, which is then closed. */
  stdin?: string | Buffer
  /** Fail (and close the channel) when the command runs longer. */
  timeoutMs?: number
  onStdout?: (text: string) => void
  onStderr?: (text: string) => void
}

export interface ExecResult {
  /** Exit status; null when the command was ended by a signal. */
  code: number | null
  signal?: string
  stdout: string
  stderr: string
}

/** What deploy logic needs from a host: run one shell command line. */
export interface RemoteShell {
  /** A label for messages, `user@host:port`. */
  readonly name: string
  exec(command: string, options?: ExecOptions): Promise<ExecResult>
}

/** The connection dropped (or timed out) while a command ran: the command may or may not have finished. */
export class ConnectionLostError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ConnectionLostError'
  }
}

/** Connecting to the jump host failed (not the target behind it); retried like any connect failure. */
class JumpHostError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'JumpHostError'
  }
}

export class HostKeyError extends UserError {
  readonly verdict: Extract<HostKeyVerdict, { accepted: false }>

  constructor(target: SshTarget, verdict: Extract<HostKeyVerdict, { accepted: false }>) {
    const expected = verdict.expected.length > 0 ? verdict.expected.join(', ') : 'none'
    super(
      `Refusing ${target.host}:${target.port}: its host key is not trusted (${verdict.reason}). ` +
        `It offered ${verdict.offered} (${verdict.offeredType}); trusted: ${expected}`,
      {
        fix:
          'Nothing was sent to the host. If the VM was rebuilt, read its key on the VM (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) ' +
          "and update 'known-hosts' or 'fingerprint'; if it was not, someone may be intercepting the connection."
      }
    )
    this.verdict = verdict
  }
}

// ssh2 is CommonJS whose exports Node's ESM loader cannot name: take them from the default export.
const { Client: SshClient } = ssh2

const defaultAttempts = 3

/** One SSH connection to a host (through an optional jump host), with keepalive. */
export class SshSession implements RemoteShell {
  readonly name: string
  private closed = false
  private readonly pending = new Set<(error: Error) => void>()

  private constructor(
    private readonly client: Client,
    private readonly jump: Client | undefined,
    target: SshTarget
  ) {
    this.name = formatTarget(target)
    const lost = (why: string) => {
      if (this.closed) return
      this.closed = true
      for (const reject of this.pending)
        reject(new ConnectionLostError(`The connection to ${this.name} was lost: ${why}`))
      this.pending.clear()
    }
    client.on('error', (error) => lost(error.message))
    client.on('close', () => lost('the host closed it'))
  }

  /** Connects, verifying each host's key before authenticating; retries only the connecting. */
  static async connect(options: SshConnectOptions): Promise<SshSession> {
    const attempts = options.attempts ?? defaultAttempts
    for (let attempt = 1; ; attempt++) {
      try {
        return await SshSession.connectOnce(options)
      } catch (error) {
        if (error instanceof UserError) throw error
        // The hop that failed: an unreachable jump host is not the target's fault.
        const hop =
          error instanceof JumpHostError
            ? `the jump host ${formatTarget(options.proxy!.target)} (proxy-host)`
            : formatTarget(options.target)
        if (attempt >= attempts) {
          throw new UserError(`Could not connect to ${hop} after ${attempts} attempts: ${errorMessage(error)}`, {
            fix:
              error instanceof JumpHostError
                ? "Check 'proxy-host' and 'proxy-port', that sshd runs on the jump host and that its firewall lets the runner in; raise 'connect-timeout' for slow links."
                : "Check 'host' and 'port', that sshd runs on the VM and that its firewall lets the runner in; raise 'connect-timeout' for slow links.",
            cause: error
          })
        }
        const delay = 1000 * 2 ** (attempt - 1)
        options.log?.(`Connecting to ${hop} failed (${errorMessage(error)}); retrying in ${delay / 1000} s`)
        await sleep(delay)
      }
    }
  }

  private static async connectOnce(options: SshConnectOptions): Promise<SshSession> {
    if (!options.proxy) return new SshSession(await openClient(options, options), undefined, options.target)
    const jump = await openClient(options.proxy, options).catch((error: unknown) => {
      throw error instanceof UserError ? error : new JumpHostError(errorMessage(error))
    })
    try {
      const tunnel = await new Promise<ClientChannel>((resolve, reject) =>
        jump.forwardOut('127.0.0.1', 0, options.target.host, options.target.port, (error, stream) =>
          error ? reject(error) : resolve(stream)
        )
      )
      const client = await openClient(options, options, tunnel)
      client.on('close', () => jump.end())
      return new SshSession(client, jump, options.target)
    } catch (error) {
      jump.end()
      throw error
    }
  }

  exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    if (this.closed) return Promise.reject(new ConnectionLostError(`The connection to ${this.name} is closed`))
    return new Promise<ExecResult>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined
      const fail = (error: Error) => {
        clearTimeout(timer)
        this.pending.delete(fail)
        reject(error)
      }
      this.pending.add(fail)
      this.client.exec(command, (error, channel) => {
        if (error) return fail(new ConnectionLostError(`Could not start a command on ${this.name}: ${error.message}`))
        const stdout: string[] = []
        const stderr: string[] = []
        let code: number | null = null
        let signal: string | undefined
        channel.setEncoding('utf8')
        channel.stderr.setEncoding('utf8')
        channel.on('data', (text: string) => {
          stdout.push(text)
          options.onStdout?.(text)
        })
        channel.stderr.on('data', (text: string) => {
          stderr.push(text)
          options.onStderr?.(text)
        })
        channel.on('exit', (exitCode: number | null, exitSignal?: string) => {
          code = exitCode
          signal = exitSignal ?? undefined
        })
        channel.on('close', () => {
          clearTimeout(timer)
          this.pending.delete(fail)
          resolve({ code, signal, stdout: stdout.join(''), stderr: stderr.join('') })
        })
        if (options.timeoutMs !== undefined) {
          timer = setTimeout(() => {
            fail(
              new ConnectionLostError(`A command on ${this.name} did not finish within ${options.timeoutMs! / 1000} s`)
            )
            channel.close()
          }, options.timeoutMs)
        }
        channel.end(options.stdin ?? '')
      })
    })
  }

  /** False once the connection was closed or lost. */
  get isOpen(): boolean {
    return !this.closed
  }

  close(): void {
    this.closed = true
    this.client.end()
    this.jump?.end()
  }
}

/** Connects and authenticates one hop; the host key is checked during key exchange, before any credential is sent. */
function openClient(endpoint: SshEndpoint, options: SshConnectOptions, sock?: Duplex): Promise<Client> {
  const { target, hostKeys } = endpoint
  const name = knownHostName(target.host, target.port)
  let rejected: HostKeyError | undefined
  const algorithms = hostKeyAlgorithmsFor(hostKeys, name)
  const config: ConnectConfig = {
    host: target.host,
    port: target.port,
    username: target.username,
    privateKey: endpoint.privateKey,
    passphrase: endpoint.passphrase || undefined,
    readyTimeout: options.connectTimeoutMs,
    keepaliveInterval: options.keepaliveIntervalMs ?? 10_000,
    keepaliveCountMax: 3,
    ...(sock && { sock }),
    ...(algorithms && {
      algorithms: { serverHostKey: algorithms as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] }
    }),
    hostVerifier: (key: Buffer) => {
      const verdict = verifyHostKey(hostKeys, name, key)
      if (!verdict.accepted) {
        rejected = new HostKeyError(target, verdict)
        return false
      }
      if (verdict.by === 'insecure')
        options.log?.(
          `WARNING: accepted the unverified host key ${verdict.offered} of ${name} (insecure-skip-host-key-check)`
        )
      return true
    }
  }
  return new Promise<Client>((resolve, reject) => {
    const client = new SshClient()
    let settled = false
    client.once('ready', () => {
      settled = true
      resolve(client)
    })
    // Not `once`: ssh2 can emit a second error (a handshake that timed out, then the socket's
    // end), and an error with no listener would crash the process. After 'ready' the session's
    // own listener reports them.
    client.on('error', (error: Error & { level?: string }) => {
      if (settled) return
      settled = true
      client.end()
      if (rejected) return reject(rejected)
      if (error.level === 'client-authentication') {
        return reject(
          new UserError(`SSH authentication as ${formatTarget(target)} failed: the host did not accept the key`, {
            fix: `Add the public half of the key to ~${target.username}/.ssh/authorized_keys on the VM, or check 'username' and 'key'.`
          })
        )
      }
      reject(error)
    })
    client.connect(config)
  })
}
