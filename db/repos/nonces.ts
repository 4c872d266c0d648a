import type { Db } from '../index.js'

/** Signed Apps requests' nonces: each usable once while its signature is within tolerance. */
export const nonces = (db: Db) => ({
  /** Records a use of `nonce` by `account`; false when it was used before (a replay). */
  async use (account: string, nonce: string, expiresAt: Date): Promise<boolean> {
    const res = await db.insertInto('nonces').values({ nonce: `${account}:${nonce}`, account, expires_at: expiresAt.toISOString() })
      .onConflict(oc => oc.column('nonce').doNothing()).executeTakeFirst()
    return Number(res.numInsertedOrUpdatedRows ?? 0n) > 0
  },

  async deleteAccount (account: string): Promise<void> {
    await db.deleteFrom('nonces').where('account', '=', account).execute()
  },

  /** Deletes the expired ones; how many. */
  async prune (now: Date): Promise<number> {
    const res = await db.deleteFrom('nonces').where('expires_at', '<', now.toISOString()).executeTakeFirst()
    return Number(res.numDeletedRows)
  }
})
