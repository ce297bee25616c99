import {
  UserError,
  fingerprintOf,
  hostFieldMatches,
  hostKeyAlgorithmsFor,
  keyTypeOf,
  knownHostName,
  parseFingerprints,
  parseKnownHosts,
  verifyHostKey,
  type HostKeyPolicy
} from '@gitops-lite/core'

// Made with ssh-keygen; the fingerprints are what `ssh-keygen -lf` printed for them.
const keyA = 'AAAAC3NzaC1lZDI1NTE5AAAAICkTOyjlHgon6LEgt0SvBIjDPD4WQ3uwmRCKlH0Ah+eI'
const fingerprintA = 'SHA256:nqNsoHmuymuPzBOdHML/4jRhsWEM9AWGnXerftN3+Jo'
const keyB = 'AAAAC3NzaC1lZDI1NTE5AAAAIPj8y5aUlmTbarRf8FRgLPbqWrcCbhVFjyUr8JoMi1yq'
const fingerprintB = 'SHA256:+HPY/v2TPZabJhstWXOXkshnnNM66WmTxpxKB75TaT0'
const rsaKey =
  'AAAAB3NzaC1yc2EAAAADAQABAAAAgQCivq9GxLIK01ES9vTp4sZaVZnFpQAZS73FpDaU6xPUW6MLFwGClrPybwFuHNkIDM7Y33zgzF8xkU+GhMchy9VzS45KwH9LY9gatipuaaxxE+X5u4Dr69oQ8ni1mA1baXeL1DZWCYxlJz8f2KTkhjbMcWI28DH+Hdu52rP3I1N9NQ=='
// `ssh-keygen -H` of "[vm1.example.com]:2222 <keyA>" and "vm2.example.com <keyB>".
const hashed = [
  `|1|q1PPtGZuUeVcnhCpagL0Ul1dU8U=|fzCKxElhdTs0ao1vzvFy6ZVu394= ssh-ed25519 ${keyA}`,
  `|1|S7Fhrzrh5GAf3iNIqCaUm2+S6zs=|4cngECocV/IPBIoHFUddYun/Gng= ssh-ed25519 ${keyB}`
].join('\n')

const blob = (base64: string) => Buffer.from(base64, 'base64')
const policy = (knownHosts: string, fingerprints: string[] = [], insecure = false): HostKeyPolicy => ({
  knownHosts: parseKnownHosts(knownHosts),
  fingerprints,
  insecure
})

describe('fingerprints', () => {
  it('match ssh-keygen -lf', () => {
    expect(fingerprintOf(blob(keyA))).toBe(fingerprintA)
    expect(fingerprintOf(blob(keyB))).toBe(fingerprintB)
    expect(fingerprintOf(blob(rsaKey))).toBe('SHA256:5XhoR6QyRe6BfLX0BCb9qNJIiwShHvtx09VHOovEwog')
    expect(keyTypeOf(blob(rsaKey))).toBe('ssh-rsa')
  })

  it('are validated with the bad value and the expected form', () => {
    expect(parseFingerprints([fingerprintA])).toEqual([fingerprintA])
    expect(() => parseFingerprints(['nqNsoHmuymuPzBOdHML/4jRhsWEM9AWGnXerftN3+Jo'])).toThrow(
      /is not a SHA256 host key fingerprint/
    )
    expect(() => parseFingerprints(['MD5:12:34'])).toThrow(UserError)
  })
})

