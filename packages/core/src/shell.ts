/**
 * POSIX shell quoting. Every remote command is built from an argument vector through
 * `shellCommand`, so no value is ever pasted into shell text unquoted.
 */
export function quoteShellArg(arg: string): string {
  if (arg.includes('\0')) throw new Error('A shell argument cannot contain a NUL byte')
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg
  return `'${arg.replace(/'/g, `'\\''`)}'`
}

export function shellCommand(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error('A shell command needs at least the program name')
  return argv.map(quoteShellArg).join(' ')
}

const shellNamePattern = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * A POSIX shell script assembled from static code and quoted values: values enter only as
 * `command` arguments, `assign` values or quoted here-document bodies, never as shell text.
 */
export class ShellScript {
  private readonly parts: string[] = []

  /** Static shell code from this repository; never pass a value here. */
  code(text: string): this {
    this.parts.push(text)
    return this
  }

  command(argv: readonly string[]): this {
    this.parts.push(shellCommand(argv))
    return this
  }

  /** `NAME='value'`. */
  assign(name: string, value: string): this {
    if (!shellNamePattern.test(name)) throw new Error(`'${name}' is not a shell variable name`)
    this.parts.push(`${name}=${quoteShellArg(value)}`)
    return this
  }

  /** The command with `body` on its stdin, as a quoted here-document (no expansion inside). */
  commandWithInput(argv: readonly string[], body: string, delimiter = 'GITOPS_LITE_EOF'): this {
    const lines = body.split('\n')
    if (lines.includes(delimiter)) throw new Error(`A here-document body cannot contain the line '${delimiter}'`)
    this.parts.push(
      `${shellCommand(argv)} <<'${delimiter}'\n${body}${body.endsWith('\n') || body === '' ? '' : '\n'}${delimiter}`
    )
    return this
  }

  toString(): string {
    return this.parts.join('\n') + '\n'
  }
}
