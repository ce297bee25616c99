import { UserError } from '../errors'

/** One SSH endpoint: where to connect and as whom. */
export interface SshTarget {
  host: string
  port: number
  username: string
}

const hostnamePattern =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/
const ipv6Pattern = /^[0-9A-Fa-f:.]+(?:%[A-Za-z0-9_.-]+)?$/
// POSIX portable user names plus the `$` of machine accounts; what useradd accepts.
const usernamePattern = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}\$?$/

export function isValidUsername(name: string): boolean {
  return usernamePattern.test(name)
}

function hostSpecError(field: string, value: string, problem: string): UserError {
  return new UserError(`${field} ${JSON.stringify(value)} ${problem}`, {
    fix: "Give each host as 'host', 'host:port', 'user@host:port' or '[ipv6]:port', one per line, e.g. deploy@vm1.example.com:2222."
  })
}

/**
 * Parses `host`, `host:port`, `[ipv6]:port`, `ipv6` or any of them with `user@` in front.
 * Missing parts come from `defaults` (the `port` and `username` inputs).
 */
export function parseHostSpec(
  value: string,
  defaults: { port: number; username: string },
  field = "Input 'host'"
): SshTarget {
  let rest = value.trim()
  let username = defaults.username
  const at = rest.lastIndexOf('@')
  if (at >= 0) {
    username = rest.slice(0, at)
    rest = rest.slice(at + 1)
    if (!isValidUsername(username))
      throw hostSpecError(
        field,
        value,
        `has the user name ${JSON.stringify(username)}, which is not a valid login name`
      )
  }
  let host: string
  let portText: string | undefined
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(rest)
  if (bracketed) {
    host = bracketed[1]
    portText = bracketed[2]
    if (!ipv6Pattern.test(host) || !host.includes(':'))
      throw hostSpecError(field, value, 'has brackets around something that is not an IPv6 address')
  } else if ((rest.match(/:/g) ?? []).length > 1) {
    host = rest // a bare IPv6 address; a port needs the [ipv6]:port form
    if (!ipv6Pattern.test(host)) throw hostSpecError(field, value, 'is not a host name or address')
  } else {
    const colon = rest.indexOf(':')
    host = colon >= 0 ? rest.slice(0, colon) : rest
    portText = colon >= 0 ? rest.slice(colon + 1) : undefined
    if (!hostnamePattern.test(host)) throw hostSpecError(field, value, 'is not a host name or address')
  }
  let port = defaults.port
  if (portText !== undefined) {
    port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN
    if (!(port >= 1 && port <= 65535))
      throw hostSpecError(field, value, `has the port ${JSON.stringify(portText)}; a port is a number from 1 to 65535`)
  }
  if (username === '') {
    throw new UserError(`${field} ${JSON.stringify(value)} names no user, and input 'username' is empty`, {
      fix: "Set 'username' to the login on the VM, or write the host as user@host."
    })
  }
  return { host, port, username }
}

/** How OpenSSH names the host in known_hosts: `host` on port 22, `[host]:port` otherwise. */
export function knownHostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`
}

/** `user@host:port` for messages; IPv6 in brackets. */
export function formatTarget(target: SshTarget): string {
  const host = target.host.includes(':') ? `[${target.host}]` : target.host
  return `${target.username}@${host}:${target.port}`
}
