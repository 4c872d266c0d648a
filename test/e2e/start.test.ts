// `npm start` and `npm run check-config` start from the transpiled dist/ without compiling when it
// is current, and transpile (esbuild, no type-check) only when a source is newer than the build.
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { cpSync, existsSync, mkdtempSync, rmSync, utimesSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { childEnv, freePort } from '../support/helper.js'
import { FakeStripe } from '../support/fake-stripe.js'

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

// In this file, after the test above: both build dist/, and must not build it at the same moment.
t.test('the production install as the image ships it starts with and without a terminal', {
  skip: spawnSync('script', ['--version']).status === 0 ? false : 'util-linux `script` (for a terminal) is missing'
}, async t => {
  t.equal(spawnSync(process.execPath, ['scripts/build.mjs'], { encoding: 'utf8' }).status, 0, 'the build succeeds')
  // what the Dockerfile keeps: `npm ci` then `npm prune --omit=dev`, dist/, package.json, healthcheck.mjs
  // outside the checkout: Node would otherwise find the devDependencies in ./node_modules up the tree
  const dir = mkdtempSync(join(tmpdir(), 'production-install-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  for (const f of ['package.json', 'package-lock.json', 'healthcheck.mjs', 'dist', 'node_modules']) {
    cpSync(f, join(dir, f), { recursive: true, verbatimSymlinks: true })
  }
  const pruned = spawnSync('npm', ['prune', '--omit=dev', '--no-audit', '--no-fund'], { cwd: dir, encoding: 'utf8' })
  t.equal(pruned.status, 0, pruned.stderr)
  t.notOk(existsSync(join(dir, 'node_modules', 'pino-pretty')), 'no devDependency is installed')
  const fake = await new FakeStripe().start()
  t.teardown(async () => { await fake.stop() })

  for (const terminal of [false, true]) {
    const port = await freePort()
    const env = childEnv({
      PORT: String(port),
      HOST: '127.0.0.1',
      NODE_ENV: 'production',
      DATABASE_URL: `sqlite:${join(dir, `data-${String(terminal)}.db`)}`,
      STRIPE_TEST_SECRET_KEY: 'sk_test_123',
      STRIPE_API_BASE: fake.url
    })
    // `script` gives the server a terminal (a pty) for its stdout, as `docker run -it` does
    const [command, args] = terminal
      ? ['script', ['-qfec', `${process.execPath} dist/server.js`, '/dev/null']]
      : [process.execPath, ['dist/server.js']]
    const child = spawn(command, args, { cwd: dir, env, stdio: ['pipe', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', d => { output += String(d) })
    child.stderr.on('data', d => { output += String(d) })
    const exited = once(child, 'exit')
    const base = `http://127.0.0.1:${port}`
    let health = 0
    for (let i = 0; i < 100 && health !== 200 && child.exitCode === null; i++) {
      await new Promise(resolve => setTimeout(resolve, 100))
      health = await fetch(`${base}/health`).then(r => r.status, () => 0)
    }
    const what = terminal ? 'at a terminal' : 'without a terminal'
    t.equal(health, 200, `${what}: /health answers (${output.slice(0, 300)})`)
    t.equal((await fetch(`${base}/ready`)).status, 200, `${what}: /ready`)
    const check = spawnSync(process.execPath, ['healthcheck.mjs'], { cwd: dir, env: { PORT: String(port) } })
    t.equal(check.status, 0, `${what}: the HEALTHCHECK`)
    const token = await fetch(`${base}/connection_token`, { method: 'POST' })
    t.equal(token.status, 200, `${what}: a Terminal call`)
    t.match(await token.json(), { secret: /^pst_test_/ })
    child.kill('SIGTERM')
    await exited
  }
})
