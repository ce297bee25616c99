import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import ssh2 from 'ssh2'
import { Inputs } from '@gitops-lite/core'
import { readSettings } from '../../../../actions/ssh-surgical-deploy/src/input-helper'
import { refusal } from '../../../helpers/refusal'

// ssh2 is CommonJS: Node's ESM loader only gives its default export.
const { utils } = ssh2
const key = utils.generateKeyPairSync('ed25519')
const encrypted = utils.generateKeyPairSync('ed25519', { passphrase: 'correct horse', cipher: 'aes256-ctr', rounds: 2 }) // few KDF rounds: the test is about the messages, not the key's strength
const knownHosts = `vm1 ${utils.generateKeyPairSync('ed25519').public}`

function workspace(
  files: Record<string, string> = { 'compose.yaml': 'services:\n  web:\n    image: x\n    env_file: .web.env\n' }
): string {
  const dir = mkdtempSync(join(tmpdir(), 'deploy-inputs-'))
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true })
    writeFileSync(join(dir, path), text)
  }
  return dir
}

function settings(values: Record<string, string>, dir = workspace(), runner: { repository?: string } = {}) {
  const all: Record<string, string> = {
    host: 'deploy@vm1',
    key: key.private,
    'known-hosts': knownHosts,
    'remote-dir': '/srv/app',
    ...values
  }
  return readSettings(
    new Inputs(
      (name) => all[name] ?? '',
      () => {}
    ),
    { workspace: dir, repository: 'acme/infra', apiUrl: 'https://api.github.com', ...runner }
  )
}

function failure(values: Record<string, string>, dir?: string, runner?: { repository: string }): string {
  return refusal(() => settings(values, dir, runner)).describe()
}