describe('known_hosts', () => {
  it('names hosts as OpenSSH does', () => {
    expect(knownHostName('vm1', 22)).toBe('vm1')
    expect(knownHostName('vm1', 2222)).toBe('[vm1]:2222')
  })

  it('parses plain, bracketed, commented and marked lines', () => {
    const entries = parseKnownHosts(
      [
        `# a comment`,
        '',
        `vm1.example.com,10.0.0.1 ssh-ed25519 ${keyA} ops@laptop`,
        `@revoked * ssh-ed25519 ${keyB}`,
        `@cert-authority *.example.com ssh-rsa ${rsaKey}`
      ].join('\n')
    )
    expect(entries.map((e) => [e.marker, e.hosts, e.keyType, e.line])).toEqual([
      [undefined, 'vm1.example.com,10.0.0.1', 'ssh-ed25519', 3],
      ['revoked', '*', 'ssh-ed25519', 4],
      ['cert-authority', '*.example.com', 'ssh-rsa', 5]
    ])
  })

  it('refuses a malformed line, naming its number', () => {
    expect(() => parseKnownHosts(`vm1 ssh-ed25519 ${keyA}\nvm2 ssh-ed25519`)).toThrow(
      /line 2 "vm2 ssh-ed25519" is not a known_hosts line/
    )
    expect(() => parseKnownHosts(`vm1 ssh-rsa ${keyA}`)).toThrow(/is not a base64 ssh-rsa public key/)
    expect(() => parseKnownHosts(`@trusted vm1 ssh-ed25519 ${keyA}`)).toThrow(/marker @trusted is unknown/)
  })

  it('refuses a line cut short as malformed, not as another key', () => {
    for (const cut of [keyA.slice(0, -4), keyA.slice(0, 40), `${keyA.slice(0, -1)}`]) {
      expect(() => parseKnownHosts(`vm1 ssh-ed25519 ${keyA}\nvm2 ssh-ed25519 ${cut}`)).toThrow(
        /line 2 .* is not a known_hosts line: its ssh-ed25519 key is cut short or damaged|line 2 .* its key is not a base64/
      )
    }
    expect(parseKnownHosts(`vm1 ssh-ed25519 ${keyA}`)).toHaveLength(1)
  })

  it('matches patterns with wildcards and negation, and hashed entries', () => {
    expect(hostFieldMatches('vm1.example.com,10.0.0.1', '10.0.0.1')).toBe(true)
    expect(hostFieldMatches('*.example.com,!db.example.com', 'web.example.com')).toBe(true)
    expect(hostFieldMatches('*.example.com,!db.example.com', 'db.example.com')).toBe(false)
    expect(hostFieldMatches('[vm?.example.com]:2222', '[vm1.example.com]:2222')).toBe(true)
    expect(hostFieldMatches('vm1.example.com', '[vm1.example.com]:2222')).toBe(false)
    const [first, second] = parseKnownHosts(hashed)
    expect(hostFieldMatches(first.hosts, '[vm1.example.com]:2222')).toBe(true)
    expect(hostFieldMatches(first.hosts, 'vm1.example.com')).toBe(false)
    expect(hostFieldMatches(second.hosts, 'vm2.example.com')).toBe(true)
  })
})

