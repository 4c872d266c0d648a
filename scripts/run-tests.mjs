// `npm test`'s tap run with the database and cache services found: TEST_DATABASE_URL and
// TEST_REDIS_URL when set, else this machine's own PostgreSQL and Redis on 127.0.0.1 when they
// answer. The first line says which, and what skips without them, so nothing skips silently.
// (Not named test.mjs: tap takes a file of that name for a test file, and would run itself.)
import { spawn } from 'node:child_process'
import { createConnection } from 'node:net'

const LOCAL = { TEST_DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test', TEST_REDIS_URL: 'redis://127.0.0.1:6379' }

/** true when a PostgreSQL at `url` lets us in (within 2 s) */
async function postgres (url) {
  const { default: pg } = await import('pg')
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 })
  try {
    await client.connect()
    await client.query('select 1')
    return true
  } catch {
    return false
  } finally {
    await client.end().catch(() => {})
  }
}

/** true when a Redis at `url` answers PING (within 2 s) */
function redis (url) {
  const { hostname, port } = new URL(url)
  return new Promise(resolve => {
    const socket = createConnection({ host: hostname, port: Number(port || 6379) })
    const done = ok => { socket.destroy(); resolve(ok) }
    socket.setTimeout(2000, () => done(false))
    socket.on('error', () => done(false))
    socket.on('connect', () => socket.write('PING\r\n'))
    socket.on('data', d => done(String(d).startsWith('+PONG')))
  })
}

const env = { ...process.env }
const said = []
// `--no-services` (npm run test:unit): in-process only, whatever this machine runs
const args = process.argv.slice(2)
const noServices = args.includes('--no-services')
for (const [name, probe, what] of [['TEST_DATABASE_URL', postgres, 'PostgreSQL'], ['TEST_REDIS_URL', redis, 'Redis']]) {
  if (noServices) {
    delete env[name]
    said.push(`${what}: not used (--no-services), its tests SKIP`)
  } else if (env[name] !== undefined) {
    said.push(`${what}: ${name} as set`)
  } else if (await probe(LOCAL[name])) {
    env[name] = LOCAL[name]
    said.push(`${what}: found at ${LOCAL[name]}`)
  } else {
    said.push(`${what}: none found, its tests SKIP (set ${name} to run them)`)
  }
}
console.log(`# services: ${said.join('; ')}`)
const run = new URL('../node_modules/tap/dist/esm/run.mjs', import.meta.url).pathname
const tap = spawn(process.execPath, [run, ...args.filter(a => a !== '--no-services')], { env, stdio: 'inherit' })
tap.on('exit', code => process.exit(code ?? 1))
