import { mkdirSync, mkdtempSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Inputs, resolveInsideWorkspace } from '@gitops-lite/core'
import {
  RESTORE_MESSAGE,
  checkUpdateRegistry,
  isValidBranchName,
  locateFiles,
  readSettings
} from '../../../../actions/bump-image-tag/src/input-helper'
import { commitMessage, pullRequestBranch } from '../../../../actions/bump-image-tag/src/report'
import { refusal } from '../../../helpers/refusal'

function workspace(): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'bump-settings-')))
  mkdirSync(join(dir, 'deploy'))
  writeFileSync(join(dir, 'deploy', 'docker-compose.yml'), 'services: {}\n')
  return dir
}

function settings(
  dir: string,
  inputs: Record<string, string>,
  event: { eventName: string; eventPayload: unknown; repository?: string } = { eventName: 'push', eventPayload: {} }
) {
  // The runner applies action.yml's defaults; these are the ones the helper requires.
  const defaults: Record<string, string> = {
    'author-name': 'github-actions[bot]',
    'author-email': 'bot@users.noreply.github.com'
  }
  return readSettings(
    new Inputs(
      (name) => inputs[name] ?? defaults[name] ?? '',
      () => {}
    ),
    { workspace: dir, ...event }
  )
}

describe('bump-image-tag settings', () => {
  it('finds the default compose file and the env file beside it', () => {
    const dir = workspace()
    const read = settings(dir, { 'working-directory': 'deploy', service: 'api, worker', tag: 'v1' })
    expect(locateFiles(read)).toEqual({
      files: [join(dir, 'deploy', 'docker-compose.yml')],
      envFile: join(dir, 'deploy', '.env')
    })
    expect(read.targets).toEqual([
      { service: 'api', tag: 'v1' },
      { service: 'worker', tag: 'v1' }
    ])
    expect(read.maxAttempts).toBe(5)
  })

  it('reads the dispatch payload and fills {environment}', () => {
    const dir = workspace()
    mkdirSync(join(dir, 'staging'))
    writeFileSync(join(dir, 'staging', 'compose.yaml'), '')
    const read = settings(
      dir,
      { files: '{environment}/compose.yaml' },
      {
        eventName: 'repository_dispatch',
        eventPayload: {
          client_payload: { service: 'api', image: 'ghcr.io/acme/api', tag: 'v2', environment: 'staging' }
        }
      }
    )
    expect(locateFiles(read).files).toEqual([join(dir, 'staging', 'compose.yaml')])
    expect(read.targets).toEqual([{ service: 'api', image: 'ghcr.io/acme/api', tag: 'v2' }])
  })

  it('checks that the files exist only when locating them (on the branch to edit), but refuses paths that leave the workspace at once', () => {
    const dir = workspace()
    const read = settings(dir, {
      files: 'other/compose.yaml\ncompose.prod.yaml',
      'env-file': 'prod.env',
      service: 'api',
      tag: 'v1'
    })
    expect(() => locateFiles(read)).toThrow(`Compose file "other/compose.yaml" does not exist in .`)
    mkdirSync(join(dir, 'other'))
    writeFileSync(join(dir, 'other', 'compose.yaml'), '')
    writeFileSync(join(dir, 'compose.prod.yaml'), '')
    expect(locateFiles(read)).toEqual({
      files: [join(dir, 'other', 'compose.yaml'), join(dir, 'compose.prod.yaml')],
      envFile: join(dir, 'prod.env')
    })
    expect(() => locateFiles({ ...read, files: [] })).toThrow(
      'No compose file in . (looked for compose.yaml, compose.yml, docker-compose.yaml, docker-compose.yml)'
    )
    expect(() => settings(dir, { 'env-file': '../x.env', service: 'api', tag: 'v1' })).toThrow(
      `Input 'env-file' "../x.env" is not a path inside the workspace`
    )
    // A link that leaves the workspace on the branch checked out later is refused there.
    symlinkSync(tmpdir(), join(dir, 'escape'))
    expect(() => locateFiles({ ...read, files: ['escape/compose.yaml'] })).toThrow(
      `Input 'files' "escape/compose.yaml" is not a path inside the workspace`
    )
  })

  it('refuses paths that leave the workspace, also through a symbolic link', () => {
    const dir = workspace()
    symlinkSync(tmpdir(), join(dir, 'escape'))
    for (const path of ['../x.yaml', '/etc/passwd', 'escape/x.yaml', 'a\nb']) {
      expect(() =>
        resolveInsideWorkspace(path, { workspace: dir, base: dir, baseName: 'working-directory', input: 'files' })
      ).toThrow(/is not a path inside the workspace/)
    }
    expect(
      resolveInsideWorkspace('../deploy/docker-compose.yml', {
        workspace: dir,
        base: join(dir, 'deploy'),
        baseName: 'working-directory',
        input: 'files'
      })
    ).toBe(join(dir, 'deploy', 'docker-compose.yml'))
  })

  it('refuses a default compose or env file that is a symbolic link out of the workspace', () => {
    const dir = workspace()
    const outside = realpathSync(mkdtempSync(join(tmpdir(), 'bump-outside-')))
    writeFileSync(join(outside, 'secret.env'), 'API_TAG=v1\n')
    symlinkSync(join(outside, 'secret.env'), join(dir, 'deploy', '.env'))
    const read = settings(dir, { 'working-directory': 'deploy', service: 'api', tag: 'v1' })
    expect(() => locateFiles(read)).toThrow(
      `deploy/.env is a symbolic link that leads outside the workspace (to ${join(outside, 'secret.env')})`
    )
    writeFileSync(join(outside, 'compose.yaml'), 'services: {}\n')
    symlinkSync(join(outside, 'compose.yaml'), join(dir, 'compose.yaml'))
    expect(() => locateFiles(settings(dir, { service: 'api', tag: 'v1' }))).toThrow(
      'compose.yaml is a symbolic link that leads outside the workspace'
    )
  })

  it('needs a target unless the event carries one', () => {
    expect(() => settings(workspace(), {})).toThrow(/'service' \(or 'image'\) and 'tag' are empty/)
    expect(() => settings(workspace(), { service: 'api' })).toThrow(/Input 'tag' is required/)
    expect(() => settings(workspace(), { tag: 'v1' })).toThrow(/Neither 'service' nor 'image'/)
    expect(() =>
      settings(workspace(), { 'working-directory': 'deploy', service: 'api', tag: 'v1', 'pull-request': 'true' })
    ).toThrow(/'token' is empty/)
    expect(() => settings(workspace(), { service: 'api', tag: 'v1', 'allowed-registries': 'not a host' })).toThrow(
      /not a registry host/
    )
  })

  it('accepts registry hosts only in allowed-registries, refusing an entry with a path', () => {
    const read = (value: string) =>
      settings(workspace(), { 'working-directory': 'deploy', service: 'api', tag: 'v1', 'allowed-registries': value })
    expect(read('ghcr.io, localhost:5000\ndocker.io, index.docker.io').allowedRegistries).toEqual([
      'ghcr.io',
      'localhost:5000',
      'docker.io',
      'docker.io'
    ])
    expect(() => read('ghcr.io/acme')).toThrow(
      `Input 'allowed-registries' entry "ghcr.io/acme" is not a registry host: it is the host ghcr.io followed by a path, and a registry is allowed as a whole, not by owner or path`
    )
    expect(() => read('acme')).toThrow(`Input 'allowed-registries' entry "acme" is not a registry host`)
  })

  it("says that an unset variable hides an image's registry, naming it", () => {
    const update = {
      service: 'api',
      file: 'compose.yaml',
      line: 3,
      editedIn: 'image' as const,
      previous: '${REGISTRY}/acme/api:v1',
      image: '${REGISTRY}/acme/api:v2',
      unset: ['REGISTRY'],
      changed: true
    }
    const error = refusal(() => checkUpdateRegistry(update, ['ghcr.io'], '.env'))
    expect(error.message).toBe(
      "The registry of service 'api' (image ${REGISTRY}/acme/api:v2) cannot be resolved, so 'allowed-registries' cannot be checked: .env does not set ${REGISTRY}"
    )
    expect(error.fix).toBe('Set REGISTRY in .env, or write the registry host in the image itself.')
    expect(error.location).toEqual({ file: 'compose.yaml', line: 3 })
    expect(() => checkUpdateRegistry(update, [], '.env')).not.toThrow()
    const known = {
      ...update,
      image: 'ghcr.io/acme/api:v2',
      reference: { registry: 'ghcr.io', path: 'acme/api', tag: 'v2' },
      unset: []
    }
    expect(() => checkUpdateRegistry(known, ['ghcr.io'], '.env')).not.toThrow()
    expect(() => checkUpdateRegistry(known, ['docker.io'], '.env')).toThrow(
      "The image ghcr.io/acme/api:v2 is from ghcr.io, which 'allowed-registries' does not list (docker.io)"
    )
  })

  describe("with 'restore'", () => {
    const images = JSON.stringify([
      {
        host: 'deploy@vm1:22',
        file: 'deploy/docker-compose.yml',
        service: 'api',
        failedImage: 'ghcr.io/acme/api:v3',
        restoredImage: 'ghcr.io/acme/api:v2',
        failed: true,
        failedCommit: 'f'.repeat(40),
        restoredCommit: '',
        run: 'https://github.com/acme/infra/actions/runs/7/attempts/1'
      }
    ])

    it('reads the rolled-back images instead of the payload, with the restore commit message', () => {
      const dispatched = {
        eventName: 'repository_dispatch',
        eventPayload: { client_payload: { service: 'web', image: 'ghcr.io/acme/web', tag: 'v9' } }
      }
      const read = settings(workspace(), { 'working-directory': 'deploy', restore: images }, dispatched)
      expect(read.targets).toEqual([])
      expect(read.restore).toEqual([expect.objectContaining({ service: 'api', restoredImage: 'ghcr.io/acme/api:v2' })])
      expect(read.commitMessage).toBe(RESTORE_MESSAGE)
      // '[]' (nothing rolled back) is a restore with nothing to do, never a payload bump.
      expect(settings(workspace(), { restore: '[]' }, dispatched)).toMatchObject({ restore: [], targets: [] })
    })

    it('refuses service, image, tag or digest beside it', () => {
      expect(refusal(() => settings(workspace(), { restore: images, service: 'api', tag: 'v2' }))).toMatchObject({
        message:
          "Input 'restore' is set, and so is 'service', 'tag': a step either writes back rolled-back images or sets new ones"
      })
      expect(() => settings(workspace(), { restore: '{"a":1}' })).toThrow("Input 'restore' is not a JSON array")
    })
  })

  describe('on repository_dispatch', () => {
    const dispatch = (payload?: object) => ({
      eventName: 'repository_dispatch',
      eventPayload: payload === undefined ? { action: 'deploy' } : { client_payload: payload }
    })
    const deploy = { 'working-directory': 'deploy' }
    const api = { service: 'api', image: 'ghcr.io/acme/api', tag: 'v2' }

    it("reads client_payload when 'service' and 'tag' are empty, with 'image' as a guard on what it updates", () => {
      expect(settings(workspace(), { ...deploy, image: 'ghcr.io/acme/api' }, dispatch(api)).targets).toEqual([api])
      expect(
        settings(
          workspace(),
          { ...deploy, image: 'ghcr.io/acme/api' },
          dispatch({ services: ['api', 'api2'], image: 'ghcr.io/acme/api', tag: 'v2' })
        ).targets
      ).toHaveLength(2)
      expect(() =>
        settings(
          workspace(),
          { ...deploy, image: 'ghcr.io/acme/api' },
          dispatch({ ...api, service: 'web', image: 'ghcr.io/acme/web' })
        )
      ).toThrow(
        "The repository_dispatch event's client_payload updates service 'web' to ghcr.io/acme/web, but input 'image' limits this step to ghcr.io/acme/api"
      )
      expect(() => settings(workspace(), { ...deploy, image: 'Not/A/Repo' }, dispatch(api))).toThrow(
        `Input 'image' "Not/A/Repo" is not an image repository`
      )
    })

    it("refuses a 'digest' input that would be ignored for the payload's", () => {
      expect(() => settings(workspace(), { ...deploy, digest: `sha256:${'a'.repeat(64)}` }, dispatch(api))).toThrow(
        "Input 'digest' is set, but 'service' and 'tag' are empty, so the images come from the repository_dispatch event's client_payload"
      )
    })

    it('says that the event has no client_payload', () => {
      const error = refusal(() => settings(workspace(), deploy, dispatch()))
      expect(error.message).toBe(
        "The repository_dispatch event has no client_payload, and inputs 'service' and 'tag' are empty"
      )
      expect(error.fix).toMatch(/dispatch-to-infra/)
      expect(() => settings(workspace(), deploy, dispatch(['api'] as unknown as object))).toThrow(
        /^client_payload must be a JSON object$/
      )
    })

    it("says why the payload was not read when 'service' is set without 'tag'", () => {
      expect(() => settings(workspace(), { ...deploy, service: 'api' }, dispatch(api))).toThrow(
        "Input 'service' is set but 'tag' is empty: on repository_dispatch, the event's client_payload is read only when both are empty"
      )
      expect(settings(workspace(), { ...deploy, service: 'api', tag: 'v3' }, dispatch(api)).targets).toEqual([
        { service: 'api', tag: 'v3' }
      ])
    })
  })

  it('says whether a refused tag or image came from the inputs or from client_payload', () => {
    const dispatch = (payload: object) => ({
      eventName: 'repository_dispatch',
      eventPayload: { client_payload: payload }
    })
    const deploy = { 'working-directory': 'deploy' }
    expect(() => settings(workspace(), { ...deploy, service: 'api', tag: 'latest' })).toThrow(
      /The tag "latest" is mutable: .* \(the tag came from input 'tag'\)/
    )
    expect(() =>
      settings(workspace(), deploy, dispatch({ service: 'api', image: 'ghcr.io/acme/api', tag: 'latest' }))
    ).toThrow(
      /The tag "latest" is mutable: .* \(the tag came from the repository_dispatch event's client_payload for service 'api'\)/
    )
    const registries = { ...deploy, 'allowed-registries': 'registry.example.com' }
    expect(() => settings(workspace(), { ...registries, image: 'ghcr.io/acme/api', tag: 'v1' })).toThrow(
      "The image ghcr.io/acme/api (from input 'image') is from ghcr.io, which 'allowed-registries' does not list"
    )
    expect(() =>
      settings(workspace(), registries, dispatch({ service: 'api', image: 'ghcr.io/acme/api', tag: 'v1' }))
    ).toThrow(
      "The image ghcr.io/acme/api (from the repository_dispatch event's client_payload for service 'api') is from ghcr.io"
    )
  })

  it('validates pull-request mode before anything changes: commit and push on, a token, and GITHUB_REPOSITORY', () => {
    const base = { 'working-directory': 'deploy', service: 'api', tag: 'v1', 'pull-request': 'true', token: 't0ken' }
    const inRepo = (repository?: string) => ({ eventName: 'push', eventPayload: {}, repository })
    expect(() => settings(workspace(), { ...base, push: 'false' }, inRepo('acme/infra'))).toThrow(
      "Input 'pull-request' is true but 'push' is false: a pull request needs the change committed and its branch pushed"
    )
    expect(() => settings(workspace(), { ...base, commit: 'false' }, inRepo('acme/infra'))).toThrow(
      "Input 'pull-request' is true but 'commit' is false"
    )
    expect(() => settings(workspace(), { ...base, token: '' }, inRepo('acme/infra'))).toThrow(/'token' is empty/)
    expect(() => settings(workspace(), base, inRepo(undefined))).toThrow(
      `GITHUB_REPOSITORY "" is not a GitHub repository (owner/name), but 'pull-request: true' needs it`
    )
    expect(() => settings(workspace(), base, inRepo('acme/infra\nx'))).toThrow(
      /GITHUB_REPOSITORY "acme\/infra\\nx" is not a GitHub repository/
    )
    expect(settings(workspace(), base, inRepo('acme/infra')).repository).toEqual({ owner: 'acme', repo: 'infra' })
    // Without pull-request, push: false and a missing GITHUB_REPOSITORY are fine.
    expect(settings(workspace(), { ...base, 'pull-request': 'false', push: 'false' }).repository).toBeUndefined()
  })

  it.each([
    ['main', true],
    ['deploy/staging', true],
    ['-x', false],
    ['a..b', false],
    ['a b', false],
    ['x.lock', false],
    ['a/', false],
    ['@', false],
    ['a@{1}', false]
  ])('branch name %j is valid: %s', (name, valid) => {
    expect(isValidBranchName(name)).toBe(valid)
  })
})

describe('commit message and pull request branch', () => {
  const updates = [
    {
      service: 'api',
      file: 'compose.yaml',
      line: 3,
      editedIn: 'image' as const,
      previous: 'acme/api:v1',
      image: 'acme/api:v2',
      unset: [],
      changed: true
    },
    {
      service: 'db',
      file: 'compose.yaml',
      line: 5,
      editedIn: 'image' as const,
      previous: 'postgres:16',
      image: 'postgres:16',
      unset: [],
      changed: false
    }
  ]

  it('fills the template and appends trailers for the changed services', () => {
    expect(
      commitMessage('deploy {services}: {previous} -> {tag}', updates, {
        source: { repository: 'acme/api', sha: 'abc' }
      })
    ).toBe(
      'deploy api: v1 -> v2\n\nService: api\nImage: acme/api:v2\nSource-Repository: acme/api\nSource-Commit: abc\n'
    )
  })

  it('a restore says which release failed where, why, and links the run in trailers', () => {
    const restore = [
      {
        host: 'deploy@vm1:22',
        file: 'compose.yaml',
        service: 'api',
        failedImage: 'acme/api:v1',
        restoredImage: 'acme/api:v2',
        failed: true,
        failedCommit: 'f'.repeat(40),
        restoredCommit: 'e'.repeat(40),
        run: 'https://github.com/acme/infra/actions/runs/7/attempts/1'
      }
    ]
    expect(commitMessage(RESTORE_MESSAGE, updates, { restore })).toBe(
      [
        'revert(deploy): api back to v2, v1 failed on deploy@vm1:22',
        '',
        `The deploy of ${'f'.repeat(40)} was rolled back (https://github.com/acme/infra/actions/runs/7/attempts/1); this puts Git back to what the VM runs:`,
        '- api: acme/api:v1 failed; acme/api:v2 runs again on deploy@vm1:22.',
        '',
        'Service: api',
        'Image: acme/api:v2',
        `Rolled-Back-Commit: ${'f'.repeat(40)}`,
        'Rolled-Back-Host: deploy@vm1:22',
        'Rolled-Back-Run: https://github.com/acme/infra/actions/runs/7/attempts/1',
        ''
      ].join('\n')
    )
  })

  it('names a valid, per-run branch', () => {
    const branch = pullRequestBranch(updates, '123', '2')
    expect(branch).toBe('gitops-lite/api-v2-run123-2')
    expect(isValidBranchName(branch)).toBe(true)
  })
})

describe("bump-image-tag settings with 'from-file'", () => {
  it('reads the file to promote from and the services, and needs no tag', () => {
    const dir = workspace()
    const read = settings(dir, { 'from-file': 'staging/compose.yaml', service: 'api, worker, api' })
    expect(read.promotion).toEqual({ from: 'staging/compose.yaml', services: ['api', 'worker'] })
    expect(read.targets).toEqual([])
    expect(settings(dir, { 'from-file': 'staging/compose.yaml' }).promotion).toEqual({
      from: 'staging/compose.yaml',
      services: []
    })
  })

  it('refuses an image, tag or digest beside it, and a path that leaves the workspace', () => {
    const dir = workspace()
    expect(
      refusal(() => settings(dir, { 'from-file': 'staging/compose.yaml', service: 'api', tag: 'v2' })).message
    ).toBe(
      "Input 'from-file' is set together with 'tag': a promotion copies each service's repository, tag and digest from staging/compose.yaml"
    )
    expect(() => settings(dir, { 'from-file': '../staging/compose.yaml' })).toThrow(
      `Input 'from-file' "../staging/compose.yaml" is not a path inside the workspace`
    )
  })
})
