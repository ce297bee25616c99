import { debianImageTag } from '@gitops-lite/sandbox'

describe('debianImageTag', () => {
  it('is the same for the same package list, whatever its order, and differs for another', () => {
    const tag = debianImageTag({ packages: ['nginx-light', 'curl'] })
    expect(tag).toMatch(/^local\/debian-bookworm:[0-9a-f]{12}$/)
    expect(debianImageTag({ packages: ['curl', 'nginx-light'] })).toBe(tag)
    expect(debianImageTag({ packages: ['nginx-light'] })).not.toBe(tag)
    expect(debianImageTag({ packages: ['nginx-light', 'curl'], changes: ['CMD ["nginx"]'] })).not.toBe(tag)
    expect(debianImageTag({ packages: ['nginx-light', 'curl'], suite: 'trixie' })).toMatch(/^local\/debian-trixie:/)
  })
})
