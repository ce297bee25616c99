import { UserError, formatTarget, parseHostSpec } from '@gitops-lite/core'

const defaults = { port: 22, username: 'deploy' }

describe('parseHostSpec', () => {
  it.each([
    ['vm1.example.com', { host: 'vm1.example.com', port: 22, username: 'deploy' }],
    ['vm1.example.com:2222', { host: 'vm1.example.com', port: 2222, username: 'deploy' }],
    ['ops@10.0.0.5:2200', { host: '10.0.0.5', port: 2200, username: 'ops' }],
    ['[2001:db8::1]:2222', { host: '2001:db8::1', port: 2222, username: 'deploy' }],
    ['2001:db8::1', { host: '2001:db8::1', port: 22, username: 'deploy' }],
    ['root@[::1]', { host: '::1', port: 22, username: 'root' }]
  ])('reads %s', (text, expected) => {
    expect(parseHostSpec(text, defaults)).toEqual(expected)
  })

  it.each([
    ['vm1:0', /has the port "0"/],
    ['vm1:ssh', /has the port "ssh"/],
    ['bad host', /is not a host name or address/],
    ['[vm1]:22', /brackets around something that is not an IPv6 address/],
    ['a b@vm1', /user name "a b"/],
    ['-oProxyCommand=x', /is not a host name or address/]
  ])('refuses %s, quoting it and the expected form', (text, message) => {
    expect(() => parseHostSpec(text, defaults)).toThrow(message)
    try {
      parseHostSpec(text, defaults)
    } catch (error) {
      expect((error as UserError).describe()).toMatch(/'user@host:port'/)
    }
  })

  it('needs a user from the spec or the username input', () => {
    expect(() => parseHostSpec('vm1', { port: 22, username: '' })).toThrow(
      /names no user, and input 'username' is empty/
    )
  })

  it('formats targets for messages', () => {
    expect(formatTarget({ host: '::1', port: 22, username: 'root' })).toBe('root@[::1]:22')
    expect(formatTarget({ host: 'vm1', port: 2222, username: 'ops' })).toBe('ops@vm1:2222')
  })
})
