// Transpiles the TypeScript sources to dist/ with esbuild (one file in, one file out, no bundling,
// no type-check: `npm test` type-checks). About a second for the whole tree, so `npm start` can
// build when a source changed and start at once when nothing did.
//   node scripts/build.mjs                 build everything
//   node scripts/build.mjs --run ENTRY …   build if stale, then run dist/ENTRY.js in this process
import { readdirSync, statSync, writeFileSync, existsSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const DIRS = ['lib', 'plugins', 'routes', 'schemas', 'scripts']
const STAMP = join(root, 'dist', '.built')

function sources () {
  const files = readdirSync(root).filter(f => f.endsWith('.ts')).map(f => join(root, f))
  const walk = dir => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) files.push(path)
    }
  }
  for (const d of DIRS) if (existsSync(join(root, d))) walk(join(root, d))
  return files
}

function stale (files) {
  if (!existsSync(STAMP)) return true
  const built = statSync(STAMP).mtimeMs
  return files.some(f => statSync(f).mtimeMs > built) || statSync(join(root, 'package-lock.json')).mtimeMs > built
}

async function build (files) {
  const started = Date.now()
  const { build: esbuild } = await import('esbuild')
  await esbuild({
    entryPoints: files.map(f => relative(root, f)),
    absWorkingDir: root,
    outdir: 'dist',
    outbase: '.',
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: true,
    logLevel: 'warning'
  })
  writeFileSync(STAMP, new Date().toISOString())
  return Date.now() - started
}

const args = process.argv.slice(2)
const files = sources()
if (args[0] === '--run') {
  if (stale(files)) {
    const ms = await build(files)
    console.error(`built dist/ in ${ms} ms`)
  }
  process.argv.splice(2, 2)
  await import(pathToFileURL(join(root, 'dist', `${args[1]}.js`)).href)
} else {
  const ms = await build(files)
  console.error(`built dist/ (${files.length} files) in ${ms} ms`)
}
