import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  statSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeFileAtomic } from '../../../../actions/bump-image-tag/src/files'

describe('writeFileAtomic', () => {
  it('replaces the content, keeping the mode and leaving no temporary file', async () => {
    const dir = realpathSync(mkdtempSync(join(tmpdir(), 'atomic-')))
    const file = join(dir, 'compose.yaml')
    writeFileSync(file, 'old', { mode: 0o640 })
    expect(await writeFileAtomic(file, 'new')).toBe(file)
    expect(readFileSync(file, 'utf8')).toBe('new')
    expect(statSync(file).mode & 0o777).toBe(0o640)
    expect(readdirSync(dir)).toEqual(['compose.yaml'])
  })

  it('writes through a symbolic link: the link stays a link, its target gets the text', async () => {
    const dir = realpathSync(mkdtempSync(join(tmpdir(), 'atomic-')))
    mkdirSync(join(dir, 'prod'))
    writeFileSync(join(dir, 'prod', 'compose.yaml'), 'old')
    symlinkSync(join('prod', 'compose.yaml'), join(dir, 'compose.yaml'))
    expect(await writeFileAtomic(join(dir, 'compose.yaml'), 'new')).toBe(join(dir, 'prod', 'compose.yaml'))
    expect(lstatSync(join(dir, 'compose.yaml')).isSymbolicLink()).toBe(true)
    expect(readlinkSync(join(dir, 'compose.yaml'))).toBe(join('prod', 'compose.yaml'))
    expect(readFileSync(join(dir, 'prod', 'compose.yaml'), 'utf8')).toBe('new')
    expect(readdirSync(dir).sort()).toEqual(['compose.yaml', 'prod'])
    expect(readdirSync(join(dir, 'prod'))).toEqual(['compose.yaml'])
  })
})
