import { sql, type Kysely, type Transaction } from 'kysely'
import type { Database } from './schema.js'
import type { Engine } from './connect.js'
import { appSettings } from './repos/app-settings.js'
import { installations } from './repos/installations.js'
import { merchantKeys } from './repos/merchant-keys.js'
import { nonces } from './repos/nonces.js'
import { ownedObjects } from './repos/owned-objects.js'
import { readerActions } from './repos/reader-actions.js'
import { webhookEvents } from './repos/webhook-events.js'

/** A connection or an open transaction: every repository works on either. */
export type Db = Kysely<Database> | Transaction<Database>

/**
 * The data layer: one repository per table, and the only place the service writes SQL
 * (test/project/layout.test.ts checks that no other product file does).
 */
export function repositories (db: Db) {
  return {
    installations: installations(db),
    appSettings: appSettings(db),
    nonces: nonces(db),
    ownedObjects: ownedObjects(db),
    readerActions: readerActions(db),
    merchantKeys: merchantKeys(db),
    webhookEvents: webhookEvents(db)
  }
}
export type Repos = ReturnType<typeof repositories>

/** Runs `work` with repositories bound to one transaction: it all commits, or none of it does. */
export async function transaction<T> (db: Kysely<Database>, work: (repos: Repos) => Promise<T>): Promise<T> {
  return await db.transaction().execute(async trx => await work(repositories(trx)))
}

/**
 * Like `transaction`, for a job one replica at a time runs: on Postgres it takes a transaction
 * advisory lock on `lockId` first and answers 'skipped' when another replica holds it.
 */
export async function exclusively (
  db: Kysely<Database>, engine: Engine, lockId: number, work: (repos: Repos) => Promise<void>
): Promise<'ran' | 'skipped'> {
  return await db.transaction().execute(async trx => {
    if (engine === 'postgres') {
      const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_xact_lock(${lockId}) as locked`.execute(trx)
      if (rows[0]?.locked !== true) return 'skipped' as const
    }
    await work(repositories(trx))
    return 'ran' as const
  })
}

/** true when the database answers a trivial query */
export async function ping (db: Kysely<Database>): Promise<boolean> {
  try {
    await sql`select 1`.execute(db)
    return true
  } catch {
    return false
  }
}
