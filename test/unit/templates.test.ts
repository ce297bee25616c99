/**
 * The forkable templates and our own workflows must be valid GitHub workflows, and every step
 * that uses one of our actions must name only inputs that action's action.yml declares (and
 * every input it requires).
 *
 * Workflows and action.yml files are checked with GitHub's own validator, @actions/languageservice
 * (the engine of the GitHub Actions editor extension; its workflow and action schemas come with
 * @actions/workflow-parser): schema, expressions and their contexts, reusable workflow calls and
 * the inputs of our actions' steps. The checks after it restate the input rules without the
 * validator, with plain messages, and add the rules the pipeline depends on (run-name carries
 * the correlation id, deploys never cancelled, host keys always verified, tokens, permissions).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { registerLogger, validate, type ActionsMetadataProvider, type ValidationConfig } from '@actions/languageservice'
import type { ActionMetadata, ActionReference } from '@actions/languageservice/action'
import { TextDocument } from 'vscode-languageserver-textdocument'
import { parse } from 'yaml'
import { planImageBump } from '@gitops-lite/core'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const templatesDir = join(root, 'templates')
const actionsDir = join(root, 'actions')

/** `uses:` of one of our actions, as the templates and the README write it. */
const OUR_ACTION = /^[^/@\s]+\/gitops-lite\/actions\/([^/@\s]+)@(\S+)$/

interface ActionInputSpec {
  description?: string
  required?: boolean
  default?: string
  deprecationMessage?: string
}

interface ActionYml {
  name?: string
  description?: string
  inputs?: Record<string, ActionInputSpec>
  outputs?: Record<string, { description?: string }>
  runs?: { using?: string; main?: string }
}

const rel = (path: string): string => relative(root, path).split(sep).join('/')

function walk(dir: string, keep: (path: string) => boolean): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name)
      if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : walk(path, keep)
      return keep(path) ? [path] : []
    })
}

const isWorkflow = (path: string): boolean => /[\\/]\.github[\\/]workflows[\\/][^\\/]+\.ya?ml$/.test(path)
const workflowFiles = [...walk(join(root, '.github', 'workflows'), isWorkflow), ...walk(templatesDir, isWorkflow)]
const actionNames = readdirSync(actionsDir)
  .filter((name) => existsSync(join(actionsDir, name, 'action.yml')))
  .sort()
const composeFiles = walk(templatesDir, (path) => /(^|[\\/])(docker-)?compose\.ya?ml$/.test(path))

function readActionYml(name: string): ActionYml {
  return parse(readFileSync(join(actionsDir, name, 'action.yml'), 'utf8')) as ActionYml
}

/** Inputs a step must give: required and without a default. */
function requiredInputs(action: ActionYml): string[] {
  return Object.entries(action.inputs ?? {})
    .filter(([, spec]) => spec?.required === true && (spec.default === undefined || spec.default === ''))
    .map(([name]) => name)
}

/** The repository a workflow lives in: the folder holding its .github (a template root, or this repo). */
function repositoryRootOf(workflow: string): string {
  return resolve(dirname(workflow), '..', '..')
}

/** Our actions from actions/<name>/action.yml; any other action is reported with no inputs, so its inputs go unchecked. */
const metadataProvider: ActionsMetadataProvider = {
  async fetchActionMetadata(ref: ActionReference): Promise<ActionMetadata | undefined> {
    const name = ref.path?.match(/^actions\/([^/]+)$/)?.[1]
    if (ref.name === 'gitops-lite' && name !== undefined) {
      if (!actionNames.includes(name)) return undefined // reported as "Unable to resolve action"
      const action = readActionYml(name)
      return {
        name: action.name ?? name,
        description: action.description ?? '',
        // An action.yml without an `inputs:` block (an action not written yet) makes the validator
        // skip the step's inputs; the check below then lists it as a todo.
        inputs: action.inputs as ActionMetadata['inputs'],
        outputs: (action.outputs ?? {}) as ActionMetadata['outputs']
      }
    }
    return { name: `${ref.owner}/${ref.name}`, description: '' }
  }
}

/** Reusable workflows called as ./.github/workflows/x.yml, read from the calling workflow's repository. */
function configFor(workflow: string): ValidationConfig {
  const repository = repositoryRootOf(workflow)
  return {
    actionsMetadataProvider: metadataProvider,
    fileProvider: {
      async getFileContent(ref) {
        if ('repository' in ref)
          throw new Error(`remote reusable workflow ${ref.owner}/${ref.repository}/${ref.path}@${ref.version}`)
        const path = resolve(repository, ref.path)
        if (!path.startsWith(repository + sep)) throw new Error(`${ref.path} leaves the repository`)
        return { name: ref.path, content: readFileSync(path, 'utf8') }
      }
    }
  }
}

