// SshSession against an in-process ssh2 server: host key checks, exec, retries, lost connections.
import { createServer as createTcpServer, type AddressInfo } from 'node:net'
import ssh2, { type Connection } from 'ssh2'
import {
  ConnectionLostError,
  HostKeyError,
  SshSession,
  UserError,
  fingerprintOf,
  parseKnownHosts,
  type SshConnectOptions
} from '@gitops-lite/core'

// ssh2 is CommonJS: Node's ESM loader only gives its default export.
const { Server, utils } = ssh2
const hostKey = utils.generateKeyPairSync('ed25519')
const otherHostKey = utils.generateKeyPairSync('ed25519')
const clientKey = utils.generateKeyPairSync('ed25519')
const hostPublicBlob = (utils.parseKey(hostKey.public) as { getPublicSSH(): Buffer }).getPublicSSH()

interface Fake {
  port: number
  authAttempts: number
  connections: Connection[]
  close(): Promise<void>
}

type ExecHandler = (
  command: string,
  stdin: string,
  channel: { write(text: string): void; stderr: { write(text: string): void }; exit(code: number): void; end(): void }
) => void

async function startServer(onExec: ExecHandler): Promise<Fake> {
  const fake: Fake = { port: 0, authAttempts: 0, connections: [], close: async () => {} }
  const server = new Server({ hostKeys: [hostKey.private] }, (client) => {
    fake.connections.push(client)
    client.on('authentication', (ctx) => {
      fake.authAttempts++
      if (
        ctx.method === 'publickey' &&
        ctx.key.data.equals((utils.parseKey(clientKey.public) as { getPublicSSH(): Buffer }).getPublicSSH())
      )
        ctx.accept()
      else ctx.reject(['publickey'])
    })
    client.on('error', () => {})
    client.on('session', (accept) => {
      accept().on('exec', (acceptExec, _reject, info) => {
        const channel = acceptExec()
        let stdin = ''
        channel.on('data', (chunk: Buffer) => (stdin += chunk.toString()))
        channel.on('end', () => onExec(info.command, stdin, channel))
      })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  fake.port = (server.address() as AddressInfo).port
  fake.close = () =>
    new Promise<void>((resolve) => {
      for (const connection of fake.connections) connection.end()
      server.close(() => resolve())
    })
  return fake
}

function options(port: number, overrides: Partial<SshConnectOptions> = {}): SshConnectOptions {
  return {
    target: { host: '127.0.0.1', port, username: 'deploy' },
    privateKey: clientKey.private,
    hostKeys: {
      knownHosts: parseKnownHosts(`[127.0.0.1]:${port} ${hostKey.public}`),
      fingerprints: [],
      insecure: false
    },
    connectTimeoutMs: 5000,
    ...overrides
  }
}

let fake: Fake
afterEach(async () => fake?.close())

describe('SshSession', () => {
  it('runs a command with stdin and returns stdout, stderr and the exit code', async () => {
    fake = await startServer((command, stdin, channel) => {
      channel.write(`${command}:${stdin.toUpperCase()}`)
      channel.stderr.write('a warning')
      channel.exit(3)
      channel.end()
    })
    const session = await SshSession.connect(options(fake.port))
    const streamed: string[] = []
    const result = await session.exec('sh -c cat', { stdin: 'hello', onStdout: (text) => streamed.push(text) })
    session.close()
    expect(result).toEqual({ code: 3, signal: undefined, stdout: 'sh -c cat:HELLO', stderr: 'a warning' })
    expect(streamed.join('')).toBe('sh -c cat:HELLO')
    expect(session.name).toBe(`deploy@127.0.0.1:${fake.port}`)
  })

  it('refuses a host whose key is not trusted before sending any credential', async () => {
    fake = await startServer(() => {})
    const wrong = {
      knownHosts: parseKnownHosts(`[127.0.0.1]:${fake.port} ${otherHostKey.public}`),
      fingerprints: [],
      insecure: false
    }
    const error = await SshSession.connect(options(fake.port, { hostKeys: wrong })).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(HostKeyError)
    expect((error as HostKeyError).message).toContain(`It offered ${fingerprintOf(hostPublicBlob)} (ssh-ed25519)`)
    expect(fake.authAttempts).toBe(0)
    expect(fake.connections).toHaveLength(1) // a refused host key is not retried
  })

  it('accepts a host by its SHA256 fingerprint', async () => {
    fake = await startServer((_c, _s, channel) => {
      channel.exit(0)
      channel.end()
    })
    const byFingerprint = { knownHosts: [], fingerprints: [fingerprintOf(hostPublicBlob)], insecure: false }
    const session = await SshSession.connect(options(fake.port, { hostKeys: byFingerprint }))
    expect((await session.exec('true')).code).toBe(0)
    session.close()
  })

  it('reports a refused key as a user error, without retrying', async () => {
    fake = await startServer(() => {})
    const stranger = utils.generateKeyPairSync('ed25519')
    const error = await SshSession.connect(options(fake.port, { privateKey: stranger.private })).catch(
      (e: unknown) => e
    )
    expect(error).toBeInstanceOf(UserError)
    expect((error as UserError).message).toMatch(/SSH authentication as deploy@127\.0\.0\.1:\d+ failed/)
    expect(fake.connections).toHaveLength(1)
  })

  it('retries connecting a bounded number of times, then says what to check', async () => {
    const closed = createTcpServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise<void>((resolve) => closed.close(() => resolve()))
    const retries: string[] = []
    const error = await SshSession.connect(options(port, { attempts: 2, log: (m) => retries.push(m) })).catch(
      (e: unknown) => e
    )
    expect((error as UserError).message).toMatch(
      /Could not connect to deploy@127\.0\.0\.1:\d+ after 2 attempts: .*ECONNREFUSED/
    )
    expect(retries).toEqual([expect.stringMatching(/retrying in 1 s/)])
  })

  it('fails a running command when the connection drops, and when it runs too long', async () => {
    fake = await startServer(() => {})
    const session = await SshSession.connect(options(fake.port))
    await expect(session.exec('sleep 60', { timeoutMs: 200 })).rejects.toThrow(/did not finish within 0.2 s/)
    const pending = session.exec('sleep 60')
    setTimeout(() => fake.connections[0].end(), 100)
    await expect(pending).rejects.toBeInstanceOf(ConnectionLostError)
    await expect(session.exec('true')).rejects.toThrow(/is closed/)
  })
})

describe('SshSession against a peer that is not SSH', () => {
  const listeners: { close(): void }[] = []
  afterEach(() => {
    for (const listener of listeners.splice(0)) listener.close()
  })

  /** A TCP listener on 127.0.0.1 that sends `banner` (or nothing) and never speaks SSH. */
  async function listen(banner?: string): Promise<number> {
    const sockets: import('node:net').Socket[] = []
    const server = createTcpServer((socket) => {
      sockets.push(socket)
      socket.on('error', () => {})
      if (banner !== undefined) socket.write(banner)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    listeners.push({ close: () => (sockets.forEach((s) => s.destroy()), server.close()) })
    return (server.address() as AddressInfo).port
  }

  it.each([
    ['a silent listener', undefined],
    ['an HTTP server', 'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'],
    ['a banner then silence', 'SSH-2.0-fake\r\n']
  ])('%s fails with a message naming host and port, and no crash', async (_, banner) => {
    const port = await listen(banner)
    const error = await SshSession.connect(options(port, { connectTimeoutMs: 300, attempts: 2 })).catch(
      (e: unknown) => e
    )
    expect(error).toBeInstanceOf(UserError)
    expect((error as UserError).message).toMatch(
      new RegExp(`^Could not connect to deploy@127.0.0.1:${port} after 2 attempts: `)
    )
    // A second 'error' from ssh2 with no listener would crash the process after the first.
    await new Promise((resolve) => setTimeout(resolve, 500))
  })

  it('blames an unreachable jump host, not the target', async () => {
    const closed = await listen()
    listeners.pop()!.close()
    const error = await SshSession.connect(
      options(22, {
        attempts: 1,
        connectTimeoutMs: 1000,
        proxy: {
          target: { host: '127.0.0.1', port: closed, username: 'jump' },
          privateKey: clientKey.private,
          hostKeys: { knownHosts: [], fingerprints: [], insecure: true }
        }
      })
    ).catch((e: unknown) => e)
    expect((error as UserError).message).toMatch(
      new RegExp(`^Could not connect to the jump host jump@127.0.0.1:${closed} \\(proxy-host\\) after 1 attempts`)
    )
    expect((error as UserError).fix).toContain('proxy-host')
  })
})