describe('ssh-surgical-deploy inputs', () => {
  it('reads a typical step into typed settings', () => {
    const s = settings({
      host: 'vm1\nops@vm2:2222',
      username: 'deploy',
      fingerprint: '',
      'health-timeout': '2m',
      services: 'web',
      parallel: 'true'
    })
    expect(s.hosts).toEqual([
      { host: 'vm1', port: 22, username: 'deploy' },
      { host: 'vm2', port: 2222, username: 'ops' }
    ])
    expect(s.stack).toEqual({
      remoteDir: '/srv/app',
      composeFiles: ['compose.yaml'],
      projectName: '',
      composeCommand: 'auto'
    })
    expect(s.files.map((f) => [f.path, f.compose])).toEqual([['compose.yaml', true]])
    expect([...s.envFiles]).toEqual([['web', ['.web.env']]])
    expect(s).toMatchObject({
      mode: 'surgical',
      services: ['web'],
      pull: true,
      rollback: true,
      dryRun: false,
      parallel: true,
      healthTimeoutMs: 120_000,
      lockTimeoutMs: 600_000
    })
  })

  it('refuses to connect without a way to verify the host key, unless told to skip it', () => {
    expect(failure({ 'known-hosts': '' })).toMatch(/Neither 'known-hosts' nor 'fingerprint'.*ssh-keyscan/)
    expect(settings({ 'known-hosts': '', 'insecure-skip-host-key-check': 'true' }).hostKeys.insecure).toBe(true)
  })

  it('checks the key before connecting, never quoting it', () => {
    expect(failure({ key: 'not a key' })).toMatch(/Input 'key' is not a private key/)
    expect(failure({ key: key.public })).toMatch(/holds a public key, not a private key/)
    expect(failure({ key: encrypted.private })).toMatch(/encrypted private key, but 'passphrase' is empty/)
    expect(failure({ key: encrypted.private, passphrase: 'wrong' })).toMatch(/could not be decrypted/)
    expect(settings({ key: encrypted.private, passphrase: 'correct horse' }).passphrase).toBe('correct horse')
    expect(failure({ key: 'not a key' })).not.toContain('not a key"')
  })

  it('uploads files relative to the first compose file and refuses .env files', () => {
    const dir = workspace({
      'deploy/compose.yaml': 'services: {}\n',
      'deploy/nginx/nginx.conf': 'x',
      'deploy/.env': 'A=1',
      'README.md': 'x'
    })
    const s = settings({ files: 'deploy/nginx/nginx.conf\ndeploy/compose.yaml' }, dir)
    expect(s.files.map((f) => f.path)).toEqual(['compose.yaml', 'nginx/nginx.conf'])
    expect(failure({ files: 'deploy/compose.yaml\ndeploy/.env' }, dir)).toMatch(
      /is a \.env file: secrets stay on the VM/
    )
    expect(failure({ files: 'deploy/compose.yaml\nREADME.md' }, dir)).toMatch(
      /must be in the first compose file's folder \(deploy\)/
    )
    expect(failure({ files: 'deploy/nginx/nginx.conf' }, dir)).toMatch(/lists no compose file/)
    expect(failure({ files: 'deploy/compose.yaml\n../etc/passwd' }, dir)).toMatch(/is not a path inside the workspace/)
    expect(failure({ files: 'deploy/compose.yaml\ndeploy/missing.conf' }, dir)).toMatch(
      /is not a file in the workspace/
    )
    expect(failure({}, workspace({ 'README.md': 'x' }))).toMatch(/No compose file in the workspace/)
  })

  it('refuses files under .gitops-lite/, where the host keeps the lock, the record and the audit log', () => {
    const dir = workspace({
      'compose.yaml': 'services: {}\n',
      '.gitops-lite/audit.log': '',
      '.gitops-lite/state': '',
      '.gitops-lite/lock': '',
      'conf/.gitops-lite/x': 'x'
    })
    for (const path of ['.gitops-lite/audit.log', '.gitops-lite/state', '.gitops-lite/lock']) {
      expect(failure({ files: `compose.yaml\n${path}` }, dir)).toMatch(
        new RegExp(
          `Input 'files' entry "${path.replace('.', '\\.')}" would be uploaded to .*inside \\.gitops-lite/.*Remove it from 'files'`
        )
      )
    }
    expect(settings({ files: 'compose.yaml\nconf/.gitops-lite/x' }, dir).files.map((f) => f.path)).toEqual([
      'compose.yaml',
      'conf/.gitops-lite/x'
    ])
  })

  it('validates the rest, quoting the bad value', () => {
    expect(failure({ host: '' })).toMatch(/Input 'host' is required/)
    expect(failure({ 'remote-dir': '/srv/../etc' })).toMatch(
      /Input 'remote-dir' "\/srv\/..\/etc" is not a usable directory/
    )
    expect(settings({ 'remote-dir': '~/stack/' }).stack.remoteDir).toBe('stack')
    expect(failure({ 'project-name': 'My App' })).toMatch(/is not a compose project name/)
    expect(failure({ services: 'web,-x' })).toMatch(/"-x" is not a valid compose service name/)
    expect(failure({ mode: 'fast' })).toMatch(/Input 'mode' must be one of 'surgical', 'full'/)
    expect(failure({ 'compose-command': 'podman-compose' })).toMatch(/Input 'compose-command' must be one of/)
    expect(failure({ 'lock-timeout': 'soon' })).toMatch(/Input 'lock-timeout' must be a duration/)
    expect(failure({ fingerprint: 'abc' })).toMatch(/is not a SHA256 host key fingerprint/)
  })

  it('a jump host uses the target key and known hosts unless given its own', () => {
    const s = settings({ 'proxy-host': 'bastion.example.com', 'proxy-username': 'jump' })
    expect(s.proxy?.target).toEqual({ host: 'bastion.example.com', port: 22, username: 'jump' })
    expect(s.proxy?.privateKey).toBe(key.private)
    expect(settings({}).proxy).toBeUndefined()
  })

  it('reads registry logins line by line, the n-th lines going together', () => {
    const s = settings({
      registry: 'ghcr.io\nregistry.example.com:5000',
      'registry-username': 'octocat\n_token',
      'registry-password': 'p1 with space\np2'
    })
    expect(s.registries).toEqual([
      { registry: 'ghcr.io', username: 'octocat', password: 'p1 with space' },
      { registry: 'registry.example.com:5000', username: '_token', password: 'p2' }
    ])
    expect(settings({}).registries).toEqual([])
    expect(failure({ registry: 'ghcr.io\nquay.io', 'registry-username': 'a', 'registry-password': 'b' })).toContain(
      "'registry' names 2 registries but 'registry-username' has 1 line(s)"
    )
    expect(failure({ registry: 'https://ghcr.io', 'registry-username': 'a', 'registry-password': 'b' })).toContain(
      '"https://ghcr.io" is not a registry host'
    )
    expect(
      failure({ registry: 'ghcr.io', 'registry-username': 'a', 'registry-password': 'b', pull: 'false' })
    ).toContain("'pull' is false")
  })

  it('reads pre-deploy commands from the compose files', () => {
    const dir = workspace({
      'compose.yaml':
        'services:\n  api:\n    image: x\n    x-gitops-lite:\n      pre-deploy: ["./manage.py", "migrate"]\n  web:\n    image: y\n'
    })
    expect([...settings({}, dir).preDeploy]).toEqual([['api', ['./manage.py', 'migrate']]])
  })

  it('reports to an environment only when asked, with a token and the repository', () => {
    expect(settings({}).deployment).toBeUndefined()
    expect(
      settings({ environment: 'staging', 'environment-url': 'https://staging.example.com', token: 'ghs_x' }).deployment
    ).toEqual({
      target: { repository: { owner: 'acme', repo: 'infra' }, environment: 'staging' },
      environmentUrl: 'https://staging.example.com',
      token: 'ghs_x',
      apiUrl: 'https://api.github.com'
    })
    expect(failure({ environment: 'staging' })).toContain("Input 'token' is empty")
    expect(failure({ 'environment-url': 'https://x.example.com' })).toContain("'environment' is empty")
    expect(failure({ environment: 'staging', 'environment-url': 'staging.example.com', token: 't' })).toContain(
      'is not an http(s) URL'
    )
    expect(failure({ environment: 'staging', token: 't' }, undefined, { repository: '' })).toContain(
      'GITHUB_REPOSITORY "" is not owner/name'
    )
    expect(
      failure({ environment: 'staging', token: 't', mode: 'list', 'remote-dir': '/srv/previews' }, workspace({}))
    ).toContain("with 'mode: list', which deploys nothing")
  })

  it("'mode: remove' needs the project name, reads no files, and takes no service list", () => {
    const empty = workspace({})
    const read = settings(
      { mode: 'remove', 'project-name': 'pr-42', 'remote-dir': '/srv/previews/pr-42', 'remove-volumes': 'true' },
      empty
    )
    expect(read).toMatchObject({
      mode: 'remove',
      removeVolumes: true,
      files: [],
      stack: { projectName: 'pr-42', remoteDir: '/srv/previews/pr-42', composeFiles: [] }
    })
    expect(failure({ mode: 'remove' }, empty)).toContain("Input 'project-name' is empty, but 'mode: remove' needs it")
    expect(failure({ mode: 'remove', 'project-name': 'pr-42', services: 'web' }, empty)).toContain(
      "Input 'services' is set with 'mode: remove'"
    )
    expect(settings({ mode: 'list', 'remote-dir': '/srv/previews' }, empty)).toMatchObject({ mode: 'list', files: [] })
    expect(failure({ 'remove-volumes': 'true' })).toContain(
      "Input 'remove-volumes' is true with 'mode: surgical', which removes no volume"
    )
  })

  it("'orchestrator' is compose by default; swarm reads prune and refuses the Compose-only modes", () => {
    expect(settings({})).toMatchObject({ orchestrator: 'compose', prune: false })
    expect(settings({ orchestrator: 'swarm', prune: 'true', 'project-name': 'shop' })).toMatchObject({
      orchestrator: 'swarm',
      prune: true,
      stack: { projectName: 'shop' }
    })
    expect(failure({ orchestrator: 'kubernetes' })).toContain('kubernetes')
    expect(failure({ orchestrator: 'swarm', mode: 'list' }, workspace({}))).toContain(
      "Input 'mode' is 'list', which works on Compose stacks only"
    )
  })
})
