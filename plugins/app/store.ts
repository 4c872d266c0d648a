import { mkdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname } from 'node:path'
import fp from 'fastify-plugin'
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely'
import { migrate, type Database } from '../../lib/migrations.js'

declare module 'fastify' {
  interface FastifyInstance {
    store: Store
  }
}

export interface Store {
  db: Kysely<Database>
  engine: 'sqlite' | 'postgres'
  /** true when the database answers a trivial query */
  ping: () => Promise<boolean>
}

/** Where the store reports a lost database connection (the app's logger; nothing in scripts). */
type Warn = (obj: object, msg: string) => void

// Only the configured engine's driver is loaded (a start-up does not pay for the other); both are
// CommonJS, so a synchronous require keeps openDatabase synchronous.
const require = createRequire(import.meta.url)

/**
 * `timeoutMs` bounds every wait on the database: a statement (Postgres cancels it), a lock, a
 * connection from the pool, and — for a server that stops answering altogether (stalled, or a
 * network partition), which no server-side timeout can catch — the read of a reply. Each failure is
 * an error the request answers 503 "retry" with (lib/errors.ts), never a request held for the stall.
 */
export function openDatabase (url: string, warn: Warn = () => {}, timeoutMs = 5_000): { db: Kysely<Database>, engine: Store['engine'] } {
  if (/^postgres(ql)?:\/\//.test(url)) {
    const pg = require('pg') as typeof import('pg')
    // int8 (bigint) columns hold Unix seconds: safe as JS numbers, so read them as numbers.
    pg.types.setTypeParser(20, v => Number(v))
    const pool = new pg.Pool({
      connectionString: url,
      max: 10,
      connectionTimeoutMillis: timeoutMs,
      statement_timeout: timeoutMs,
      lock_timeout: Math.ceil(timeoutMs / 2),
      // a little after the server's own timeout, so a slow statement is cancelled by the server
      // (the connection stays usable) and only a silent server is cut here
      query_timeout: timeoutMs + 1_000
    })
    // A dropped connection (failover, restart, pg_terminate_backend) is an 'error' event on its
    // client, idle or checked out; unhandled, it would end the process. The query that used it
    // fails (its request answers 5xx), pg-pool discards the client, and the next query reconnects.
    pool.on('error', () => {})
    pool.on('connect', client => {
      client.on('error', err => {
        warn({ err: { message: err.message, code: (err as { code?: string }).code } }, 'database connection lost')
      })
      // pg answers a read timeout but keeps the connection, its statement still pending (inside a
      // transaction, possibly without its rollback): close it, so pg-pool discards it on release.
      const query = client.query.bind(client) as (...args: unknown[]) => unknown
      Object.assign(client, {
        query: (...args: unknown[]) => {
          const result = query(...args)
          if (result instanceof Promise) {
            result.catch((err: unknown) => { if ((err as Error)?.message === 'Query read timeout') client.end().catch(() => {}) })
          }
          return result
        }
      })
    })
    return { db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), engine: 'postgres' }
  }
  if (!url.startsWith('sqlite:')) throw new Error('DATABASE_URL must start with sqlite: or postgres://')
  const path = url.slice('sqlite:'.length)
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
  const SQLite = require('better-sqlite3') as typeof import('better-sqlite3')
  const database = new SQLite(path)
  database.pragma('journal_mode = WAL')
  database.pragma(`busy_timeout = ${timeoutMs}`)
  return { db: new Kysely<Database>({ dialect: new SqliteDialect({ database }) }), engine: 'sqlite' }
}

const RETRY_MAX_MS = 30_000

/**
 * One query layer (Kysely) over SQLite (embedded default) or Postgres (replicas); migrates at start.
 * A Postgres that cannot be reached at boot does not stop it: the service serves what needs no
 * database (connection tokens, PaymentIntents) and retries the migrations with backoff, saying so
 * each time, until they run; until then the database is "down" for /ready.
 */
export default fp(async function store (fastify) {
  const log = fastify.log
  const { db, engine } = openDatabase(fastify.config.DATABASE_URL, (obj, msg) => { log.warn(obj, msg) }, fastify.config.DATABASE_TIMEOUT_MS)
  let migrated = false
  let closed = false
  let timer: NodeJS.Timeout | undefined

  const attempt = async (n: number): Promise<void> => {
    try {
      const applied = await migrate(db, engine === 'postgres')
      migrated = true
      if (applied.length > 0) log.info({ applied }, 'database migrated')
      if (n > 1) log.info({ attempts: n }, 'database reachable: migrations ran, serving everything')
    } catch (err) {
      if (engine === 'sqlite' || closed) throw err
      const wait = Math.min(RETRY_MAX_MS, 500 * 2 ** (n - 1))
      const cause = err as { message?: string, code?: string }
      log.warn({ attempt: n, retry_in_ms: wait, err: { message: cause.message, code: cause.code } },
        'database unreachable: serving what needs no database; retrying the migrations')
      timer = setTimeout(() => { attempt(n + 1).catch(() => {}) }, wait)
      timer.unref()
    }
  }
  try {
    await attempt(1)
  } catch (err) {
    await db.destroy()
    throw err
  }

  fastify.decorate('store', {
    db,
    engine,
    async ping () {
      if (!migrated) return false
      try {
        await sql`select 1`.execute(db)
        return true
      } catch {
        return false
      }
    }
  })
  fastify.addHook('onClose', async () => {
    closed = true
    clearTimeout(timer)
    await db.destroy()
  })
}, { name: 'store', dependencies: ['config'], fastify: '5.x' })
