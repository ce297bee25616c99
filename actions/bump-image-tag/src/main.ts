import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname, join, relative } from 'node:path'
import * as core from '@actions/core'
import {
  GitCommandManager,
  Inputs,
  UserError,
  createGitHubClient,
  looksLikeWorkflowToken,
  openPullRequest,
  planImageBump,
  planRestore,
  publish,
  readRunnerContext,
  runAction,
  bumpDiff,
  log,
  type BumpPlan,
  type BumpTarget,
  type RunnerContext
} from '@gitops-lite/core'
import { readOptional, readText, writeFileAtomic } from './files'
import { checkUpdateRegistry, locateFiles, readSettings, type FileSet, type Settings } from './input-helper'
import { bumpOutputs } from './outcome'
import { readPromotion } from './promotion'
import { commitMessage, pullRequestBranch, summaryMarkdown } from './report'

export async function run(): Promise<void> {
  await runAction(async () => {
    const runner = readRunnerContext()
    const settings = readSettings(new Inputs(), {
      workspace: runner.workspace,
      eventName: runner.eventName,
      eventPayload: runner.eventPath ? JSON.parse(await readFile(runner.eventPath, 'utf8')) : {},
      repository: runner.repository
    })
    await bumpImageTag(settings, runner)
  })
}

const remote = 'origin'

/**
 * Checks out 'branch' from the remote when another branch (or none) is checked out, so that the
 * files are found, planned and committed on it; a dry run reads it too, and pushes nothing.
 * Returns what was checked out before (a branch, or a commit on a detached HEAD) when it switched.
 */
async function checkOutBranch(git: GitCommandManager, branch: string): Promise<string | undefined> {
  if (branch === '') return undefined
  await git.topLevel()
  const previous = await git.currentBranch()
  if (previous === branch) return undefined
  const before = previous ?? (await git.headSha())
  log.info(`Checking out '${branch}' from ${remote}`)
  await git.checkoutBranch(branch, await git.fetch(remote, branch))
  return before
}

/** The folder, or its nearest parent that exists: git runs there, since 'branch' may add the rest. */
function existingFolder(path: string): string {
  return existsSync(path) ? path : existingFolder(dirname(path))
}

/**
 * Reads the files as they are now and plans the edit; pure apart from reading. A restore plans
 * only what still holds the failed image, so each attempt on a moved branch checks again.
 */
async function planFromDisk(settings: Settings, paths: FileSet, targets: BumpTarget[]): Promise<BumpPlan> {
  const display = (path: string): string => relative(settings.workspace, path)
  const files = await Promise.all(
    paths.files.map(async (path) => ({ path: display(path), text: await readText(path, display(path)) }))
  )
  const envFile = { path: display(paths.envFile), text: await readOptional(paths.envFile, display(paths.envFile)) }
  let plan: BumpPlan
  if (settings.restore) {
    checkRestoreFiles(
      settings.restore,
      files.map((f) => f.path)
    )
    const restore = planRestore({ files, envFile, images: settings.restore })
    for (const kept of restore.kept) log.info(`${kept.service}: not written back, ${kept.reason}`)
    plan = restore.plan
  } else plan = planImageBump({ files, envFile, targets })
  for (const update of plan.updates) {
    if (update.changed) checkUpdateRegistry(update, settings.allowedRegistries, envFile.path)
  }
  return plan
}

/** The deploy and this step must name the same compose files, or the images would go back to the wrong one. */
function checkRestoreFiles(images: NonNullable<Settings['restore']>, files: string[]): void {
  const other = images.find((image) => !files.includes(image.file))
  if (other) {
    throw new UserError(
      `Input 'restore' names ${other.file} for service '${other.service}', which is not among this step's compose files (${files.join(', ')})`,
      {
        fix: "Give 'files' the compose files the deploy uploaded (its 'files' input), paths from the repository root."
      }
    )
  }
}

/** The plan's diff for the log and the 'diff' output; the env file's shows only the changed variable. */
function diffOf(settings: Settings, paths: FileSet, plan: BumpPlan): string {
  return bumpDiff(plan.files, relative(settings.workspace, paths.envFile))
}

/**
 * Writes the plan's files; when one cannot be written, puts back those already written.
 * Returns the paths written, symbolic links followed: those are what git must commit.
 */
async function writePlan(settings: Settings, plan: BumpPlan): Promise<string[]> {
  const written: string[] = []
  for (const file of plan.files) {
    try {
      written.push(await writeFileAtomic(join(settings.workspace, file.path), file.after))
    } catch (error) {
      await restorePlan(settings, { ...plan, files: plan.files.slice(0, written.length) })
      throw error
    }
  }
  return written
}

/** Puts the plan's files back as they were read. */
async function restorePlan(settings: Settings, plan: BumpPlan): Promise<void> {
  for (const file of plan.files) await writeFileAtomic(join(settings.workspace, file.path), file.before)
}

