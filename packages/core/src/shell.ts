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
