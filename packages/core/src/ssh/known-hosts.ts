import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import { UserError } from '../errors'

/** One key line of an OpenSSH known_hosts file (sshd(8), SSH_KNOWN_HOSTS FILE FORMAT). */
export interface KnownHostEntry {
  marker?: 'cert-authority' | 'revoked'
  /** The host field as written: comma-separated patterns, or one `|1|salt|hash` entry. */
  hosts: string
  keyType: string
  key: Buffer
  /** 1-based line in the input, for messages. */
  line: number
}

/** What the user trusts: known_hosts lines and/or SHA256 fingerprints. */
export interface HostKeyPolicy {
  knownHosts: readonly KnownHostEntry[]
  fingerprints: readonly string[]
  /** Accept any key (the insecure-skip-host-key-check input). */
  insecure: boolean
}

export type HostKeyVerdict =
  | { accepted: true; offered: string; by: 'known-hosts' | 'fingerprint' | 'insecure' }
  | { accepted: false; offered: string; offeredType: string; expected: string[]; reason: string }

const fingerprintPattern = /^SHA256:[A-Za-z0-9+/]{43}$/

/** Key types OpenSSH writes to known_hosts, and the host key algorithms that use each. */
const algorithmsByKeyType: Record<string, string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
  'ssh-dss': ['ssh-dss']
}

