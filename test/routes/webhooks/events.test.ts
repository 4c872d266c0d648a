// Every event Stripe sends is taken: events built from Stripe's own fixtures for every event type
// of the pinned stripe-node, thin payloads as stripe-node parses them, and every reader action type.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import t from 'tap'
import Stripe from 'stripe'
import type { FastifyInstance } from 'fastify'
import { build, sign } from '../../support/helper.js'
import { fixture, fixturesAvailable, resources } from '../../support/fixtures.js'

const SECRET = 'whsec_events'
const KEY = 'k'.repeat(32)
const skip = fixturesAvailable ? false : 'Stripe fixtures (../shared/stripe-openapi/fixtures3.json) absent'
const now = (): number => Math.floor(Date.now() / 1000)
let n = 0

/**
 * Every `Stripe.Event.Type` of the pinned stripe-node with the type of its `data.object`, read from
 * the package's own declarations (`type: '…'; data: XEvent.Data` … `object: Namespace.Type`).
 */
function pinnedEventTypes (): Array<{ type: string, object: string }> {
  const root = dirname(createRequire(import.meta.url).resolve('stripe'))
  const candidates = [join(root, '..', 'esm', 'resources', 'Events.d.ts'), join(root, 'resources', 'Events.d.ts')]
  const file = candidates.find(f => { try { readFileSync(f); return true } catch { return false } })!
  const text = readFileSync(file, 'utf8')
  const re = new RegExp("type: '([^']+)';\\s*data: (\\w+)\\.Data;\\s*\\}\\s*export declare namespace \\2 \\{\\s*" +
    'interface Data extends Event\\.Data \\{\\s*object: ([\\w.]+);', 'g')
  return [...text.matchAll(re)].map(m => ({ type: m[1]!, object: m[3]! }))
}
/** `Issuing.Authorization` → `issuing.authorization`, `PaymentIntent` → `payment_intent`: the fixtures' names */
const fixtureName = (tsType: string): string =>
  tsType.split('.').map(p => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/([A-Z])([A-Z][a-z])/g, '$1_$2').toLowerCase()).join('.')

/** Stripe's event envelope (its own example event) around `object`, delivered now, pretty-printed as Stripe sends it. */
const envelope = (type: string, object: Record<string, unknown>, extra: Record<string, unknown> = {}): string =>
  JSON.stringify(fixture('event', { id: `evt_${now()}_${n++}`, type, created: now(), data: { object }, ...extra }), null, 2)

