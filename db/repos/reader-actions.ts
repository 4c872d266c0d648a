import { PostgresAdapter, sql, type Selectable } from 'kysely'
import type { Db } from '../index.js'
import type { Database } from '../schema.js'

export type ReaderAction = Database['reader_actions']
type ReaderActionEvent = Database['reader_action_events']
export type ReaderActionEventRow = Pick<Selectable<ReaderActionEvent>, 'id' | 'body'>
/** the Postgres channel a reader's change is announced on; its payload is the reader id */
export const READER_CHANNEL = 'reader_action_events'
/** how many changes one read of the log returns at most */
export const EVENTS_PAGE = 100

/** Each reader's last action outcome, from the terminal.reader.action_* webhooks. */
export const readerActions = (db: Db) => ({
  /** The reader's last action in `livemode`; with `account`, only when the reader is that account's. */
  async find (readerId: string, livemode: number, account?: string): Promise<ReaderAction | undefined> {
    let query = db.selectFrom('reader_actions').selectAll().where('reader_id', '=', readerId).where('livemode', '=', livemode)
    if (account !== undefined) query = query.where('account', '=', account)
    return await query.executeTakeFirst()
  },

  /**
   * One atomic upsert: a newer outcome (by event time, `updated_at`) is never overwritten by an
   * older one. True when it was recorded (the reader's action changed).
   */
  async record (action: ReaderAction): Promise<boolean> {
    const row = await db.insertInto('reader_actions').values(action)
      .onConflict(oc => oc.columns(['reader_id', 'livemode']).doUpdateSet(eb => ({
        type: eb.ref('excluded.type'),
        status: eb.ref('excluded.status'),
        failure_code: eb.ref('excluded.failure_code'),
        failure_message: eb.ref('excluded.failure_message'),
        payment_intent: eb.ref('excluded.payment_intent'),
        charge: eb.ref('excluded.charge'),
        setup_intent: eb.ref('excluded.setup_intent'),
        inputs: eb.ref('excluded.inputs'),
        account: eb.ref('excluded.account'),
        updated_at: eb.ref('excluded.updated_at')
      })).where('reader_actions.updated_at', '<=', eb => eb.ref('excluded.updated_at')))
      .returning('reader_id')
      .executeTakeFirst()
    return row !== undefined
  },

  /**
   * Appends a change to the reader's event log and, on Postgres, tells every replica listening
   * (NOTIFY is sent when the transaction commits, so a listener reads a committed row).
   */
  async append (event: Omit<ReaderActionEvent, 'id' | 'created_at'>): Promise<void> {
    await db.insertInto('reader_action_events').values({ ...event, created_at: new Date().toISOString() }).execute()
    if (db.getExecutor().adapter instanceof PostgresAdapter) await sql`select pg_notify(${READER_CHANNEL}, ${event.reader_id})`.execute(db)
  },

  /** The reader's changes after `afterId`, oldest first; with `account`, only that account's. */
  async eventsSince (readerId: string, livemode: number, afterId: number, account?: string): Promise<ReaderActionEventRow[]> {
    let query = db.selectFrom('reader_action_events').select(['id', 'body'])
      .where('reader_id', '=', readerId).where('livemode', '=', livemode).where('id', '>', afterId)
    if (account !== undefined) query = query.where('account', '=', account)
    return await query.orderBy('id').limit(EVENTS_PAGE).execute()
  },

  /** Deletes the changes recorded before `before`; how many. */
  async pruneEvents (before: Date): Promise<number> {
    const res = await db.deleteFrom('reader_action_events').where('created_at', '<', before.toISOString()).executeTakeFirst()
    return Number(res.numDeletedRows)
  },

  /** The newest change's id (0 when none): where a stream without `Last-Event-ID` starts. */
  async lastEventId (): Promise<number> {
    const row = await db.selectFrom('reader_action_events').select(eb => eb.fn.max('id').as('id')).executeTakeFirst()
    return Number(row?.id ?? 0)
  }
})
