import ssh2 from 'ssh2'
import { UserError } from '../errors'

/**
 * Checks that `key` is a private key ssh2 can use with `passphrase`, before anything connects.
 * Messages never include the key.
 */
export function checkPrivateKey(field: string, key: string, passphrase: string, passphraseField: string): void {
  const parsed = ssh2.utils.parseKey(key, passphrase || undefined)
  if (parsed instanceof Error) {
    const encrypted = /encrypted/i.test(parsed.message) || /passphrase|decrypt|bad decrypt/i.test(parsed.message)
    if (encrypted) {
      throw new UserError(
        passphrase
          ? `Input '${field}' could not be decrypted with '${passphraseField}'`
          : `Input '${field}' is an encrypted private key, but '${passphraseField}' is empty`,
        { fix: `Set '${passphraseField}' from the secret that holds the key's passphrase.` }
      )
    }
    throw new UserError(`Input '${field}' is not a private key ssh2 can read (${parsed.message})`, {
      fix: "Paste the whole private key file, from '-----BEGIN' to the END line, into a secret (ssh-keygen -t ed25519 makes one)."
    })
  }
  const first = Array.isArray(parsed) ? parsed[0] : parsed
  if (!first?.isPrivateKey()) {
    throw new UserError(`Input '${field}' holds a public key, not a private key`, {
      fix: 'Give the private half (the file without .pub); its public half goes into authorized_keys on the VM.'
    })
  }
}
