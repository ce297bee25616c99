import { UserError } from './errors'

// Compose accepts service names matching ^[a-zA-Z0-9._-]+$ (compose-spec schema); we also
// require an alphanumeric first character, as container and DNS names derived from it need.
const serviceNamePattern = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/

export function isValidServiceName(name: string): boolean {
  return serviceNamePattern.test(name)
}

export function requireServiceName(field: string, value: string): string {
  if (!isValidServiceName(value)) {
    throw new UserError(`${field} ${JSON.stringify(value)} is not a valid compose service name`, {
      fix: 'A service name is 1 to 63 letters, digits, _ . and -, starting with a letter or digit.'
    })
  }
  return value
}

// GitHub owners: 1-39 alphanumerics or single hyphens; repository names: letters, digits, . _ -
const ownerPattern = /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/
const repoNamePattern = /^[A-Za-z0-9._-]{1,100}$/

export interface RepositoryName {
  owner: string
  repo: string
}

export function parseRepositoryName(value: string): RepositoryName | undefined {
  const parts = value.split('/')
  if (parts.length !== 2) return undefined
  const [owner, repo] = parts
  if (!ownerPattern.test(owner) || !repoNamePattern.test(repo) || repo === '.' || repo === '..') return undefined
  return { owner, repo }
}

export function requireRepositoryName(field: string, value: string): RepositoryName {
  const parsed = parseRepositoryName(value)
  if (!parsed) {
    throw new UserError(`${field} ${JSON.stringify(value)} is not a GitHub repository`, {
      fix: "Give it as 'owner/name', e.g. 'acme/infra'."
    })
  }
  return parsed
}
