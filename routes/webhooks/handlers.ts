import type Stripe from 'stripe'
import type { Repos } from '../../db/index.js'
import { OWNER_METADATA } from '../../lib/ownership.js'
import { field, idOf, stringField } from '../../lib/values.js'
import { readerActionBody } from '../../lib/reader-action.js'

/** What an event does to the service's data, through repositories bound to the event's transaction. */
export type WebhookHandler = (repos: Repos, event: Stripe.Event) => Promise<void>

const iso = (unixSeconds: number): string => new Date(unixSeconds * 1000).toISOString()

/** Applies an install or uninstall of `account` unless a newer event was applied (db/repos/installations.ts). */
async function installation (
  repos: Repos, event: Stripe.Event, status: 'installed' | 'uninstalled', account: string, appId: string | null
): Promise<boolean> {
  return await repos.installations.apply({ account, livemode: event.livemode, status, appId, eventCreated: event.created })
}

/** `account.application.*`: the account is the event's (a Connect event), the object the application. */
const application = (status: 'installed' | 'uninstalled'): WebhookHandler => async (repos, event) => {
  const account = event.account
  if (account === undefined) return
  const applied = await installation(repos, event, status, account, idOf(event.data.object))
  if (applied && status === 'uninstalled') await deleteAppData(repos, account)
}

/**
 * `apps.install.*` (Stripe Apps' own install events): the object is the install, naming the
 * installing account and the app. `updated` applies the install's status when it is a settled one.
 */
const appsInstall = (status?: 'installed' | 'uninstalled'): WebhookHandler => async (repos, event) => {
  const install = event.data.object
  const settled = status ?? (field(install, 'status') === 'installed' ? 'installed' : undefined)
  const account = stringField(install, 'account')
  if (settled === undefined || account === undefined) return
  const applied = await installation(repos, event, settled, account, idOf(field(install, 'app')))
  if (applied && settled === 'uninstalled') await deleteAppData(repos, account)
}

/** Deletes an account's app data once none of its installations (test or live) is installed. */
async function deleteAppData (repos: Repos, account: string): Promise<void> {
  if (await repos.installations.anyInstalled(account)) return
  await repos.appSettings.deleteAccount(account)
  await repos.nonces.deleteAccount(account)
}

/**
 * A reader's last action, from `terminal.reader.action_updated` (in progress), `_succeeded` and
 * `_failed`, for every action type: the object it concerns is read from the action's own part
 * (`action.<type>`): a PaymentIntent (process_payment_intent, collect_payment_method,
 * confirm_payment_intent, refund_payment), a charge (refund_payment), a SetupIntent
 * (process_setup_intent) or the inputs' results (collect_inputs); set_reader_display has its type.
 */
async function readerAction (repos: Repos, event: Stripe.Event): Promise<void> {
  const reader = event.data.object
  const readerId = stringField(reader, 'id')
  if (readerId === undefined) return
  const action = field(reader, 'action')
  const type = stringField(action, 'type') ?? null
  const detail = type === null ? undefined : field(action, type)
  const livemode = event.livemode ? 1 : 0
  // the action's own status, else the event's word for it
  const byEvent = event.type.endsWith('_failed') ? 'failed' : event.type.endsWith('_updated') ? 'in_progress' : 'succeeded'
  const row = {
    type,
    status: stringField(action, 'status') ?? byEvent,
    failure_code: stringField(action, 'failure_code') ?? null,
    failure_message: stringField(action, 'failure_message') ?? null,
    payment_intent: idOf(field(detail, 'payment_intent')),
    charge: idOf(field(detail, 'charge')),
    setup_intent: idOf(field(detail, 'setup_intent')),
    inputs: type === 'collect_inputs' && Array.isArray(field(detail, 'inputs')) ? JSON.stringify(field(detail, 'inputs')) : null,
    updated_at: iso(event.created)
  }
  // a reader on the platform that a destination merchant's till registered is that merchant's
  const stamp = stringField(field(reader, 'metadata'), OWNER_METADATA)
  const account = typeof event.account === 'string' ? event.account : stamp ?? null
  // a newer outcome (by event time) is never overwritten by an older one (db/repos/reader-actions.ts)
  const recorded = { reader_id: readerId, livemode, account, ...row }
  // a change the streams send (GET /reader_events); an older outcome than the recorded one is not a change
  if (await repos.readerActions.record(recorded)) {
    await repos.readerActions.append({ reader_id: readerId, livemode, account, body: JSON.stringify(readerActionBody(recorded)) })
  }
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
