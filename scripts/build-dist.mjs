// Bundles every action into dist/<action>/ with ncc, exactly what the runner executes.
// `--check` rebuilds into a temporary folder and fails when the committed dist/ differs.
// Action names as arguments limit the run to those actions.
import ncc from '@vercel/ncc'
import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const root = resolve(import.meta.dirname, '..')
const check = process.argv.includes('--check')

// ssh2's bundled poly1305 wasm loader reads the CommonJS `__dirname`, which an ES module lacks.
const banner = [
  "import { dirname as __gitopsLiteDirname } from 'node:path';",
  "import { fileURLToPath as __gitopsLiteFileURLToPath } from 'node:url';",
  'const __dirname = __gitopsLiteDirname(__gitopsLiteFileURLToPath(import.meta.url));',
  ''
].join('\n')

// pagent.exe is ssh2's helper for Windows' Pageant agent, which these actions never use.
const droppedAssets = new Set(['pagent.exe'])

// Source files read as text (the host-side .sh) are inlined as string literals, so each action's
// dist/ is its bundle and needs no copy of them. ncc relocates `readFileSync(new URL(...), 'utf8')`
// to `readFileSync(__nccwpck_require__.ab + "<name>", 'utf8')`; any other use is an error.
const textAsset = /\.sh$/
function inlineTextAssets(action, code, assets) {
  for (const [name, asset] of Object.entries(assets)) {
    if (!textAsset.test(name)) continue
    const path = `__nccwpck_require__.ab + ${JSON.stringify(name)}`
    const call = `(${path}, 'utf8')`
    const read = new RegExp(
      String.raw`\(0,\s*[\w$]+\.readFileSync\)` + call.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
      'g'
    )
    code = code.replace(read, () => JSON.stringify(asset.source.toString('utf8')))
    if (code.includes(path))
      throw new Error(`${action}: ${name} is used other than as readFileSync(..., 'utf8'); cannot inline it`)
    delete assets[name]
  }
  return code
}

async function bundle(action, outDir) {
  const entry = join(root, 'actions', action, 'src', 'index.ts')
  // transpileOnly: type errors are the typecheck step's job, and must not block every bundle.
  const { code: bundled, assets } = await ncc(entry, {
    quiet: true,
    sourceMap: false,
    minify: false,
    transpileOnly: true,
    license: 'licenses.txt'
  })
  const code = inlineTextAssets(action, bundled, assets)
  await rm(outDir, { recursive: true, force: true })
  await mkdir(outDir, { recursive: true })
  await writeFile(join(outDir, 'index.js'), banner + code)
  for (const [name, asset] of Object.entries(assets)) {
    if (droppedAssets.has(name)) continue
    if (name.endsWith('.node'))
      throw new Error(`${action}: the bundle would ship the native addon ${name}; dist/ must be pure JavaScript`)
    const target = join(outDir, name)
    await mkdir(resolve(target, '..'), { recursive: true })
    await writeFile(target, asset.source)
  }
}

async function listFiles(dir, prefix = '') {
  const files = []
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const rel = join(prefix, entry.name)
    if (entry.isDirectory()) files.push(...(await listFiles(join(dir, entry.name), rel)))
    else files.push(rel)
  }
  return files.sort()
}

const allActions = (await readdir(join(root, 'actions'), { withFileTypes: true }))
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort()
const named = process.argv.slice(2).filter((arg) => !arg.startsWith('--'))
for (const name of named) {
  if (!allActions.includes(name)) throw new Error(`No action '${name}'; the actions are ${allActions.join(', ')}`)
}
const actions = named.length > 0 ? named : allActions

if (!check) {
  for (const action of actions) {
    await bundle(action, join(root, 'dist', action))
    console.log(`built dist/${action}`)
  }
} else {
  const scratch = await mkdtemp(join(tmpdir(), 'gitops-lite-dist-'))
  const stale = []
  for (const action of actions) {
    const fresh = join(scratch, action)
    const committed = join(root, 'dist', action)
    await bundle(action, fresh)
    const freshFiles = await listFiles(fresh)
    const committedFiles = await listFiles(committed).catch(() => [])
    if (freshFiles.join('\n') !== committedFiles.join('\n')) {
      stale.push(`${action}: files differ (${freshFiles.join(', ')} vs ${committedFiles.join(', ') || 'none'})`)
      continue
    }
    for (const file of freshFiles) {
      const [a, b] = await Promise.all([readFile(join(fresh, file)), readFile(join(committed, file))])
      if (!a.equals(b)) stale.push(`${action}: dist/${action}/${file} differs from a fresh build`)
    }
  }
  await rm(scratch, { recursive: true, force: true })
  if (stale.length > 0) {
    console.error(`dist/ is out of date:\n  ${stale.join('\n  ')}\nRun 'pnpm run build' and commit dist/.`)
    process.exit(1)
  }
  console.log(`dist/ matches a fresh build of ${actions.length} actions`)
}
