// Outcomes pushed live (issue "Today's server-driven readers", item 7): GET /reader_events over a
// real socket, read the way a till reads it (a streaming fetch with the key in a header). The whole
// server-driven flow, a decline, Last-Event-ID, merchant scoping, the per-key cap and shutdown.
// Across replicas: test/e2e/faults/replicas.test.ts.
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, sign } from '../../support/helper.js'
import { fixture, fixturesAvailable } from '../../support/fixtures.js'
import { openStream } from '../../support/sse.js'

const KEY = 'k'.repeat(32)
const ADMIN = 'admin-key-0123456789abcdef0123456789'
const WHSEC = 'whsec_streams'
const FORM = { 'content-type': 'application/x-www-form-urlencoded' }
const skip = fixturesAvailable ? false : 'Stripe\'s fixtures are absent'

let created = 1_700_000_000
/** a reader action as Stripe reports it */
const act = (type: string, status: string, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ type, status, failure_code: null, failure_message: null, ...extra })
/** A signed terminal.reader.action_* delivery, from Stripe's own fixtures */
async function deliver (
  app: FastifyInstance, reader: string, type: string, action: Record<string, unknown>, account?: string
): Promise<void> {
  const event = fixture('event', {
    id: `evt_${created}`,
    type,
    livemode: false,
    created: created++,
    data: { object: fixture('terminal.reader', { id: reader, action, metadata: {} }) }
  })
  delete event.account
  if (account !== undefined) event.account = account
  const payload = JSON.stringify(event)
  const headers = { 'content-type': 'application/json', 'stripe-signature': sign(payload, WHSEC) }
  const res = await app.inject({ method: 'POST', url: '/webhooks', payload, headers })
  if (res.statusCode !== 200) throw new Error(res.body)
}

async function serve (t: Test, env: Record<string, string> = {}) {
  const built = await build(t, { env: { API_KEY: KEY, ADMIN_API_KEY: ADMIN, STRIPE_WEBHOOK_SECRET: WHSEC, ...env } })
  await built.app.listen({ port: 0, host: '127.0.0.1' })
  const address = built.app.server.address()
  const base = typeof address === 'object' && address !== null ? `http://127.0.0.1:${address.port}` : ''
  return { ...built, base }
}

t.test('the server-driven flow as a till runs it: the stream says in_progress, then succeeded', { skip }, async t => {
  const { app, base, fake } = await serve(t)
  const headers = { 'x-api-key': KEY }
  const post = async (url: string, payload: string) =>
    await app.inject({ method: 'POST', url, headers: { ...FORM, ...headers }, payload })

  const intent = (await post('/create_payment_intent', 'amount=1500&metadata[order]=42')).json().intent as string
  const stream = await openStream(`${base}/reader_events?reader_id=tmr_flow`, headers)
  t.equal(stream.status, 200)
  t.match(stream.headers.get('content-type'), /^text\/event-stream/)
  t.ok(stream.headers.get('x-request-id'), 'it names its request, as every answer does')

  t.equal((await post('/set_reader_display', 'reader_id=tmr_flow&cart[currency]=usd&cart[line_items][0][description]=Latte' +
    '&cart[line_items][0][amount]=1500&cart[line_items][0][quantity]=1&cart[total]=1500')).statusCode, 200)
  t.equal((await post('/collect_payment_method', `reader_id=tmr_flow&payment_intent_id=${intent}`)).statusCode, 200)
  await deliver(app, 'tmr_flow', 'terminal.reader.action_updated',
    act('collect_payment_method', 'in_progress', { collect_payment_method: { payment_intent: intent } }))
  const first = await stream.next()
  t.equal(first.event, 'action')
  t.match(first.id, /^[0-9]+$/)
  t.match(JSON.parse(first.data),
    { reader_id: 'tmr_flow', action: { type: 'collect_payment_method', status: 'in_progress', payment_intent: intent } })

  t.equal((await post('/simulate_payment', 'reader_id=tmr_flow')).statusCode, 200, 'the fake\'s test helper presents a card')
  await deliver(app, 'tmr_flow', 'terminal.reader.action_succeeded',
    act('collect_payment_method', 'succeeded', { collect_payment_method: { payment_intent: intent } }))
  const second = await stream.next()
  const read = await app.inject({ method: 'GET', url: '/reader_action?reader_id=tmr_flow', headers })
  t.same(JSON.parse(second.data), read.json(), 'exactly the JSON of GET /reader_action')
  t.equal(read.json().action.status, 'succeeded')
  t.ok(Number(second.id) > Number(first.id), 'ids increase')

  t.equal((await post('/confirm_payment_intent', `reader_id=tmr_flow&payment_intent_id=${intent}`)).statusCode, 200)
  t.equal((await post('/capture_payment_intent', `payment_intent_id=${intent}`)).statusCode, 200)
  t.same(fake.calls.map(c => `${c.method} ${c.path.replace(intent, '<pi>')}`), [
    'POST /v1/payment_intents',
    'POST /v1/terminal/readers/tmr_flow/set_reader_display',
    'POST /v1/terminal/readers/tmr_flow/collect_payment_method',
    'POST /v1/test_helpers/terminal/readers/tmr_flow/present_payment_method',
    'POST /v1/terminal/readers/tmr_flow/confirm_payment_intent',
    'POST /v1/payment_intents/<pi>/capture'
  ], 'the calls of the flow, in order')

  // a decline: failed, with Stripe's code and message
  await deliver(app, 'tmr_flow', 'terminal.reader.action_failed', {
    type: 'confirm_payment_intent',
    status: 'failed',
    failure_code: 'card_declined',
    failure_message: 'Your card was declined.',
    confirm_payment_intent: { payment_intent: intent }
  })
  t.match(JSON.parse((await stream.next()).data),
    { action: { status: 'failed', failure_code: 'card_declined', failure_message: 'Your card was declined.' } })

  // an older outcome arriving late changes nothing, so nothing is sent for it
  created -= 10
  await deliver(app, 'tmr_flow', 'terminal.reader.action_succeeded', act('process_payment_intent', 'succeeded'))
  created += 20
  await deliver(app, 'tmr_flow', 'terminal.reader.action_updated', act('process_payment_intent', 'in_progress'))
  t.match(JSON.parse((await stream.next()).data), { action: { type: 'process_payment_intent', status: 'in_progress' } },
    'the late one was skipped')

  // resumed with Last-Event-ID: everything after it, in order
  stream.close()
  const resumed = await openStream(`${base}/reader_events?reader_id=tmr_flow`, { ...headers, 'last-event-id': first.id! })
  const missed = [await resumed.next(), await resumed.next(), await resumed.next()].map(e => JSON.parse(e.data).action.status)
  t.same(missed, ['succeeded', 'failed', 'in_progress'], 'what it missed, nothing twice')
  resumed.close()
})

