import { sql } from 'kysely'
import type { Db } from '../index.js'

export interface InstallationChange {
  account: string
  livemode: boolean
  status: 'installed' | 'uninstalled'
  appId: string | null
  /** the event's `created` (Unix seconds): what orders changes */
  eventCreated: number
}

/** The app's installation on each account and mode, kept by the webhooks. */
export const installations = (db: Db) => ({
  async forAccount (account: string) {
    return await db.selectFrom('installations').selectAll().where('account', '=', account).execute()
  },

  async anyInstalled (account: string): Promise<boolean> {
    const row = await db.selectFrom('installations').select('account')
      .where('account', '=', account).where('status', '=', 'installed').executeTakeFirst()
    return row !== undefined
  },

  /**
   * Applies an install or uninstall unless a newer event (by `created`) was already applied:
   * Stripe does not deliver in order. One atomic upsert whose update applies only over an older
   * state, so two replicas handling two events of one account at the same moment end with the
   * newer one, on either engine. True when this change was applied.
   */
  async apply (change: InstallationChange): Promise<boolean> {
    const at = new Date(change.eventCreated * 1000).toISOString()
    const { status } = change
    const applied = await db.insertInto('installations').values({
      account: change.account,
      livemode: change.livemode ? 1 : 0,
      status,
      app_id: change.appId,
      installed_at: status === 'installed' ? at : null,
      uninstalled_at: status === 'uninstalled' ? at : null,
      event_created: change.eventCreated,
      updated_at: new Date().toISOString()
    }).onConflict(oc => oc.columns(['account', 'livemode']).doUpdateSet(eb => ({
      status: eb.ref('excluded.status'),
      app_id: sql<string | null>`coalesce(excluded.app_id, installations.app_id)`,
      // an uninstall keeps the time of the install it ends
      installed_at: status === 'installed' ? eb.ref('excluded.installed_at') : eb.ref('installations.installed_at'),
      uninstalled_at: eb.ref('excluded.uninstalled_at'),
      event_created: eb.ref('excluded.event_created'),
      updated_at: eb.ref('excluded.updated_at')
    })).where('installations.event_created', '<=', eb => eb.ref('excluded.event_created')))
      .returning('account').executeTakeFirst()
    return applied !== undefined
  }
})
