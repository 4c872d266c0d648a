import type { Db } from '../index.js'

/** What is recorded of every delivery, whatever its type or shape: the dedupe record. */
export interface Delivery { id: string, type: string, account: string | null, livemode: boolean, created: number }

/** The ids of the events received, for exactly-once handling. */
export const webhookEvents = (db: Db) => ({
  /**
   * Records a delivery; false when its id was recorded before (a duplicate). On Postgres a
   * concurrent insert of the same id waits for the first transaction: if that commits, this one
   * is a duplicate; if it rolls back, this one records it.
   */
  async record (delivery: Delivery): Promise<boolean> {
    const inserted = await db.insertInto('webhook_events').values({
      id: delivery.id,
      type: delivery.type,
      account: delivery.account,
      livemode: delivery.livemode ? 1 : 0,
      created: delivery.created,
      received_at: new Date().toISOString()
    }).onConflict(oc => oc.column('id').doNothing()).executeTakeFirst()
    return Number(inserted.numInsertedOrUpdatedRows ?? 0n) > 0
  },

  /** Forgets the ids received before `before`; how many. */
  async prune (before: Date): Promise<number> {
    const res = await db.deleteFrom('webhook_events').where('received_at', '<', before.toISOString()).executeTakeFirst()
    return Number(res.numDeletedRows)
  }
})