/** The validator catches its own exceptions and logs them: collect them so a crash is a failure, not a pass. */
const validatorErrors: string[] = []
registerLogger({
  error: (message) => validatorErrors.push(message),
  warn: () => undefined,
  info: () => undefined,
  log: () => undefined
})

async function lint(path: string, config: ValidationConfig): Promise<string[]> {
  validatorErrors.length = 0
  const document = TextDocument.create(pathToFileURL(path).href, 'yaml', 1, readFileSync(path, 'utf8'))
  const diagnostics = await validate(document, config)
  // Parser errors carry no severity; 1 is Error, 2 Warning. Information and hints (3, 4) pass.
  const problems = diagnostics
    .filter((d) => d.severity === undefined || d.severity <= 2)
    .map((d) => `${rel(path)}:${d.range.start.line + 1}:${d.range.start.character + 1}: ${d.message}`)
  return [...problems, ...validatorErrors.map((message) => `${rel(path)}: validator failed: ${message}`)]
}

type Mapping = Record<string, unknown>
const isMapping = (value: unknown): value is Mapping =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

interface Step {
  uses?: string
  with?: Mapping
  [key: string]: unknown
}

interface Job {
  permissions?: unknown
  concurrency?: unknown
  steps?: Step[]
  uses?: string
  [key: string]: unknown
}

interface Workflow {
  on?: unknown
  'run-name'?: string
  permissions?: unknown
  jobs?: Record<string, Job>
}

function readWorkflow(path: string): Workflow {
  return parse(readFileSync(path, 'utf8')) as Workflow
}

/** Every step of every job that uses one of our actions. */
function ourSteps(workflow: Workflow): { job: string; jobDef: Job; step: Step; action: string; ref: string }[] {
  return Object.entries(workflow.jobs ?? {}).flatMap(([job, jobDef]) =>
    (jobDef.steps ?? []).flatMap((step) => {
      const match = typeof step.uses === 'string' ? OUR_ACTION.exec(step.uses) : null
      return match ? [{ job, jobDef, step, action: match[1], ref: match[2] }] : []
    })
  )
}

function triggers(workflow: Workflow): string[] {
  const on = workflow.on
  if (typeof on === 'string') return [on]
  if (Array.isArray(on)) return on.map(String)
  return isMapping(on) ? Object.keys(on) : []
}

/** A job's permission for a scope, or the workflow's when the job sets none. */
function permission(workflow: Workflow, job: Job, scope: string): string | undefined {
  const read = (value: unknown): string | undefined => {
    if (value === 'write-all') return 'write'
    if (value === 'read-all') return 'read'
    return isMapping(value) ? ((value[scope] as string | undefined) ?? 'none') : undefined
  }
  return read(job.permissions) ?? read(workflow.permissions)
}

const templateWorkflows = workflowFiles.filter((path) => path.startsWith(templatesDir + sep))

test('there are templates and actions to check', () => {
  expect(actionNames).toEqual(['bump-image-tag', 'dispatch-to-infra', 'ssh-surgical-deploy'])
  expect(templateWorkflows.map(rel)).toEqual(
    expect.arrayContaining([
      'templates/app-repo/.github/workflows/release.yml',
      'templates/infra-repo/.github/workflows/bump.yml',
      'templates/infra-repo/.github/workflows/deploy.yml',
      'templates/infra-repo-environments/.github/workflows/bump.yml',
      'templates/infra-repo-environments/.github/workflows/deploy.yml',
      'templates/infra-repo-environments/.github/workflows/promote.yml'
    ])
  )
  // Every one of our actions is used by some template.
  const used = new Set(templateWorkflows.flatMap((path) => ourSteps(readWorkflow(path)).map((s) => s.action)))
  expect([...used].sort()).toEqual(actionNames)
})

describe('GitHub workflow validator (@actions/languageservice)', () => {
  test.each(workflowFiles.map((path) => [rel(path), path]))('%s is a valid workflow', async (_name, path) => {
    expect(await lint(path, configFor(path))).toEqual([])
  })

  test.each(actionNames.map((name) => [`actions/${name}/action.yml`, join(actionsDir, name, 'action.yml')]))(
    '%s is valid action metadata',
    async (_name, path) => {
      expect(await lint(path, { actionsMetadataProvider: metadataProvider })).toEqual([])
    }
  )

  test('the validator sees a wrong input, a missing required input and a schema error', async () => {
    // Guards this suite against a validator that silently checks nothing.
    const dispatch = readActionYml('dispatch-to-infra')
    const missing = requiredInputs(dispatch)
    expect(missing.length).toBeGreaterThan(0)
    const text = [
      'on: push',
      'jobs:',
      '  a:',
      '    runs-on: ubuntu-24.04',
      '    stepz: []',
      '  b:',
      '    runs-on: ubuntu-24.04',
      '    steps:',
      '      - uses: OWNER/gitops-lite/actions/dispatch-to-infra@v1',
      '        with:',
      '          no-such-input: x',
      ''
    ].join('\n')
    const document = TextDocument.create('file:///repo/.github/workflows/bad.yml', 'yaml', 1, text)
    const messages = (await validate(document, { actionsMetadataProvider: metadataProvider })).map((d) => d.message)
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringContaining("'stepz'"),
        expect.stringContaining("Invalid action input 'no-such-input'"),
        expect.stringMatching(new RegExp(`Missing required inputs?:? .*${missing[0]}`))
      ])
    )
  })
})

