// `npm start` and `npm run check-config` start from the transpiled dist/ without compiling when it
// is current, and transpile (esbuild, no type-check) only when a source is newer than the build.
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { utimesSync, readFileSync } from 'node:fs'
import t from 'tap'
import { childEnv, freePort } from '../helper.js'

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }

t.test('npm start and check-config run the launcher, never tsc', async t => {
  for (const name of ['start', 'check-config']) {
    t.notMatch(pkg.scripts[name], /tsc|run build/, `${name} does not compile before it runs`)
    t.match(pkg.scripts[name], /^node scripts\/build\.mjs --run /, `${name} goes through the launcher`)
  }
})

t.test('a current build starts without transpiling; a stale one is transpiled first', async t => {
  const built = spawnSync(process.execPath, ['scripts/build.mjs'], { encoding: 'utf8' })
  t.equal(built.status, 0, 'the build succeeds')
  t.match(built.stderr, /built dist\//)

  const current = spawnSync(process.execPath, ['scripts/build.mjs', '--run', 'scripts/check-config'], {
    encoding: 'utf8',
    env: childEnv({})
  })
  t.equal(current.status, 0, 'check-config passes in development')
  t.notMatch(current.stderr, /built dist/, 'nothing was transpiled: the build was current')
  t.match(current.stdout, /mode: development/)

  // the build stamp older than every source: the launcher transpiles, then serves
  utimesSync('dist/.built', new Date(0), new Date(0))
  const port = await freePort()
  const env = childEnv({ PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: 'sqlite::memory:', LOG_LEVEL: 'warn' })
  const child = spawn(process.execPath, ['scripts/build.mjs', '--run', 'server'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let err = ''
  child.stderr.on('data', d => {
    err += String(d)
  })
  const exited = once(child, 'exit')
  let status = 0
  for (let i = 0; i < 100 && status !== 200; i++) {
    await new Promise(resolve => setTimeout(resolve, 100))
    status = await fetch(`http://127.0.0.1:${port}/health`).then(
      r => r.status,
      () => 0
    )
  }
  t.equal(status, 200, 'the server answers /health')
  t.match(err, /built dist\/ in \d+ ms/, 'the stale build was transpiled first')
  child.kill('SIGTERM')
  t.equal((await exited)[0], 0, 'exit 0 on SIGTERM')
})
