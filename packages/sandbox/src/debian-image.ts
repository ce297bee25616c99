import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ensureDocker, imageExists } from './docker'
import { exec } from './exec'

/** A Debian root filesystem made by debootstrap, imported as an image: real packages, no public registry. */
export interface DebianImageSpec {
  /** Debian packages on top of the minbase variant, e.g. ['nginx-light']. */
  packages: readonly string[]
  /** Default bookworm (Debian 12). */
  suite?: string
  /** Default http://deb.debian.org/debian. */
  mirror?: string
  /** `docker import --change` lines, e.g. 'CMD ["nginx", "-g", "daemon off;"]'. */
  changes?: readonly string[]
}

const debianMirror = 'http://deb.debian.org/debian'

/**
 * The image's tag: the same spec always gives the same tag, so an image built once stays in the
 * engine and later runs skip the one to two minutes debootstrap takes.
 */
export function debianImageTag(spec: DebianImageSpec): string {
  const suite = spec.suite ?? 'bookworm'
  const key = JSON.stringify({
    suite,
    mirror: spec.mirror ?? debianMirror,
    packages: [...spec.packages].sort(),
    changes: spec.changes ?? []
  })
  return `local/debian-${suite}:${createHash('sha256').update(key).digest('hex').slice(0, 12)}`
}

const building = new Map<string, Promise<string>>()

/** Builds the image unless the engine has it (debootstrap --variant=minbase, then docker import); returns its tag. */
export function ensureDebianImage(spec: DebianImageSpec): Promise<string> {
  const tag = debianImageTag(spec)
  let ready = building.get(tag)
  if (!ready) {
    ready = buildDebianImage(spec, tag).catch((error: unknown) => {
      building.delete(tag)
      throw error
    })
    building.set(tag, ready)
  }
  return ready
}

async function buildDebianImage(spec: DebianImageSpec, tag: string): Promise<string> {
  await ensureDocker()
  if (await imageExists(tag)) return tag
  // /usr/sbin is not on every PATH that reaches here.
  const debootstrap = ['/usr/sbin/debootstrap', '/usr/bin/debootstrap'].find((path) => existsSync(path))
  if (!debootstrap)
    throw new Error(`debootstrap is not installed, and ${tag} needs it; run scripts/install-prereqs.sh as root`)
  const work = await mkdtemp(join(tmpdir(), 'gitops-lite-debian-'))
  try {
    const rootfs = join(work, 'rootfs')
    const include = spec.packages.length > 0 ? [`--include=${spec.packages.join(',')}`] : []
    const built = await exec(
      debootstrap,
      ['--variant=minbase', ...include, spec.suite ?? 'bookworm', rootfs, spec.mirror ?? debianMirror],
      { allowFailure: true, timeoutMs: 15 * 60_000 }
    )
    if (built.code !== 0) {
      throw new Error(
        `debootstrap of ${spec.packages.join(', ') || 'a minimal Debian'} failed:\n${(built.stdout + built.stderr).trim().split('\n').slice(-15).join('\n')}`
      )
    }
    // The apt lists and package cache are only needed to install: leave them out of the image.
    await rm(join(rootfs, 'var', 'cache', 'apt', 'archives'), { recursive: true, force: true })
    await rm(join(rootfs, 'var', 'lib', 'apt', 'lists'), { recursive: true, force: true })
    const tarball = join(work, 'rootfs.tar')
    await exec('tar', ['-C', rootfs, '--numeric-owner', '-cf', tarball, '.'])
    const changes = ['ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ...(spec.changes ?? [])]
    await exec('docker', ['import', ...changes.flatMap((change) => ['--change', change]), tarball, tag])
    return tag
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}
