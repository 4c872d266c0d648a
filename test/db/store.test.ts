import t from 'tap'
import { sql } from 'kysely'
import { openDatabase } from '../../db/connect.js'
import { migrate, migrations } from '../../db/migrations.js'
import { build, needs, pgUrl, TEST_DATABASE_URL } from '../support/helper.js'

const TABLES = [
  'app_settings', 'installations', 'merchant_keys', 'nonces', 'owned_objects', 'reader_action_events', 'reader_actions',
  'schema_migrations', 'webhook_events'
]

t.test('migrations on SQLite: applied once, idempotent', async t => {
  const { db } = openDatabase('sqlite::memory:')
  t.teardown(() => db.destroy())
  t.same(
    await migrate(db, false),
    migrations.map(m => m[0])
  )
  t.same(await migrate(db, false), [], 'a second run applies nothing')
  const tables = await sql<{ name: string }>`select name from sqlite_master where type = 'table' order by name`.execute(db)
  t.same(
    tables.rows.map(r => r.name).filter(n => !n.startsWith('sqlite_')),
    TABLES
  )
})

t.test('the SQLite file and its directory are created on first start', async t => {
  const dir = t.testdir({})
  const { app } = await build(t, { env: { DATABASE_URL: `sqlite:${dir}/nested/app.db` } })
  t.equal((await app.inject({ method: 'GET', url: '/ready' })).statusCode, 200)
})

t.test('migrations on Postgres, twice concurrently, without error', needs('TEST_DATABASE_URL', TEST_DATABASE_URL), async t => {
  const url = (await pgUrl(t))!
  const a = openDatabase(url)
  const b = openDatabase(url)
  t.teardown(async () => {
    await a.db.destroy()
    await b.db.destroy()
  })
  const [ra, rb] = await Promise.all([migrate(a.db, true), migrate(b.db, true)])
  t.same(
    [...ra, ...rb],
    migrations.map(m => m[0]),
    'exactly one replica applied each migration'
  )
  const tables = await sql<{
    tablename: string
  }>`select tablename from pg_tables where schemaname = current_schema() order by tablename`.execute(a.db)
  t.same(
    tables.rows.map(r => r.tablename),
    TABLES
  )
})

t.test('two app instances booting together on one Postgres', needs('TEST_DATABASE_URL', TEST_DATABASE_URL), async t => {
  const url = (await pgUrl(t))!
  const [a, b] = await Promise.all([build(t, { env: { DATABASE_URL: url } }), build(t, { env: { DATABASE_URL: url } })])
  t.equal((await a.app.inject({ method: 'GET', url: '/ready' })).statusCode, 200)
  t.equal((await b.app.inject({ method: 'GET', url: '/ready' })).statusCode, 200)
})

t.test('/ready turns 503 naming what is down', needs('TEST_DATABASE_URL', TEST_DATABASE_URL), async t => {
  const url = (await pgUrl(t))!
  const { app } = await build(t, { env: { DATABASE_URL: url } })
  t.equal((await app.inject({ method: 'GET', url: '/ready' })).statusCode, 200)
  // Postgres becomes unreachable: end the pool under the app
  await app.store.db.destroy()
  const res = await app.inject({ method: 'GET', url: '/ready' })
  t.equal(res.statusCode, 503)
  t.same(res.json().checks, { database: 'down' })
  t.match(res.json().message, /database down/)
  t.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200, 'liveness stays up')
})

t.test('/ready is 503 when Postgres cannot be reached at all', needs('TEST_DATABASE_URL', TEST_DATABASE_URL), async t => {
  const { db } = openDatabase('postgres://postgres@127.0.0.1:1/none')
  t.teardown(() => db.destroy())
  await t.rejects(migrate(db, true), 'boot fails: migrations cannot run')
})

t.test('/ready names Redis when Redis is down, as degraded: the replica still serves', async t => {
  const { app } = await build(t, { env: { REDIS_URL: 'redis://127.0.0.1:1' } })
  const res = await app.inject({ method: 'GET', url: '/ready' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { status: 'ready', checks: { database: 'ok', redis: 'degraded' }, message: 'degraded: redis unreachable' })
})
