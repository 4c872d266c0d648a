import { randomBytes } from 'node:crypto'
import type { Db } from '../index.js'
import type { Database } from '../schema.js'
import { KEY_PREFIX, hashKey, type Charge, type MerchantKey } from '../../lib/merchant-keys.js'

const toKey = (row: Database['merchant_keys']): MerchantKey => {
  const { key_hash: _hash, charge, ...rest } = row
  // cast: the column holds only what create() serialized from a validated Charge
  return { ...rest, charge: JSON.parse(charge) as Charge }
}

export interface NewKey { account: string, label: string, location?: string | null, charge?: Charge }

/** The merchant keys in the shared store: created, listed and revoked by /admin and `npm run keys` alike. */
export const merchantKeys = (db: Db) => ({
  /** Creates a key; the key itself is returned here only. */
  async create (fields: NewKey): Promise<MerchantKey & { key: string }> {
    const key = `${KEY_PREFIX}${randomBytes(24).toString('hex')}`
    const row = {
      id: `mkey_${randomBytes(8).toString('hex')}`,
      key_hash: hashKey(key),
      account: fields.account,
      label: fields.label,
      location: fields.location ?? null,
      charge: JSON.stringify(fields.charge ?? { type: 'direct' }),
      created_at: new Date().toISOString(),
      last_used_at: null,
      revoked_at: null
    }
    await db.insertInto('merchant_keys').values(row).execute()
    return { ...toKey(row), key }
  },
  async list (account?: string): Promise<MerchantKey[]> {
    let query = db.selectFrom('merchant_keys').selectAll().orderBy('created_at')
    if (account !== undefined) query = query.where('account', '=', account)
    return (await query.execute()).map(toKey)
  },
  /** Revokes a key; the revoked key, or undefined when there is no such key. */
  async revoke (id: string): Promise<MerchantKey | undefined> {
    await db.updateTable('merchant_keys').set({ revoked_at: new Date().toISOString() })
      .where('id', '=', id).where('revoked_at', 'is', null).execute()
    const row = await db.selectFrom('merchant_keys').selectAll().where('id', '=', id).executeTakeFirst()
    return row === undefined ? undefined : toKey(row)
  },
  /** The live (unrevoked) key with this hash, or undefined. */
  async find (keyHash: string): Promise<MerchantKey | undefined> {
    const row = await db.selectFrom('merchant_keys').selectAll()
      .where('key_hash', '=', keyHash).where('revoked_at', 'is', null).executeTakeFirst()
    return row === undefined ? undefined : toKey(row)
  },
  async touch (id: string): Promise<void> {
    await db.updateTable('merchant_keys').set({ last_used_at: new Date().toISOString() }).where('id', '=', id).execute()
  }
})

export type MerchantKeyStore = ReturnType<typeof merchantKeys>