const deliver = async (app: FastifyInstance, payload: string) => await app.inject({
  method: 'POST',
  url: '/webhooks',
  payload,
  headers: { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': sign(payload, SECRET) }
})

const readerAction = async (app: FastifyInstance, reader: string) =>
  await app.inject({ method: 'GET', url: `/reader_action?reader_id=${reader}`, headers: { 'x-api-key': KEY } })

t.test('every event type of the pinned version that has a fixture: taken, then a duplicate', { skip }, async t => {
  const { app } = await build(t, { env: { STRIPE_WEBHOOK_SECRET: SECRET, API_KEY: KEY } })
  const types = pinnedEventTypes()
  t.ok(types.length > 250, `${types.length} event types read from the pinned stripe-node`)
  const covered: string[] = []
  for (const { type, object } of types) {
    const name = fixtureName(object)
    if (resources[name] === undefined) continue
    const payload = envelope(type, fixture(name, {}))
    const res = await deliver(app, payload)
    t.equal(res.statusCode, 200, `${type} (${name}): ${res.body.slice(0, 200)}`)
    t.same((await deliver(app, payload)).json(), { received: true, duplicate: true }, `${type}: redelivered`)
    covered.push(type)
  }
  t.ok(covered.length > 200, `${covered.length} of ${types.length} event types have a fixture and were taken`)
  t.comment(`covered ${covered.length} of ${types.length} event types; without a fixture: ${types.length - covered.length}`)
})

t.test('caller-chosen and dotted object ids are taken (issue 22)', { skip }, async t => {
  const { app } = await build(t, { env: { STRIPE_WEBHOOK_SECRET: SECRET } })
  for (const [type, object] of [
    ['reporting.report_type.updated', fixture('reporting.report_type', {})],
    ['product.created', fixture('product', { id: 'basic-monthly' })],
    ['coupon.created', fixture('coupon', { id: 'SUMMER-25' })],
    ['customer.created', fixture('customer', {})]
  ] as const) {
    const payload = envelope(type, object, { api_version: '2099-01-01.future', unknown_field: { x: 1 } })
    t.equal((await deliver(app, payload)).statusCode, 200, `${type} ${String(object.id)}`)
    t.same((await deliver(app, payload)).json(), { received: true, duplicate: true })
  }
  const stored = await app.store.db.selectFrom('webhook_events').select('type').execute()
  t.equal(stored.length, 4, 'each recorded')
})

t.test('events that are not Stripe events are still refused, and handled types are checked', { skip }, async t => {
  const { app } = await build(t, { env: { STRIPE_WEBHOOK_SECRET: SECRET } })
  for (const [what, body] of [
    ['no id', JSON.stringify({ type: 'x.y' })],
    ['a numeric id', JSON.stringify({ id: 1, type: 'x.y' })],
    ['a NUL in the id', JSON.stringify({ id: 'evt_\u0000', type: 'x.y' })],
    ['a reader event without its reader id', envelope('terminal.reader.action_succeeded', { object: 'terminal.reader' })],
    ['a thin event without its time', JSON.stringify({ id: 'evt_t', object: 'v2.core.event', type: 'v1.customer.created' })]
  ] as const) {
    const res = await deliver(app, body)
    t.equal(res.statusCode, 400, `${what}: ${res.body}`)
  }
  t.equal((await app.store.db.selectFrom('webhook_events').selectAll().execute()).length, 0, 'nothing recorded')
})

/** A reader, from Stripe's fixture, in the middle or at the end of `action`. */
const reader = (id: string, action: Record<string, unknown>) =>
  fixture('terminal.reader', { id, action: { failure_code: null, failure_message: null, ...action } })

t.test('every reader action type is recorded with what it concerns; action_updated is the in-progress state', { skip }, async t => {
  const { app } = await build(t, { env: { STRIPE_WEBHOOK_SECRET: SECRET, API_KEY: KEY } })
  const cases: Array<[string, Record<string, unknown>, Record<string, unknown>]> = [
    ['process_payment_intent', { process_payment_intent: { payment_intent: 'pi_p' } }, { payment_intent: 'pi_p' }],
    ['collect_payment_method', { collect_payment_method: { payment_intent: 'pi_c', payment_method: fixture('payment_method', {}) } },
      { payment_intent: 'pi_c' }],
    ['confirm_payment_intent', { confirm_payment_intent: { payment_intent: { id: 'pi_x', object: 'payment_intent' } } },
      { payment_intent: 'pi_x' }],
    ['refund_payment', { refund_payment: { payment_intent: 'pi_r', charge: 'ch_r', amount: 100 } },
      { payment_intent: 'pi_r', charge: 'ch_r' }],
    ['process_setup_intent', { process_setup_intent: { setup_intent: 'seti_s' } }, { setup_intent: 'seti_s' }],
    ['collect_inputs', { collect_inputs: { inputs: [{ type: 'email', email: { value: 'a@example.com' } }] } },
      { inputs: [{ type: 'email', email: { value: 'a@example.com' } }] }],
    ['set_reader_display', { set_reader_display: { type: 'cart', cart: null } }, { type: 'set_reader_display' }]
  ]
  for (const [type, detail, want] of cases) {
    const id = `tmr_${type}`
    const started = now() - 10
    t.equal((await deliver(app, envelope('terminal.reader.action_updated', reader(id, { type, status: 'in_progress', ...detail }),
      { created: started }))).statusCode, 200)
    const during = await readerAction(app, id)
    t.equal(during.statusCode, 200, `${type}: readable while the reader works`)
    t.match(during.json().action, { type, status: 'in_progress', ...want }, `${type}: in progress`)
    const done = reader(id, { type, status: 'succeeded', ...detail })
    await deliver(app, envelope('terminal.reader.action_succeeded', done, { created: started + 5 }))
    t.match((await readerAction(app, id)).json().action, { type, status: 'succeeded', ...want }, `${type}: succeeded`)
    // a late in-progress event, older than the outcome, does not overwrite it
    const late = reader(id, { type, status: 'in_progress', ...detail })
    await deliver(app, envelope('terminal.reader.action_updated', late, { created: started + 1 }))
    t.equal((await readerAction(app, id)).json().action.status, 'succeeded', `${type}: the newest event wins`)
  }
})

t.test('thin events: verified, deduplicated, recorded; reader actions fetched and applied', { skip }, async t => {
  const { app, fake } = await build(t, { env: { STRIPE_WEBHOOK_SECRET: SECRET, API_KEY: KEY } })
  const thin = (type: string, extra: Record<string, unknown> = {}): string => JSON.stringify({
    id: `evt_thin_${n++}`,
    object: 'v2.core.event',
    type,
    created: new Date().toISOString(),
    livemode: false,
    reason: { type: 'request', request: { id: 'req_1', idempotency_key: null } },
    ...extra
  }, null, 2)
  // stripe-node's own parser takes each payload the test delivers
  const client = new Stripe('sk_test_123')
  const parsed = (payload: string) => client.parseEventNotification(payload, sign(payload, SECRET), SECRET)

  const plain = thin('v2.core.account.updated', {
    related_object: { id: 'acct_1', type: 'v2.core.account', url: '/v2/core/accounts/acct_1' }
  })
  t.equal(parsed(plain).type, 'v2.core.account.updated', 'stripe-node parses it')
  t.equal((await deliver(app, plain)).statusCode, 200, 'a v2 event the service does not act on: recorded')
  t.same((await deliver(app, plain)).json(), { received: true, duplicate: true })
  const v1 = thin('v1.customer.created', { related_object: { id: 'cus_1', type: 'customer', url: '/v1/customers/cus_1' } })
  t.equal((await deliver(app, v1)).statusCode, 200, 'a thin v1 event the service does not act on: recorded, nothing fetched')
  t.equal(fake.calls.length, 0)

  // a reader action: its snapshot event is fetched on the event's account, then handled as a snapshot would be
  const snapshot = fixture('event', {
    id: 'evt_snapshot_1',
    type: 'terminal.reader.action_succeeded',
    created: now(),
    account: 'acct_M',
    data: {
      object: reader('tmr_thin', {
        type: 'collect_payment_method', status: 'succeeded', collect_payment_method: { payment_intent: 'pi_thin' }
      })
    }
  })
  fake.put(snapshot, 'acct_M')
  const withSnapshot = thin('v1.terminal.reader.action_succeeded', {
    context: 'acct_M',
    snapshot_event: 'evt_snapshot_1',
    related_object: { id: 'tmr_thin', type: 'terminal.reader', url: '/v1/terminal/readers/tmr_thin' }
  })
  t.equal(parsed(withSnapshot).type, 'v1.terminal.reader.action_succeeded', 'stripe-node parses it')
  t.equal((await deliver(app, withSnapshot)).statusCode, 200)
  t.match(fake.calls.map(c => [c.method, c.path, c.stripeAccount]), [['GET', '/v1/events/evt_snapshot_1', 'acct_M']])
  t.match((await readerAction(app, 'tmr_thin')).json().action,
    { type: 'collect_payment_method', status: 'succeeded', payment_intent: 'pi_thin' })

  // no snapshot event named: the reader's current state
  fake.put(reader('tmr_related', { type: 'process_setup_intent', status: 'in_progress', process_setup_intent: { setup_intent: 'seti_r' } }))
  const related = thin('v1.terminal.reader.action_updated', {
    related_object: { id: 'tmr_related', type: 'terminal.reader', url: '/v1/terminal/readers/tmr_related' }
  })
  t.equal((await deliver(app, related)).statusCode, 200)
  t.match((await readerAction(app, 'tmr_related')).json().action, { status: 'in_progress', setup_intent: 'seti_r' })

  // Stripe cannot be reached: 503, nothing recorded, so the redelivery is handled in full
  const failing = thin('v1.terminal.reader.action_failed', { snapshot_event: 'evt_snapshot_2' })
  fake.on('GET', '/v1/events/evt_snapshot_2', { status: 500, body: { error: { type: 'api_error', message: 'down' } } })
  const refused = await deliver(app, failing)
  t.equal(refused.statusCode, 503, refused.body)
  t.equal(refused.json().error.type, 'api_error')
  fake.put(fixture('event', {
    id: 'evt_snapshot_2',
    type: 'terminal.reader.action_failed',
    created: now(),
    data: { object: reader('tmr_failing', { type: 'process_payment_intent', status: 'failed', failure_code: 'card_declined' }) }
  }))
  const redelivered = await deliver(app, failing)
  t.same(redelivered.json(), { received: true }, 'handled on redelivery, not a duplicate')
  t.match((await readerAction(app, 'tmr_failing')).json().action, { status: 'failed', failure_code: 'card_declined' })
})

t.test('apps.install.* drive the install lifecycle as account.application.* do', async t => {
  const { app } = await build(t, { env: { STRIPE_WEBHOOK_SECRET: SECRET } })
  // Stripe.Apps.Install of the pinned stripe-node (fixtures3.json has no apps.install)
  const install = (status: string): Stripe.Apps.Install => ({
    id: 'inst_1',
    object: 'apps.install',
    account: 'acct_I',
    app: 'app_1',
    approval_required: false,
    auth_code: null,
    channel: 'public',
    content_security_policy_granted: { connect_src: [], image_src: [] },
    content_security_policy_pending: { connect_src: [], image_src: [] },
    created: now(),
    created_by: null,
    endpoints_granted: [],
    endpoints_pending: [],
    livemode: false,
    permissions_granted: [],
    permissions_pending: [],
    status
  }) as unknown as Stripe.Apps.Install
  const event = (type: string, status: string, created: number): string => JSON.stringify({
    id: `evt_inst_${n++}`,
    object: 'event',
    type,
    created,
    livemode: false,
    api_version: Stripe.API_VERSION,
    data: { object: install(status) }
  }, null, 2)
  const state = async () => await app.store.db.selectFrom('installations').selectAll().where('account', '=', 'acct_I').executeTakeFirst()
  const settings = { account: 'acct_I', settings: '{}', updated_at: new Date().toISOString() }
  await app.store.db.insertInto('app_settings').values(settings).execute()
  t.equal((await deliver(app, event('apps.install.created', 'installed', now() - 20))).statusCode, 200)
  t.match(await state(), { status: 'installed', app_id: 'app_1' })
  const unsettled = await deliver(app, event('apps.install.updated', 'uninstalling', now() - 15))
  t.equal(unsettled.statusCode, 200, 'an unsettled status is only recorded')
  t.match(await state(), { status: 'installed' })
  t.equal((await deliver(app, event('apps.install.deleted', 'uninstalling', now() - 10))).statusCode, 200)
  t.match(await state(), { status: 'uninstalled' })
  const left = await app.store.db.selectFrom('app_settings').selectAll().where('account', '=', 'acct_I').execute()
  t.equal(left.length, 0, 'its app data deleted')
  t.equal((await deliver(app, event('apps.install.created', 'installed', now() - 30))).statusCode, 200)
  t.match(await state(), { status: 'uninstalled' }, 'an older install does not undo a newer uninstall')
})
