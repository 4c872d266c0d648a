import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import fp from 'fastify-plugin'
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely'
import SQLite from 'better-sqlite3'
import pg from 'pg'
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

// int8 (bigint) columns hold Unix seconds: safe as JS numbers, so read them as numbers.
pg.types.setTypeParser(20, v => Number(v))

export function openDatabase (url: string): { db: Kysely<Database>, engine: Store['engine'] } {
  if (/^postgres(ql)?:\/\//.test(url)) {
    const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 5000 })
    // An idle client's error (database restarted) must not crash the process.
    pool.on('error', () => {})
    return { db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), engine: 'postgres' }
  }
  if (!url.startsWith('sqlite:')) throw new Error('DATABASE_URL must start with sqlite: or postgres://')
  const path = url.slice('sqlite:'.length)
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
  const database = new SQLite(path)
  database.pragma('journal_mode = WAL')
  database.pragma('busy_timeout = 5000')
  return { db: new Kysely<Database>({ dialect: new SqliteDialect({ database }) }), engine: 'sqlite' }
}

/** One query layer (Kysely) over SQLite (embedded default) or Postgres (replicas); migrates at start. */
export default fp(async function store (fastify) {
  const { db, engine } = openDatabase(fastify.config.DATABASE_URL)
  try {
    const applied = await migrate(db, engine === 'postgres')
    if (applied.length > 0) fastify.log.info({ applied }, 'database migrated')
  } catch (err) {
    await db.destroy()
    throw err
  }
  fastify.decorate('store', {
    db,
    engine,
    async ping () {
      try {
        await sql`select 1`.execute(db)
        return true
      } catch {
        return false
      }
    }
  })
  fastify.addHook('onClose', async () => { await db.destroy() })
}, { name: 'store', dependencies: ['config'], fastify: '5.x' })
