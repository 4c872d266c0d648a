import fp from 'fastify-plugin'
import type { Kysely } from 'kysely'
import { openDatabase, type Engine } from '../../db/connect.js'
import { migrate } from '../../db/migrations.js'
import type { Database } from '../../db/schema.js'
import { exclusively, ping, repositories, transaction, type Repos } from '../../db/index.js'
import { errorFields } from '../../lib/values.js'

declare module 'fastify' {
  interface FastifyInstance {
    store: Store
    /** the repositories (db/): every read and write of the service's tables */
    repos: Repos
  }
}

export interface Store {
  /** for tests and scripts; product code goes through the repositories */
  db: Kysely<Database>
  engine: Engine
  /** true when the database answers a trivial query */
  ping: () => Promise<boolean>
  /** repositories bound to one transaction: all of `work` commits, or none of it */
  transaction: <T>(work: (repos: Repos) => Promise<T>) => Promise<T>
  /** a transaction one replica at a time runs (Postgres advisory lock `lockId`) */
  exclusively: (lockId: number, work: (repos: Repos) => Promise<void>) => Promise<'ran' | 'skipped'>
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
      const { message, code } = errorFields(err)
      log.warn({ attempt: n, retry_in_ms: wait, err: { message, code } },
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
    ping: async () => migrated && await ping(db),
    transaction: async work => await transaction(db, work),
    exclusively: async (lockId, work) => await exclusively(db, engine, lockId, work)
  })
  fastify.decorate('repos', repositories(db))
  fastify.addHook('onClose', async () => {
    closed = true
    clearTimeout(timer)
    await db.destroy()
  })
}, { name: 'store', dependencies: ['config'], fastify: '5.x' })
