import { randomBytes } from 'node:crypto'
import { chmod, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { decodeUtf8 } from '@gitops-lite/core'

/** A compose or env file's text; refused unless it is UTF-8. `name` is how messages show it. */
export async function readText(path: string, name: string): Promise<string> {
  return decodeUtf8(await readFile(path), name)
}

/** Like readText, or undefined when the file does not exist. */
export async function readOptional(path: string, name: string): Promise<string | undefined> {
  try {
    return await readText(path, name)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
}

/**
 * Replaces a file's content atomically: a temporary file in the same folder (same file system,
 * same mode) renamed over it, so a reader or a crash never sees half a file. A symbolic link is
 * followed, so the link stays a link and its target gets the text. Returns the path written.
 */
export async function writeFileAtomic(path: string, text: string): Promise<string> {
  const target = await realpath(path)
  const temporary = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`)
  try {
    await writeFile(temporary, text, { flag: 'wx' })
    await chmod(temporary, (await stat(target)).mode & 0o7777)
    await rename(temporary, target)
  } catch (error) {
    await rm(temporary, { force: true })
    throw error
  }
  return target
}
