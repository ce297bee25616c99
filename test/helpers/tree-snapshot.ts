import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { lstat, readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'

/** Every path under `dir` with its mode, modification time and content digest: what a refused run must not change. */
export async function treeSnapshot(dir: string): Promise<string[]> {
  const entries: string[] = []
  const walk = async (path: string, rel: string): Promise<void> => {
    const info = await lstat(path)
    const digest = info.isFile()
      ? createHash('sha256')
          .update(await readFile(path))
          .digest('hex')
      : ''
    entries.push(`${rel} ${info.mode.toString(8)} ${info.mtimeMs} ${digest}`)
    if (info.isDirectory())
      for (const name of (await readdir(path)).sort()) await walk(join(path, name), `${rel}/${name}`)
  }
  if (existsSync(dir)) await walk(dir, '.')
  return entries
}
