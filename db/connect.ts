import { mkdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname } from 'node:path'
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely'
import type { Database } from './schema.js'
import { errorFields } from '../lib/values.js'

export type Engine = 'sqlite' | 'postgres'

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
export function openDatabase (url: string, warn: Warn = () => {}, timeoutMs = 5_000): { db: Kysely<Database>, engine: Engine } {
  if (/^postgres(ql)?:\/\//.test(url)) {
    // cast: createRequire returns any; the pg driver is loaded only when configured
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
        warn({ err: errorFields(err) }, 'database connection lost')
      })
      // pg answers a read timeout but keeps the connection, its statement still pending (inside a
      // transaction, possibly without its rollback): close it, so pg-pool discards it on release.
      // cast: pg's query overloads cannot be wrapped generically; the wrapper passes arguments through
      const query = client.query.bind(client) as (...args: unknown[]) => unknown
      Object.assign(client, {
        query: (...args: unknown[]) => {
          const result = query(...args)
          if (result instanceof Promise) {
            result.catch((err: unknown) => { if (errorFields(err).message === 'Query read timeout') client.end().catch(() => {}) })
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
  // cast: createRequire returns any; the SQLite driver is loaded only when configured
  const SQLite = require('better-sqlite3') as typeof import('better-sqlite3')
  const database = new SQLite(path)
  database.pragma('journal_mode = WAL')
  database.pragma(`busy_timeout = ${timeoutMs}`)
  return { db: new Kysely<Database>({ dialect: new SqliteDialect({ database }) }), engine: 'sqlite' }
}