describe('verifyHostKey', () => {
  it('accepts the key a known_hosts line gives for that host, hashed or not', () => {
    expect(
      verifyHostKey(policy(`[vm1.example.com]:2222 ssh-ed25519 ${keyA}`), '[vm1.example.com]:2222', blob(keyA))
    ).toMatchObject({ accepted: true, by: 'known-hosts' })
    expect(verifyHostKey(policy(hashed), 'vm2.example.com', blob(keyB))).toMatchObject({
      accepted: true,
      by: 'known-hosts'
    })
  })

  it('refuses another key, with the offered and the expected fingerprints', () => {
    const verdict = verifyHostKey(policy(hashed), '[vm1.example.com]:2222', blob(keyB))
    expect(verdict).toEqual({
      accepted: false,
      offered: fingerprintB,
      offeredType: 'ssh-ed25519',
      expected: [`${fingerprintA} (ssh-ed25519, known-hosts line 1)`],
      reason: 'the key differs from every trusted key'
    })
  })

  it('refuses a host known_hosts does not list, even when the key is listed for another host', () => {
    const verdict = verifyHostKey(policy(`vm1 ssh-ed25519 ${keyA}`), 'vm9', blob(keyA))
    expect(verdict).toMatchObject({ accepted: false, reason: 'known-hosts has no line for vm9', expected: [] })
  })

  it('accepts a fingerprint, refuses a revoked key whatever else trusts it', () => {
    expect(verifyHostKey(policy('', [fingerprintA]), 'vm1', blob(keyA))).toMatchObject({
      accepted: true,
      by: 'fingerprint'
    })
    const revoked = verifyHostKey(
      policy(`@revoked * ssh-ed25519 ${keyA}\nvm1 ssh-ed25519 ${keyA}`, [fingerprintA]),
      'vm1',
      blob(keyA)
    )
    expect(revoked).toMatchObject({ accepted: false, reason: 'the key is marked @revoked in known-hosts' })
  })

  it('accepts anything only when told to skip the check', () => {
    expect(verifyHostKey(policy('', [], true), 'vm1', blob(keyB))).toMatchObject({ accepted: true, by: 'insecure' })
    expect(verifyHostKey(policy(''), 'vm1', blob(keyB))).toMatchObject({ accepted: false })
  })

  it('refuses a key that contradicts known-hosts or fingerprint even when told to skip the check', () => {
    const line = verifyHostKey(policy(`vm1 ssh-ed25519 ${keyA}`, [], true), 'vm1', blob(keyB))
    expect(line).toMatchObject({
      accepted: false,
      offered: fingerprintB,
      expected: [`${fingerprintA} (ssh-ed25519, known-hosts line 1)`],
      reason: 'the key differs from every trusted key'
    })
    const fingerprint = verifyHostKey(policy('', [fingerprintA], true), 'vm1', blob(keyB))
    expect(fingerprint).toMatchObject({
      accepted: false,
      expected: [fingerprintA],
      reason: 'the key differs from every trusted key'
    })
    expect(verifyHostKey(policy(`@revoked * ssh-ed25519 ${keyB}`, [], true), 'vm1', blob(keyB))).toMatchObject({
      accepted: false
    })
    // The configured key itself, and a host nothing is configured for, are still accepted.
    expect(verifyHostKey(policy(`vm1 ssh-ed25519 ${keyA}`, [], true), 'vm1', blob(keyA))).toMatchObject({
      accepted: true,
      by: 'known-hosts'
    })
    expect(verifyHostKey(policy(`vm1 ssh-ed25519 ${keyA}`, [], true), 'vm2', blob(keyB))).toMatchObject({
      accepted: true,
      by: 'insecure'
    })
    // So the host offers the key known-hosts has, rather than one the check would then refuse.
    expect(hostKeyAlgorithmsFor(policy(`vm1 ssh-rsa ${rsaKey}`, [], true), 'vm1')).toEqual([
      'rsa-sha2-512',
      'rsa-sha2-256',
      'ssh-rsa'
    ])
  })

  it('asks for the host key algorithms known_hosts has keys of', () => {
    expect(hostKeyAlgorithmsFor(policy(`vm1 ssh-rsa ${rsaKey}`), 'vm1')).toEqual([
      'rsa-sha2-512',
      'rsa-sha2-256',
      'ssh-rsa'
    ])
    expect(hostKeyAlgorithmsFor(policy(`vm1 ssh-rsa ${rsaKey}\nvm1 ssh-ed25519 ${keyA}`), 'vm1')).toEqual([
      'rsa-sha2-512',
      'rsa-sha2-256',
      'ssh-rsa',
      'ssh-ed25519'
    ])
    expect(hostKeyAlgorithmsFor(policy(`vm1 ssh-rsa ${rsaKey}`), 'vm2')).toBeUndefined()
    expect(hostKeyAlgorithmsFor(policy(`vm1 ssh-rsa ${rsaKey}`, [fingerprintA]), 'vm1')).toBeUndefined()
  })
})
