import type { Db } from '../index.js'
import { isRecord } from '../../lib/values.js'

/** A Stripe App's settings per account (JSON, size-checked by the route). */
export const appSettings = (db: Db) => ({
  async get (account: string): Promise<Record<string, unknown> | null> {
    const row = await db.selectFrom('app_settings').select('settings').where('account', '=', account).executeTakeFirst()
    const settings: unknown = row === undefined ? null : JSON.parse(row.settings)
    return isRecord(settings) ? settings : null
  },

  async put (account: string, settings: Record<string, unknown>): Promise<void> {
    const json = JSON.stringify(settings)
    const updatedAt = new Date().toISOString()
    await db.insertInto('app_settings').values({ account, settings: json, updated_at: updatedAt })
      .onConflict(oc => oc.column('account').doUpdateSet({ settings: json, updated_at: updatedAt })).execute()
  },

  async deleteAccount (account: string): Promise<void> {
    await db.deleteFrom('app_settings').where('account', '=', account).execute()
  }
})
