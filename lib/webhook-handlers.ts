import type { Transaction } from 'kysely'
import type Stripe from 'stripe'
import type { Database } from './migrations.js'

export type WebhookHandler = (trx: Transaction<Database>, event: Stripe.Event) => Promise<void>

const iso = (unixSeconds: number): string => new Date(unixSeconds * 1000).toISOString()
const idOf = (v: unknown): string | null => typeof v === 'string' ? v : (typeof v === 'object' && v !== null && typeof (v as { id?: unknown }).id === 'string' ? (v as { id: string }).id : null)

/**
 * Records an install or uninstall for `event.account` in `event.livemode`, unless a newer event
 * (by `created`) was already applied: Stripe does not deliver in order.
 */
async function installation (trx: Transaction<Database>, event: Stripe.Event, status: 'installed' | 'uninstalled'): Promise<boolean> {
  const account = event.account
  if (typeof account !== 'string') return false
  const livemode = event.livemode ? 1 : 0
  const current = await trx.selectFrom('installations').selectAll()
    .where('account', '=', account).where('livemode', '=', livemode).executeTakeFirst()
  if (current !== undefined && current.event_created > event.created) return false
  const at = iso(event.created)
  const app = idOf((event.data.object as { id?: unknown }).id)
  const row = {
    status,
    app_id: app ?? current?.app_id ?? null,
    installed_at: status === 'installed' ? at : (current?.installed_at ?? null),
    uninstalled_at: status === 'uninstalled' ? at : null,
    event_created: event.created,
    updated_at: new Date().toISOString()
  }
  if (current === undefined) await trx.insertInto('installations').values({ account, livemode, ...row }).execute()
  else await trx.updateTable('installations').set(row).where('account', '=', account).where('livemode', '=', livemode).execute()
  return true
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
  const current = await trx.selectFrom('reader_actions').select('updated_at')
    .where('reader_id', '=', reader.id).where('livemode', '=', livemode).executeTakeFirst()
  if (current === undefined) await trx.insertInto('reader_actions').values({ reader_id: reader.id, livemode, ...row }).execute()
  else if (current.updated_at <= updatedAt) await trx.updateTable('reader_actions').set(row).where('reader_id', '=', reader.id).where('livemode', '=', livemode).execute()
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
