import { mkdir, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { exec } from './exec'

/** Identity for commits the sandbox makes itself; passed with -c, never written to any config. */
const sandboxIdentity = [
  '-c',
  'user.name=gitops-lite sandbox',
  '-c',
  'user.email=sandbox@gitops-lite.invalid',
  '-c',
  'commit.gpgsign=false'
]

export interface CreateGitRemoteOptions {
  /** The bare repository is created at <dir>/remote.git. */
  dir: string
  /** Path in the repository -> content of the initial commit. */
  files: Record<string, string>
  branch?: string
  message?: string
}

export interface GitRemote {
  /** Path of the bare repository; usable as a clone URL. */
  bareDir: string
  branch: string
  /** Clones the remote into targetDir (checked out at `branch`) and returns targetDir. */
  clone(targetDir: string): Promise<string>
  /** Commit hash at the tip of `branch` in the remote. */
  head(): Promise<string>
}

/** A bare git repository holding one commit with `files`, like a GitHub repo for the actions to clone and push to. */
export async function createGitRemote(options: CreateGitRemoteOptions): Promise<GitRemote> {
  const branch = options.branch ?? 'main'
  const bareDir = join(options.dir, 'remote.git')
  const seedDir = join(options.dir, 'seed')
  await exec('git', ['init', '-q', '--bare', '--initial-branch', branch, bareDir])

  await mkdir(seedDir, { recursive: true })
  await exec('git', ['init', '-q', '--initial-branch', branch, seedDir])
  for (const [path, content] of Object.entries(options.files)) {
    await mkdir(dirname(join(seedDir, path)), { recursive: true })
    await writeFile(join(seedDir, path), content)
  }
  await exec('git', ['-C', seedDir, 'add', '--all'])
  await exec('git', [
    '-C',
    seedDir,
    ...sandboxIdentity,
    'commit',
    '-q',
    '--allow-empty',
    '-m',
    options.message ?? 'Initial commit'
  ])
  await exec('git', ['-C', seedDir, 'push', '-q', bareDir, `HEAD:refs/heads/${branch}`])
  await rm(seedDir, { recursive: true, force: true })

  return {
    bareDir,
    branch,
    async clone(targetDir: string) {
      await exec('git', ['clone', '-q', '--branch', branch, bareDir, targetDir])
      return targetDir
    },
    async head() {
      return (await exec('git', ['-C', bareDir, 'rev-parse', `refs/heads/${branch}`])).stdout.trim()
    }
  }
}
