import { spawn } from 'node:child_process'

export interface ExecOptions {
  cwd?: string
  /** Merged over process.env. */
  env?: Record<string, string | undefined>
  /** Written to stdin, which is then closed; stdin is empty otherwise. */
  input?: string | Buffer
  /** Return a non-zero exit instead of throwing. */
  allowFailure?: boolean
  /** Kill the process (SIGKILL) after this long and fail. */
  timeoutMs?: number
}

export interface ExecResult {
  stdout: string
  stderr: string
  /** Exit code; null when a signal ended the process. */
  code: number | null
}

export class ExecError extends Error {
  readonly result: ExecResult

  constructor(message: string, result: ExecResult) {
    super(message)
    this.name = 'ExecError'
    this.result = result
  }
}

/** Runs a program with an argument vector (never a shell string) and collects its output. */
export function exec(command: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const commandLine = [command, ...args].join(' ')
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe']
    })
    const stdout: Buffer[] = []
    const stderr: Buffer[] = []
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk))
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk))
    // A child that exits without reading its stdin makes the write fail with EPIPE; that is fine.
    child.stdin.on('error', () => {})
    child.stdin.end(options.input ?? '')

    let timedOut = false
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true
            child.kill('SIGKILL')
          }, options.timeoutMs)

    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      const hint =
        error.code === 'ENOENT' ? `; '${command}' is not installed (run scripts/install-prereqs.sh as root)` : ''
      reject(
        new ExecError(`Could not start '${commandLine}': ${error.message}${hint}`, {
          stdout: '',
          stderr: '',
          code: null
        })
      )
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const result = { stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString(), code }
      if (timedOut) {
        reject(new ExecError(`'${commandLine}' did not finish within ${options.timeoutMs} ms and was killed`, result))
      } else if (code !== 0 && !options.allowFailure) {
        const why = code === null ? `was killed by ${signal}` : `failed with exit code ${code}`
        const details = result.stderr.trim() || result.stdout.trim()
        reject(new ExecError(`'${commandLine}' ${why}${details ? `:\n${details}` : ''}`, result))
      } else {
        resolve(result)
      }
    })
  })
}