describe('steps that use our actions', () => {
  const uses = workflowFiles.flatMap((path) => ourSteps(readWorkflow(path)).map((s) => ({ path, ...s })))
  // An action whose action.yml has no `inputs:` block yet (its issue not done) cannot be checked.
  const specified = (name: string): boolean => actionNames.includes(name) && readActionYml(name).inputs !== undefined
  for (const u of uses.filter((u) => !specified(u.action) && actionNames.includes(u.action))) {
    test.todo(`${rel(u.path)} (${u.job}: ${u.action}): actions/${u.action}/action.yml declares no inputs yet`)
  }
  const checkable = uses.filter((u) => specified(u.action) || !actionNames.includes(u.action))

  test.each(checkable.map((u) => [`${rel(u.path)} (${u.job}: ${u.action})`, u]))(
    '%s names only declared inputs and every required one',
    (_name, u) => {
      expect(actionNames).toContain(u.action)
      const action = readActionYml(u.action)
      const declared = Object.keys(action.inputs ?? {})
      const given = Object.keys(u.step.with ?? {})
      expect({ undeclared: given.filter((key) => !declared.includes(key)) }).toEqual({ undeclared: [] })
      expect({ missingRequired: requiredInputs(action).filter((key) => !given.includes(key)) }).toEqual({
        missingRequired: []
      })
      expect(u.ref).toBe('v1')
    }
  )
})

describe('action metadata', () => {
  test.each(actionNames)('%s documents every input and output and runs its bundle', (name) => {
    const action = readActionYml(name)
    const undocumented = [
      ...Object.entries(action.inputs ?? {})
        .filter(([, spec]) => !spec?.description?.trim())
        .map(([key]) => `input ${key}`),
      ...Object.entries(action.outputs ?? {})
        .filter(([, spec]) => !spec?.description?.trim())
        .map(([key]) => `output ${key}`)
    ]
    expect(undocumented).toEqual([])
    expect(action.runs).toEqual({ using: 'node24', main: `../../dist/${name}/index.js` })
  })
})

