import { UserError, decodeUtf8 } from '@gitops-lite/core'
import { refusal } from '../../helpers/refusal'

describe('decodeUtf8', () => {
  it('returns UTF-8 text as it is, a byte order mark and CRLF included', () => {
    const text = '\ufeffservices: # café ☕\r\n'
    expect(decodeUtf8(Buffer.from(text), 'compose.yaml')).toBe(text)
  })

  it('refuses other bytes, naming the file and the first bad line', () => {
    const bytes = Buffer.concat([Buffer.from('A=1\nB=2\n'), Buffer.from('PASSWORD=p\xe4ss\n', 'latin1')])
    const error = refusal(() => decodeUtf8(bytes, '.env'))
    expect(error).toBeInstanceOf(UserError)
    expect(error.message).toBe(
      ".env is not UTF-8 text (line 3 has a byte that is not UTF-8, e.g. Latin-1 'é' written as one byte)"
    )
    expect(error.location).toEqual({ file: '.env', line: 3 })
    // The value itself (a password) is never quoted.
    expect(error.describe()).not.toMatch(/PASSWORD|ss/)
  })
})