/** `SHA256:` and the unpadded base64 of the key blob's SHA-256, as `ssh-keygen -lf` prints it. */
export function fingerprintOf(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`
}

/** The key type named inside an SSH public key blob (its first string). */
export function keyTypeOf(key: Buffer): string {
  if (key.length < 4) return 'unknown'
  const length = key.readUInt32BE(0)
  return length > 0 && 4 + length <= key.length ? key.subarray(4, 4 + length).toString('latin1') : 'unknown'
}

/** How many length-prefixed fields each key type's blob holds (RFC 4253, 5656, 8709; PROTOCOL.u2f). */
const blobFields: Record<string, number> = {
  'ssh-ed25519': 2,
  'ssh-rsa': 3,
  'ssh-dss': 5,
  'ecdsa-sha2-nistp256': 3,
  'ecdsa-sha2-nistp384': 3,
  'ecdsa-sha2-nistp521': 3,
  'sk-ssh-ed25519@openssh.com': 3,
  'sk-ecdsa-sha2-nistp256@openssh.com': 4
}

/** Whether a public key blob is whole: length-prefixed fields that end exactly at its end, as many as its type has. */
export function isCompleteKeyBlob(key: Buffer, keyType: string): boolean {
  let offset = 0
  let fields = 0
  while (offset < key.length) {
    if (offset + 4 > key.length) return false
    const length = key.readUInt32BE(offset)
    offset += 4 + length
    if (offset > key.length) return false
    fields++
  }
  const expected = blobFields[keyType]
  if (keyType === 'ssh-ed25519' && key.length !== 4 + keyType.length + 4 + 32) return false
  return expected === undefined ? fields >= 2 : fields === expected
}

export function isValidFingerprint(value: string): boolean {
  return fingerprintPattern.test(value)
}

/** Parses known_hosts text; blank lines and comments are skipped, anything else malformed is an error. */
export function parseKnownHosts(text: string, field = "Input 'known-hosts'"): KnownHostEntry[] {
  const entries: KnownHostEntry[] = []
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) return
    const fields = line.split(/\s+/)
    let marker: KnownHostEntry['marker']
    if (fields[0].startsWith('@')) {
      const name = fields.shift()!.slice(1)
      if (name !== 'cert-authority' && name !== 'revoked')
        throw malformed(field, index + 1, raw, `the marker @${name} is unknown`)
      marker = name
    }
    const [hosts, keyType, keyText] = fields
    if (hosts === undefined || keyType === undefined || keyText === undefined)
      throw malformed(field, index + 1, raw, 'it needs host patterns, a key type and a base64 key')
    const key = Buffer.from(keyText, 'base64')
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(keyText) || keyTypeOf(key) !== keyType) {
      throw malformed(field, index + 1, raw, `its key is not a base64 ${keyType} public key`)
    }
    // A line cut short still names its type: without this it would read as another key, and
    // the host's real key as an impostor's.
    if (!isCompleteKeyBlob(key, keyType))
      throw malformed(field, index + 1, raw, `its ${keyType} key is cut short or damaged`)
    entries.push({ marker, hosts, keyType, key, line: index + 1 })
  })
  return entries
}

function malformed(field: string, line: number, raw: string, problem: string): UserError {
  const shown = raw.length > 60 ? `${raw.slice(0, 60)}...` : raw
  return new UserError(`${field} line ${line} ${JSON.stringify(shown)} is not a known_hosts line: ${problem}`, {
    fix: "Paste the lines that 'ssh-keyscan -p PORT HOST' prints (or the host's lines from ~/.ssh/known_hosts), e.g. '[vm1.example.com]:2222 ssh-ed25519 AAAA...'."
  })
}

/** Parses `SHA256:...` fingerprints, one per list item. */
export function parseFingerprints(values: readonly string[], field = "Input 'fingerprint'"): string[] {
  return values.map((value) => {
    if (!isValidFingerprint(value)) {
      throw new UserError(`${field} ${JSON.stringify(value)} is not a SHA256 host key fingerprint`, {
        fix: "Give it as 'SHA256:' and 43 base64 characters, as 'ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub' prints on the VM."
      })
    }
    return value
  })
}

function globToRegExp(pattern: string): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.')
  return new RegExp(`^${body}$`, 'i')
}

function matchesHashed(hosts: string, name: string): boolean {
  const [, , saltText, hashText] = hosts.split('|')
  if (saltText === undefined || hashText === undefined) return false
  const expected = Buffer.from(hashText, 'base64')
  const actual = createHmac('sha1', Buffer.from(saltText, 'base64')).update(name).digest()
  return expected.length === actual.length && timingSafeEqual(expected, actual)
}

/** Whether a known_hosts host field matches `name` (`host` or `[host]:port`), as OpenSSH's match_hostname does. */
export function hostFieldMatches(hosts: string, name: string): boolean {
  if (hosts.startsWith('|1|')) return matchesHashed(hosts, name)
  let matched = false
  for (const pattern of hosts.split(',')) {
    const negated = pattern.startsWith('!')
    if (globToRegExp(negated ? pattern.slice(1) : pattern).test(name)) {
      if (negated) return false
      matched = true
    }
  }
  return matched
}

/** The entries for host `name`; `@cert-authority` lines are left out (host certificates are not supported). */
export function entriesFor(policy: HostKeyPolicy, name: string): KnownHostEntry[] {
  return policy.knownHosts.filter((entry) => entry.marker !== 'cert-authority' && hostFieldMatches(entry.hosts, name))
}

/**
 * Decides whether the key a host offered is trusted: it must not be revoked, and must match a
 * known_hosts line for that host name or one of the fingerprints. `insecure` accepts any key
 * only for a host that neither names: a mismatch with a configured key is always refused.
 */
export function verifyHostKey(policy: HostKeyPolicy, name: string, key: Buffer): HostKeyVerdict {
  const offered = fingerprintOf(key)
  const entries = entriesFor(policy, name)
  const reject = (reason: string): HostKeyVerdict => ({
    accepted: false,
    offered,
    offeredType: keyTypeOf(key),
    expected: [
      ...entries
        .filter((e) => e.marker === undefined)
        .map((e) => `${fingerprintOf(e.key)} (${e.keyType}, known-hosts line ${e.line})`),
      ...policy.fingerprints
    ],
    reason
  })
  if (policy.knownHosts.some((e) => e.marker === 'revoked' && e.key.equals(key)))
    return reject('the key is marked @revoked in known-hosts')
  if (entries.some((e) => e.marker === undefined && e.key.equals(key)))
    return { accepted: true, offered, by: 'known-hosts' }
  if (policy.fingerprints.includes(offered)) return { accepted: true, offered, by: 'fingerprint' }
  // A key that contradicts a configured one is refused even when told to skip the check: that
  // flag is for hosts nothing is known about, not for overriding what the user said to trust.
  const known = entries.some((e) => e.marker === undefined) || policy.fingerprints.length > 0
  if (known) return reject('the key differs from every trusted key')
  if (policy.insecure) return { accepted: true, offered, by: 'insecure' }
  return reject(`known-hosts has no line for ${name}`)
}

/**
 * The host key algorithms to ask for, so the host offers a key we know (as OpenSSH orders
 * them by known_hosts); undefined leaves ssh2's default order.
 */
export function hostKeyAlgorithmsFor(policy: HostKeyPolicy, name: string): string[] | undefined {
  if (policy.fingerprints.length > 0) return undefined
  const algorithms = entriesFor(policy, name)
    .filter((e) => e.marker === undefined)
    .flatMap((e) => algorithmsByKeyType[e.keyType] ?? [])
  return algorithms.length > 0 ? [...new Set(algorithms)] : undefined
}
