import { PostgresAdapter, sql, type Kysely } from 'kysely'
import type { Database } from './schema.js'

// any: migrations run against the schema as it was then, not today's Database type (Kysely's advice)
type Migration = (db: Kysely<any>) => Promise<void>

/** Append only: a released migration is never edited. */
export const migrations: Array<[string, Migration]> = [
  ['001_initial', async db => {
    await db.schema.createTable('installations')
      .addColumn('account', 'varchar(255)', c => c.notNull())
      .addColumn('livemode', 'integer', c => c.notNull())
      .addColumn('app_id', 'varchar(255)')
      .addColumn('status', 'varchar(32)', c => c.notNull())
      .addColumn('installed_at', 'varchar(32)')
      .addColumn('uninstalled_at', 'varchar(32)')
      .addColumn('event_created', 'bigint', c => c.notNull())
      .addColumn('updated_at', 'varchar(32)', c => c.notNull())
      .addPrimaryKeyConstraint('installations_pk', ['account', 'livemode'])
      .execute()
    await db.schema.createTable('webhook_events')
      .addColumn('id', 'varchar(255)', c => c.primaryKey())
      .addColumn('type', 'varchar(255)', c => c.notNull())
      .addColumn('account', 'varchar(255)')
      .addColumn('livemode', 'integer', c => c.notNull())
      .addColumn('created', 'bigint', c => c.notNull())
      .addColumn('received_at', 'varchar(32)', c => c.notNull())
      .execute()
    await db.schema.createIndex('webhook_events_received_at').on('webhook_events').column('received_at').execute()
    await db.schema.createTable('nonces')
      .addColumn('nonce', 'varchar(255)', c => c.primaryKey())
      .addColumn('account', 'varchar(255)', c => c.notNull())
      .addColumn('expires_at', 'varchar(32)', c => c.notNull())
      .execute()
    await db.schema.createIndex('nonces_account').on('nonces').column('account').execute()
    await db.schema.createTable('app_settings')
      .addColumn('account', 'varchar(255)', c => c.primaryKey())
      .addColumn('settings', 'text', c => c.notNull())
      .addColumn('updated_at', 'varchar(32)', c => c.notNull())
      .execute()
    await db.schema.createTable('reader_actions')
      .addColumn('reader_id', 'varchar(255)', c => c.notNull())
      .addColumn('livemode', 'integer', c => c.notNull())
      .addColumn('type', 'varchar(255)')
      .addColumn('status', 'varchar(64)')
      .addColumn('failure_code', 'varchar(255)')
      .addColumn('failure_message', 'text')
      .addColumn('payment_intent', 'varchar(255)')
      .addColumn('updated_at', 'varchar(32)', c => c.notNull())
      .addPrimaryKeyConstraint('reader_actions_pk', ['reader_id', 'livemode'])
      .execute()
  }],
  ['002_merchant_keys', async db => {
    await db.schema.createTable('merchant_keys')
      .addColumn('id', 'varchar(64)', c => c.primaryKey())
      .addColumn('key_hash', 'varchar(64)', c => c.notNull().unique())
      .addColumn('account', 'varchar(255)', c => c.notNull())
      .addColumn('label', 'varchar(255)', c => c.notNull())
      .addColumn('location', 'varchar(255)')
      .addColumn('charge', 'text', c => c.notNull())
      .addColumn('created_at', 'varchar(32)', c => c.notNull())
      .addColumn('last_used_at', 'varchar(32)')
      .addColumn('revoked_at', 'varchar(32)')
      .execute()
    await db.schema.createIndex('merchant_keys_account').on('merchant_keys').column('account').execute()
    await db.schema.alterTable('reader_actions').addColumn('account', 'varchar(255)').execute()
  }],
  // every reader action type of today's API: what each concerns
  ['003_reader_action_objects', async db => {
    for (const [column, type] of [['charge', 'varchar(255)'], ['setup_intent', 'varchar(255)'], ['inputs', 'text']] as const) {
      await db.schema.alterTable('reader_actions').addColumn(column, type).execute()
    }
  }],
  // every change of a reader's action, in order, for the event streams (GET /reader_events)
  ['004_reader_action_events', async db => {
    const postgres = db.getExecutor().adapter instanceof PostgresAdapter
    await db.schema.createTable('reader_action_events')
      .addColumn('id', postgres ? 'bigserial' : 'integer', c => postgres ? c.primaryKey() : c.primaryKey().autoIncrement())
      .addColumn('reader_id', 'varchar(255)', c => c.notNull())
      .addColumn('livemode', 'integer', c => c.notNull())
      .addColumn('account', 'varchar(255)')
      .addColumn('body', 'text', c => c.notNull())
      .addColumn('created_at', 'varchar(32)', c => c.notNull())
      .execute()
    await db.schema.createIndex('reader_action_events_reader').on('reader_action_events').columns(['reader_id', 'id']).execute()
  }],
  // what destination merchants were found to own, for every replica (routes/terminal/ownership.ts)
  ['005_owned_objects', async db => {
    await db.schema.createTable('owned_objects')
      .addColumn('fact', 'varchar(512)', c => c.primaryKey())
      .addColumn('expires_at', 'varchar(32)', c => c.notNull())
      .execute()
    await db.schema.createIndex('owned_objects_expires_at').on('owned_objects').column('expires_at').execute()
  }]
]

const LOCK_ID = 727_073_690 // any constant shared by every replica of this service

/**
 * Applies the pending migrations in one transaction. On Postgres a transaction-scoped advisory lock
 * makes replicas that start together wait for each other instead of racing on CREATE TABLE.
 */
export async function migrate (db: Kysely<Database>, postgres: boolean): Promise<string[]> {
  return await db.transaction().execute(async trx => {
    if (postgres) await sql`select pg_advisory_xact_lock(${LOCK_ID})`.execute(trx)
    await trx.schema.createTable('schema_migrations').ifNotExists()
      .addColumn('name', 'varchar(255)', c => c.primaryKey())
      .addColumn('applied_at', 'varchar(32)', c => c.notNull())
      .execute()
    const done = new Set((await trx.selectFrom('schema_migrations').select('name').execute()).map(r => r.name))
    const applied: string[] = []
    for (const [name, up] of migrations) {
      if (done.has(name)) continue
      await up(trx)
      await trx.insertInto('schema_migrations').values({ name, applied_at: new Date().toISOString() }).execute()
      applied.push(name)
    }
    return applied
  })
}