describe('pipeline rules in the templates', () => {
  const workflows = templateWorkflows.map((path) => ({ name: rel(path), path, workflow: readWorkflow(path) }))

  test.each(
    workflows.filter((w) => triggers(w.workflow).includes('repository_dispatch')).map((w) => [w.name, w.workflow])
  )('%s names its run after the correlation id, so `wait: true` finds it', (_name, workflow) => {
    expect(workflow['run-name']).toMatch(/\$\{\{[^}]*github\.event\.client_payload\.correlation_id[^}]*\}\}/)
  })

  test.each(workflows.map((w) => [w.name, w.workflow]))(
    '%s: deploy and bump jobs are queued per environment, never cancelled',
    (_name, workflow) => {
      for (const { job, jobDef, action } of ourSteps(workflow)) {
        if (action === 'dispatch-to-infra') continue
        const concurrency = jobDef.concurrency
        expect({ job, concurrency: isMapping(concurrency) }).toEqual({ job, concurrency: true })
        const { group, queue } = concurrency as Mapping
        expect({ job, group: typeof group === 'string' && group.length > 0 }).toEqual({ job, group: true })
        expect({ job, cancelInProgress: (concurrency as Mapping)['cancel-in-progress'] ?? false }).toEqual({
          job,
          cancelInProgress: false
        })
        expect({ job, queue }).toEqual({ job, queue: 'max' })
      }
    }
  )

  test.each(workflows.map((w) => [w.name, w.workflow]))('%s: tokens, permissions and host keys', (_name, workflow) => {
    for (const { job, jobDef, step, action } of ourSteps(workflow)) {
      const inputs = step.with ?? {}
      if (action === 'dispatch-to-infra') {
        // The workflow token cannot reach another repository: a secret or a minted App token.
        expect({ job, token: inputs.token }).toEqual({
          job,
          token: expect.stringMatching(/^\$\{\{\s*(secrets\.(?!GITHUB_TOKEN)\w+|steps\.[\w-]+\.outputs\.token)\s*\}\}$/)
        })
      }
      if (action === 'bump-image-tag') {
        expect({ job, contents: permission(workflow, jobDef, 'contents') }).toEqual({ job, contents: 'write' })
        if (String(inputs['pull-request']) === 'true') {
          expect({ job, pullRequests: permission(workflow, jobDef, 'pull-requests') }).toEqual({
            job,
            pullRequests: 'write'
          })
        }
      }
      if (action === 'ssh-surgical-deploy') {
        expect({ job, insecure: inputs['insecure-skip-host-key-check'] ?? false }).toEqual({ job, insecure: false })
        expect({ job, hostKey: Boolean(inputs['known-hosts'] || inputs.fingerprint) }).toEqual({ job, hostKey: true })
        for (const secret of ['key', 'passphrase', 'proxy-key']) {
          if (inputs[secret] !== undefined)
            expect({ job, [secret]: inputs[secret] }).toEqual({
              job,
              [secret]: expect.stringMatching(/^\$\{\{\s*secrets\.\w+\s*\}\}$/)
            })
        }
      }
    }
  })

  test('the workflow-level permissions are read-only; jobs ask for what they write', () => {
    for (const { name, workflow } of workflows) {
      const granted = isMapping(workflow.permissions)
        ? Object.entries(workflow.permissions)
            .filter(([, level]) => level === 'write')
            .map(([scope]) => scope)
        : []
      const allowed = name.startsWith('templates/app-repo/') ? ['packages'] : []
      expect({ name, writes: granted.filter((scope) => !allowed.includes(scope)) }).toEqual({ name, writes: [] })
      expect({ name, permissions: workflow.permissions !== undefined }).toEqual({ name, permissions: true })
    }
  })
})

describe('template compose files', () => {
  test('there are compose files', () => {
    expect(composeFiles.map(rel)).toEqual(
      expect.arrayContaining([
        'templates/infra-repo/compose.yaml',
        'templates/infra-repo-environments/environments/staging/compose.yaml',
        'templates/infra-repo-environments/environments/production/compose.yaml'
      ])
    )
  })

  test.each(composeFiles.map((path) => [rel(path), path]))(
    '%s: every service has a pinned image and a healthcheck, secrets in .<service>.env',
    (_name, path) => {
      const data = parse(readFileSync(path, 'utf8')) as { services: Record<string, Mapping> }
      for (const [service, definition] of Object.entries(data.services)) {
        expect({ service, image: definition.image }).toEqual({
          service,
          image: expect.stringMatching(/^[^\s$@]+:[^\s:/$@]+(@sha256:[0-9a-f]{64})?$/)
        })
        expect({ service, image: definition.image }).not.toEqual({ service, image: expect.stringMatching(/:latest$/) })
        expect({ service, healthcheck: isMapping(definition.healthcheck) }).toEqual({ service, healthcheck: true })
        if (definition.env_file !== undefined)
          expect({ service, envFile: definition.env_file }).toEqual({ service, envFile: `.${service}.env` })
      }
    }
  )

  test.each(composeFiles.map((path) => [rel(path), path]))(
    '%s: bump-image-tag can update each ghcr.io image by one line',
    (_name, path) => {
      const text = readFileSync(path, 'utf8')
      const data = parse(text) as { services: Record<string, { image: string }> }
      const ours = Object.entries(data.services).filter(([, definition]) => definition.image.startsWith('ghcr.io/'))
      expect(ours.length).toBeGreaterThan(0)
      for (const [service] of ours) {
        const plan = planImageBump({ files: [{ path: rel(path), text }], targets: [{ service, tag: 'v9.9.9' }] })
        expect(plan.files).toHaveLength(1)
        const changed = plan.files[0].after.split('\n').filter((line, index) => line !== text.split('\n')[index])
        expect(changed).toEqual([expect.stringMatching(/^\s+image: ghcr\.io\/[^\s:]+:v9\.9\.9$/)])
      }
    }
  )
})

describe('templates/README.md', () => {
  test('documents the placeholders and every secret and variable the templates read', () => {
    const readme = readFileSync(join(templatesDir, 'README.md'), 'utf8')
    expect(readme).toContain('OWNER')
    const names = new Set(
      templateWorkflows.flatMap((path) =>
        [...readFileSync(path, 'utf8').matchAll(/\b(?:secrets|vars)\.([A-Z][A-Z0-9_]*)/g)].map((m) => m[1])
      )
    )
    names.delete('GITHUB_TOKEN')
    expect([...names].filter((name) => !readme.includes(name))).toEqual([])
  })
})
