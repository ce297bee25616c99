import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runProcess } from '@gitops-lite/core'

describe('runProcess (@actions/exec)', () => {
  it('captures the output and the exit code, with the environment added to', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'gl-process-'))
    const script = 'printf "%s in %s" "$GREETING" "$(pwd)"; echo oops >&2; exit 3'
    const echoed: string[] = []
    const write = process.stdout.write
    process.stdout.write = ((chunk: string | Uint8Array) =>
      echoed.push(String(chunk)) > 0) as typeof process.stdout.write
    const result = await runProcess('sh', ['-c', script], { cwd, env: { GREETING: 'hello' } }).finally(
      () => (process.stdout.write = write)
    )
    expect(result).toEqual({ exitCode: 3, stdout: `hello in ${cwd}`, stderr: 'oops\n' })
    expect(echoed).toEqual([]) // nothing reaches the log
  })

  it('rejects when the program cannot be started', async () => {
    await expect(runProcess('gitops-lite-no-such-program', [], { cwd: tmpdir() })).rejects.toThrow(
      /Unable to locate executable file/
    )
  })
})