t.test('a merchant key hears only its own merchant\'s readers; the key is never taken from the query string', { skip }, async t => {
  const { app, base } = await serve(t)
  const minted = await app.inject({
    method: 'POST', url: '/admin/keys', headers: { authorization: `Bearer ${ADMIN}` }, payload: { account: 'acct_A', label: 'till' }
  })
  const merchant = { 'x-api-key': minted.json().key as string }
  const mine = await openStream(`${base}/reader_events?reader_id=tmr_shared`, merchant)
  const platform = await openStream(`${base}/reader_events?reader_id=tmr_shared`, { 'x-api-key': KEY })
  await deliver(app, 'tmr_shared', 'terminal.reader.action_updated', act('process_payment_intent', 'in_progress'), 'acct_B')
  await deliver(app, 'tmr_shared', 'terminal.reader.action_succeeded', act('process_payment_intent', 'succeeded'), 'acct_A')
  t.match(JSON.parse((await mine.next()).data), { action: { status: 'succeeded' } }, 'acct_B\'s change never reached acct_A\'s till')
  t.match(JSON.parse((await platform.next()).data), { action: { status: 'in_progress' } }, 'the platform hears every change')
  mine.close()
  platform.close()

  const query = await openStream(`${base}/reader_events?reader_id=tmr_shared&x-api-key=${KEY}&api_key=${KEY}`, {})
  t.equal(query.status, 401, 'a key in the query string is not a key')
  const missing = await openStream(`${base}/reader_events`, { 'x-api-key': KEY })
  t.equal(missing.status, 400)
})

t.test('streams per key are capped; shutdown ends every stream and does not wait for them', { skip }, async t => {
  const { app, base } = await serve(t, { MAX_STREAMS_PER_KEY: '2' })
  const headers = { 'x-api-key': KEY }
  const a = await openStream(`${base}/reader_events?reader_id=tmr_1`, headers)
  const b = await openStream(`${base}/reader_events?reader_id=tmr_2`, headers)
  const c = await openStream(`${base}/reader_events?reader_id=tmr_3`, headers)
  t.equal(c.status, 429, 'the third is refused')
  t.ok(c.headers.get('retry-after'), 'with Retry-After')
  a.close()
  // the server hears the close on its next turn: the slot is free once it has
  let d = await openStream(`${base}/reader_events?reader_id=tmr_4`, headers)
  for (let i = 0; i < 50 && d.status === 429; i++) {
    await new Promise(resolve => setImmediate(resolve))
    d = await openStream(`${base}/reader_events?reader_id=tmr_4`, headers)
  }
  t.equal(d.status, 200, 'a closed stream frees its slot')
  await app.close()
  t.ok(b.ended() || await b.next().then(() => false, () => true), 'closing the server ended the open streams')
  t.ok(d.ended() || await d.next().then(() => false, () => true))
})
