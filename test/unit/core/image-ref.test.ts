import {
  imageReferenceProblem,
  canonicalRepository,
  formatImageReference,
  isMutableTag,
  parseImageReference,
  requireDigest,
  requireTag
} from '@gitops-lite/core'

const digest = `sha256:${'a'.repeat(64)}`

describe('parseImageReference', () => {
  it.each([
    ['nginx', { path: 'nginx' }],
    ['nginx:1.27-alpine', { path: 'nginx', tag: '1.27-alpine' }],
    ['ghcr.io/acme/api:v1.2.3', { registry: 'ghcr.io', path: 'acme/api', tag: 'v1.2.3' }],
    ['127.0.0.1:5000/team/app:v1', { registry: '127.0.0.1:5000', path: 'team/app', tag: 'v1' }],
    ['localhost/app', { registry: 'localhost', path: 'app' }],
    [`acme/api:v1@${digest}`, { path: 'acme/api', tag: 'v1', digest }],
    [`acme/api@${digest}`, { path: 'acme/api', digest }],
    ['[::1]:5000/app:1', { registry: '[::1]:5000', path: 'app', tag: '1' }],
    [
      'mcr.microsoft.com/mssql/server:2019-latest',
      { registry: 'mcr.microsoft.com', path: 'mssql/server', tag: '2019-latest' }
    ]
  ])('parses %s', (text, expected) => {
    expect(parseImageReference(text)).toEqual({ tag: undefined, digest: undefined, ...expected })
    expect(formatImageReference(parseImageReference(text)!)).toBe(text)
  })

  it.each([
    '',
    'acme/UPPER',
    'acme/api:',
    'acme/api:-bad',
    'acme/api:v1;rm -rf /',
    'acme/api:$(id)',
    'acme/api:v1\nx',
    'acme//api',
    'acme/api@sha256:short',
    `acme/api:${'x'.repeat(129)}`,
    'acme/api:v1 '
  ])('rejects %j', (text) => {
    expect(parseImageReference(text)).toBeUndefined()
  })

  it('treats Docker Hub spellings as one repository', () => {
    expect(canonicalRepository(parseImageReference('nginx')!)).toBe('docker.io/library/nginx')
    expect(canonicalRepository(parseImageReference('docker.io/library/nginx:1')!)).toBe('docker.io/library/nginx')
    expect(canonicalRepository(parseImageReference('index.docker.io/acme/api')!)).toBe('docker.io/acme/api')
  })
})

describe('tag and digest checks', () => {
  it('knows mutable tags', () => {
    expect(isMutableTag('latest')).toBe(true)
    expect(isMutableTag('Latest')).toBe(true)
    expect(isMutableTag('v1.2.3')).toBe(false)
  })

  it('quotes the bad value and the expected form', () => {
    expect(() => requireTag("input 'tag'", 'v1 2')).toThrow(/input 'tag' "v1 2" is not a valid image tag/)
    expect(() => requireDigest("input 'digest'", 'sha256:abc')).toThrow(
      expect.objectContaining({ fix: expect.stringMatching(/64 lower-case hex/) })
    )
  })
})

describe('imageReferenceProblem', () => {
  it.each([
    ['ghcr.io/acme/api:v1', undefined],
    ['nginx', undefined],
    [`nginx@sha256:${'a'.repeat(64)}`, undefined],
    ['', 'it is empty'],
    ['nginx 1.27', 'it contains white space'],
    ['nginx:1\n::error::x', 'it contains white space'],
    ['nginx@sha256:abc', "its digest is not 'sha256:' and 64 lower-case hex digits"],
    ['nginx:', 'its tag is empty'],
    ['nginx:-x', 'its tag is not 1 to 128 letters, digits, _ . and -'],
    ['ghcr.io/Acme/API:v1', 'its repository path has upper-case letters'],
    ['Nginx', 'its repository path has upper-case letters']
  ])('%j: %s', (image, problem) => {
    expect(imageReferenceProblem(image)).toBe(problem)
  })
})
