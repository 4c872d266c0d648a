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
 * Records an install or uninstall of the app by `account` in `event.livemode`, unless a newer event
 * (by `created`) was already applied: Stripe does not deliver in order. One atomic upsert whose
 * update applies only over an older state, so two replicas handling two events of one account at
 * the same moment end with the newer one, on either engine. True when this event was applied.
 */
async function installation (
  trx: Transaction<Database>, event: Stripe.Event, status: 'installed' | 'uninstalled', account: unknown, appId: string | null
): Promise<boolean> {
  if (typeof account !== 'string') return false
  const at = iso(event.created)
  const applied = await trx.insertInto('installations').values({
    account,
    livemode: event.livemode ? 1 : 0,
    status,
    app_id: appId,
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

/** `account.application.*`: the account is the event's (a Connect event), the object the application. */
const application = (status: 'installed' | 'uninstalled'): WebhookHandler => async (trx, event) => {
  const applied = await installation(trx, event, status, event.account, idOf((event.data.object as { id?: unknown }).id))
  if (applied && status === 'uninstalled') await deleteAppData(trx, event.account!)
}

/**
 * `apps.install.*` (Stripe Apps' own install events): the object is the install, naming the
 * installing account and the app. `updated` applies the install's status when it is a settled one.
 */
const appsInstall = (status?: 'installed' | 'uninstalled'): WebhookHandler => async (trx, event) => {
  const install = event.data.object as { account?: unknown, app?: unknown, status?: unknown }
  const settled = status ?? (install.status === 'installed' ? 'installed' : undefined)
  if (settled === undefined) return
  const account = install.account
  const applied = await installation(trx, event, settled, account, idOf(install.app))
  if (applied && settled === 'uninstalled') await deleteAppData(trx, account as string)
}

/** Deletes an account's app data once none of its installations (test or live) is installed. */
async function deleteAppData (trx: Transaction<Database>, account: string): Promise<void> {
  const installed = await trx.selectFrom('installations').select('account')
    .where('account', '=', account).where('status', '=', 'installed').executeTakeFirst()
  if (installed !== undefined) return
  await trx.deleteFrom('app_settings').where('account', '=', account).execute()
  await trx.deleteFrom('nonces').where('account', '=', account).execute()
}

/**
 * A reader's last action, from `terminal.reader.action_updated` (in progress), `_succeeded` and
 * `_failed`, for every action type: the object it concerns is read from the action's own part
 * (`action.<type>`): a PaymentIntent (process_payment_intent, collect_payment_method,
 * confirm_payment_intent, refund_payment), a charge (refund_payment), a SetupIntent
 * (process_setup_intent) or the inputs' results (collect_inputs); set_reader_display has its type.
 */
async function readerAction (trx: Transaction<Database>, event: Stripe.Event): Promise<void> {
  const reader = event.data.object as Partial<Stripe.Terminal.Reader>
  if (typeof reader.id !== 'string') return
  const action = (reader.action ?? null) as (Record<string, any> | null)
  const type = typeof action?.type === 'string' ? action.type : null
  const detail = (type === null ? null : action?.[type]) as Record<string, unknown> | null | undefined
  const livemode = event.livemode ? 1 : 0
  // the action's own status, else the event's word for it
  const byEvent = event.type.endsWith('_failed') ? 'failed' : event.type.endsWith('_updated') ? 'in_progress' : 'succeeded'
  const row = {
    type,
    status: typeof action?.status === 'string' ? action.status : byEvent,
    failure_code: typeof action?.failure_code === 'string' ? action.failure_code : null,
    failure_message: typeof action?.failure_message === 'string' ? action.failure_message : null,
    payment_intent: idOf(detail?.payment_intent),
    charge: idOf(detail?.charge),
    setup_intent: idOf(detail?.setup_intent),
    inputs: type === 'collect_inputs' && Array.isArray(detail?.inputs) ? JSON.stringify(detail.inputs) : null,
    updated_at: iso(event.created)
  }
  // a reader on the platform that a destination merchant's till registered is that merchant's
  const stamp = reader.metadata?.[OWNER_METADATA]
  const account = typeof event.account === 'string' ? event.account : typeof stamp === 'string' ? stamp : null
  // one atomic upsert: a newer outcome (by event time) is never overwritten by an older one
  await trx.insertInto('reader_actions').values({ reader_id: reader.id, livemode, account, ...row })
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

/** The handlers by event type; any other type is recorded and acknowledged. */
export const defaultHandlers: Record<string, WebhookHandler> = {
  'account.application.authorized': application('installed'),
  'account.application.deauthorized': application('uninstalled'),
  'apps.install.created': appsInstall('installed'),
  'apps.install.updated': appsInstall(),
  'apps.install.deleted': appsInstall('uninstalled'),
  'terminal.reader.action_updated': readerAction,
  'terminal.reader.action_succeeded': readerAction,
  'terminal.reader.action_failed': readerAction
}
