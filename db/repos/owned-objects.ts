import type { Db } from '../index.js'

/**
 * What destination merchants were found to own, for every replica (routes/terminal/ownership.ts):
 * facts that never change, kept until `expires_at` only to bound the table.
 */
export const ownedObjects = (db: Db) => ({
  /** Whether `fact` was recorded and has not expired. */
  async has (fact: string, now: Date): Promise<boolean> {
    const row = await db.selectFrom('owned_objects').select('fact')
      .where('fact', '=', fact).where('expires_at', '>', now.toISOString()).executeTakeFirst()
    return row !== undefined
  },

  /** Records `fact` until `expiresAt` (a later record moves the expiry). */
  async add (fact: string, expiresAt: Date): Promise<void> {
    const expires = expiresAt.toISOString()
    await db.insertInto('owned_objects').values({ fact, expires_at: expires })
      .onConflict(oc => oc.column('fact').doUpdateSet({ expires_at: expires })).execute()
  },

  /** Deletes the expired ones; how many. */
  async prune (now: Date): Promise<number> {
    const res = await db.deleteFrom('owned_objects').where('expires_at', '<=', now.toISOString()).executeTakeFirst()
    return Number(res.numDeletedRows)
  }
})