async function bumpImageTag(settings: Settings, runner: RunnerContext): Promise<void> {
  const git = new GitCommandManager(existingFolder(settings.workingDirectory), (line) => log.debug(line))
  const previous = await checkOutBranch(git, settings.branch)
  try {
    await bumpOnBranch(settings, git, runner)
  } finally {
    // A dry run changes nothing, not even the branch the checkout is on.
    if (settings.dryRun && previous !== undefined) await git.checkout(previous)
  }
}

async function bumpOnBranch(settings: Settings, git: GitCommandManager, runner: RunnerContext): Promise<void> {
  let paths = locateFiles(settings)
  // Read once, before the first round: a retry on a moved branch promotes the same images.
  const promotion = settings.promotion && (await readPromotion({ ...settings, promotion: settings.promotion }))
  const promotedFrom =
    promotion && relative(settings.workspace, join(settings.workingDirectory, settings.promotion!.from))
  for (const source of promotion?.sources ?? [])
    log.info(`${source.service} runs ${source.image} in ${promotedFrom}:${source.line}`)
  const targets = promotion?.targets ?? settings.targets
  let plan = await planFromDisk(settings, paths, targets)
  for (const update of plan.updates) {
    log.info(
      `${update.service}: ${update.previous} -> ${update.changed ? update.image : 'unchanged'} (${update.file}:${update.line})`
    )
  }
  const report = (
    changed: boolean,
    outcome: string,
    extra: { commitSha?: string; pullRequestUrl?: string } = {}
  ): void => {
    const diff = changed ? diffOf(settings, paths, plan) : ''
    const outputs = bumpOutputs(plan.updates, { changed, ...extra, diff, promoted: Boolean(promotion) })
    for (const [name, value] of Object.entries(outputs)) core.setOutput(name, value)
    log.info(outcome)
    core.summary.addRaw(summaryMarkdown(plan.updates, outcome))
  }
  const finish = async (
    changed: boolean,
    outcome: string,
    extra?: { commitSha?: string; pullRequestUrl?: string }
  ): Promise<void> => {
    report(changed, outcome, extra)
    await core.summary.write()
  }

  if (plan.files.length === 0) {
    return finish(
      false,
      settings.restore
        ? 'No image to write back: nothing failed that Git still names.'
        : 'Every service is already at the requested image; nothing to do.'
    )
  }
  if (settings.dryRun) {
    log.fenced(diffOf(settings, paths, plan).replace(/\n$/, '').split('\n'))
    return finish(true, 'Dry run: the diff above was not applied.')
  }
  if (!settings.commit) {
    await writePlan(settings, plan)
    return finish(true, `Updated ${plan.files.map((f) => f.path).join(', ')} (not committed: commit is false).`)
  }

  await git.topLevel()
  const base = settings.branch || (await git.currentBranch())
  if (!base) {
    throw new UserError('The checkout is on a detached HEAD and no branch was given', {
      fix: "Set 'branch' to the branch to commit to, or check out a branch (actions/checkout with 'ref: main')."
    })
  }
  const head = settings.pullRequest ? pullRequestBranch(plan.updates, runner.runId, runner.runAttempt) : base
  const context = {
    environment: settings.environment,
    source: settings.source,
    promotedFrom,
    restore: settings.restore
  }
  const result = await publish({
    git,
    remote,
    base,
    head,
    // 'branch' is checked out already; a pull request's branch starts from the remote's base.
    startFromRemote: settings.pullRequest,
    push: settings.push,
    maxAttempts: settings.maxAttempts,
    author: settings.author,
    log: (line) => log.info(line),
    // The first round on the local checkout commits the plan made above: planning again would read the same files.
    apply: async (checkedOut) => {
      if (checkedOut) {
        // The branch moved: its files, and where their symbolic links lead, may differ from the last round's.
        paths = locateFiles(settings)
        plan = await planFromDisk(settings, paths, targets)
      }
      if (plan.files.length === 0) return undefined
      const written = plan
      return {
        paths: await writePlan(settings, written),
        message: commitMessage(settings.commitMessage, written.updates, context),
        undo: () => restorePlan(settings, written)
      }
    }
  })
  log.info(`Commit-and-push rounds: ${result.attempts}`)
  if (!result.commitSha)
    return finish(false, `${base} already has these images (another run landed them first); nothing to commit.`)
  if (!settings.push)
    return finish(true, `Committed ${result.commitSha} on ${head} (not pushed: push is false).`, {
      commitSha: result.commitSha
    })
  if (!settings.pullRequest)
    return finish(true, `Pushed ${result.commitSha} to ${head}.`, { commitSha: result.commitSha })

  const pullRequest = await openPullRequest(createGitHubClient({ token: settings.token, apiUrl: runner.apiUrl }), {
    repository: settings.repository!,
    head,
    base,
    title: commitMessage(settings.commitMessage, plan.updates, context).split('\n')[0],
    body: summaryMarkdown(plan.updates, `Opened by gitops-lite bump-image-tag from commit ${result.commitSha}.`),
    workflowToken: looksLikeWorkflowToken(settings.token)
  })
  return finish(true, `Opened pull request ${pullRequest.url} from ${head} into ${base}.`, {
    commitSha: result.commitSha,
    pullRequestUrl: pullRequest.url
  })
}
