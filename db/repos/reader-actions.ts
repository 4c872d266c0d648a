import type { Db } from '../index.js'
import type { Database } from '../schema.js'

export type ReaderAction = Database['reader_actions']

/** Each reader's last action outcome, from the terminal.reader.action_* webhooks. */
export const readerActions = (db: Db) => ({
  /** The reader's last action in `livemode`; with `account`, only when the reader is that account's. */
  async find (readerId: string, livemode: number, account?: string): Promise<ReaderAction | undefined> {
    let query = db.selectFrom('reader_actions').selectAll().where('reader_id', '=', readerId).where('livemode', '=', livemode)
    if (account !== undefined) query = query.where('account', '=', account)
    return await query.executeTakeFirst()
  },

  /** One atomic upsert: a newer outcome (by event time, `updated_at`) is never overwritten by an older one. */
  async record (action: ReaderAction): Promise<void> {
    await db.insertInto('reader_actions').values(action)
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
      .execute()
  }
})
