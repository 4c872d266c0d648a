import { sql, type Transaction } from 'kysely'
import type Stripe from 'stripe'
import type { Database } from './migrations.js'
import { OWNER_METADATA } from './ownership.js'

export type WebhookHandler = (trx: Transaction<Database>, event: Stripe.Event) => Promise<void>

const iso = (unixSeconds: number): string => new Date(unixSeconds * 1000).toISOString()
/** An id, or an expanded object's id */
function idOf (v: unknown): string | null {
  if (typeof v === 'string') return v
  const id = (v as { id?: unknown } | null)?.id
  return typeof id === 'string' ? id : null
}

/**
 * Records an install or uninstall for `event.account` in `event.livemode`, unless a newer event
 * (by `created`) was already applied: Stripe does not deliver in order. One atomic upsert whose
 * update applies only over an older state, so two replicas handling two events of one account at
 * the same moment end with the newer one, on either engine. True when this event was applied.
 */
async function installation (trx: Transaction<Database>, event: Stripe.Event, status: 'installed' | 'uninstalled'): Promise<boolean> {
  const account = event.account
  if (typeof account !== 'string') return false
  const at = iso(event.created)
  const applied = await trx.insertInto('installations').values({
    account,
    livemode: event.livemode ? 1 : 0,
    status,
    app_id: idOf((event.data.object as { id?: unknown }).id),
    installed_at: status === 'installed' ? at : null,
    uninstalled_at: status === 'uninstalled' ? at : null,
    event_created: event.created,
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

/** Deletes an account's app data once none of its installations (test or live) is installed. */
async function deleteAppData (trx: Transaction<Database>, account: string): Promise<void> {
  const installed = await trx.selectFrom('installations').select('account')
    .where('account', '=', account).where('status', '=', 'installed').executeTakeFirst()
  if (installed !== undefined) return
  await trx.deleteFrom('app_settings').where('account', '=', account).execute()
  await trx.deleteFrom('nonces').where('account', '=', account).execute()
}

async function readerAction (trx: Transaction<Database>, event: Stripe.Event): Promise<void> {
  const reader = event.data.object as Partial<Stripe.Terminal.Reader>
  if (typeof reader.id !== 'string') return
  const action = (reader.action ?? null) as (Record<string, any> | null)
  const livemode = event.livemode ? 1 : 0
  const updatedAt = iso(event.created)
  const row = {
    type: typeof action?.type === 'string' ? action.type : null,
    status: typeof action?.status === 'string' ? action.status : (event.type.endsWith('_failed') ? 'failed' : 'succeeded'),
    failure_code: typeof action?.failure_code === 'string' ? action.failure_code : null,
    failure_message: typeof action?.failure_message === 'string' ? action.failure_message : null,
    payment_intent: idOf(action?.process_payment_intent?.payment_intent) ?? idOf(action?.refund_payment?.payment_intent),
    updated_at: updatedAt
  }
  // one atomic upsert: a newer outcome (by event time) is never overwritten by an older one
  // a reader on the platform that a destination merchant's till registered is that merchant's
  const stamp = reader.metadata?.[OWNER_METADATA]
  const account = typeof event.account === 'string' ? event.account : typeof stamp === 'string' ? stamp : null
  await trx.insertInto('reader_actions').values({ reader_id: reader.id, livemode, account, ...row })
    .onConflict(oc => oc.columns(['reader_id', 'livemode']).doUpdateSet(eb => ({
      type: eb.ref('excluded.type'),
      status: eb.ref('excluded.status'),
      failure_code: eb.ref('excluded.failure_code'),
      failure_message: eb.ref('excluded.failure_message'),
      payment_intent: eb.ref('excluded.payment_intent'),
      account: eb.ref('excluded.account'),
      updated_at: eb.ref('excluded.updated_at')
    })).where('reader_actions.updated_at', '<=', eb => eb.ref('excluded.updated_at')))
    .execute()
}

/** The handlers by event type; any other type is recorded and acknowledged. */
export const defaultHandlers: Record<string, WebhookHandler> = {
  'account.application.authorized': async (trx, event) => { await installation(trx, event, 'installed') },
  'account.application.deauthorized': async (trx, event) => {
    if (await installation(trx, event, 'uninstalled')) await deleteAppData(trx, event.account!)
  },
  'terminal.reader.action_succeeded': readerAction,
  'terminal.reader.action_failed': readerAction
}
