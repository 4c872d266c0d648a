// A till's retry after a network blip must not charge twice: every Terminal POST accepts an
// Idempotency-Key, and the Stripe calls it causes carry a key derived from the caller and that
// header — the same on a retry, never shared between two callers, one per call within a route.
import t from 'tap'
import { build } from '../../support/helper.js'

const A = 'a'.repeat(32)
const B = 'b'.repeat(32)
const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

t.test("a retried POST reaches Stripe with the same key; another caller's equal header does not", async t => {
  const { app, fake } = await build(t, { env: { API_KEY: `${A},${B}` } })
  const post = (url: string, payload: string, key: string, idem?: string) =>
    app.inject({
      method: 'POST',
      url,
      payload,
      headers: { ...FORM, 'x-api-key': key, ...(idem === undefined ? {} : { 'idempotency-key': idem }) }
    })
  const routes: Array<[string, string, string, RegExp]> = [
    ['/create_payment_intent', 'amount=100', 'POST', /^\/v1\/payment_intents$/],
    ['/capture_payment_intent', 'payment_intent_id=pi_1', 'POST', /^\/v1\/payment_intents\/pi_1\/capture$/],
    ['/refund_payment', 'payment_intent_id=pi_1', 'POST', /^\/v1\/refunds$/],
    ['/connection_token', '', 'POST', /^\/v1\/terminal\/connection_tokens$/]
  ]
  for (const [url, payload, method, path] of routes) {
    fake.reset()
    t.equal((await post(url, payload, A, 'till-42-txn-7')).statusCode, 200)
    t.equal((await post(url, payload, A, 'till-42-txn-7')).statusCode, 200, `${url}: the retry`)
    await post(url, payload, B, 'till-42-txn-7')
    await post(url, payload, A, 'till-42-txn-8')
    const keys = fake.callsTo(method, path).map(c => c.idempotencyKey)
    t.equal(keys.length, 4)
    t.match(keys[0], /^stb-[0-9a-f]{64}$/)
    t.equal(keys[0], keys[1], `${url}: the same caller repeating its key gets the same Stripe key`)
    t.not(keys[2], keys[0], `${url}: another caller with the same header gets another key`)
    t.not(keys[3], keys[0], `${url}: another header, another key`)
  }
})

t.test('a route that makes two Stripe calls derives one key per call', async t => {
  const { app, fake } = await build(t, { env: { API_KEY: A } })
  const res = await app.inject({
    method: 'POST',
    url: '/attach_payment_method_to_customer',
    payload: 'payment_method_id=pm_1',
    headers: { ...FORM, 'x-api-key': A, 'idempotency-key': 'k1' }
  })
  t.equal(res.statusCode, 200)
  const created = fake.callsTo('POST', '/v1/customers')[0]!.idempotencyKey
  const attached = fake.callsTo('POST', '/v1/payment_methods/pm_1/attach')[0]!.idempotencyKey
  t.match(created, /^stb-/)
  t.match(attached, /^stb-/)
  t.not(created, attached)
})

t.test('without the header nothing changes; a malformed one is a 400 and nothing reaches Stripe', async t => {
  const { app, fake } = await build(t)
  await app.inject({ method: 'POST', url: '/create_payment_intent', headers: FORM, payload: 'amount=100' })
  await app.inject({ method: 'POST', url: '/create_payment_intent', headers: FORM, payload: 'amount=100' })
  const [first, second] = fake.callsTo('POST', '/v1/payment_intents').map(c => c.idempotencyKey)
  t.notMatch(first, /^stb-/, "stripe-node's own key")
  t.not(first, second, 'a new one each time')
  fake.reset()
  for (const bad of ['', 'x'.repeat(256), 'tab\there', 'é']) {
    const headers = { ...FORM, 'idempotency-key': bad }
    const res = await app.inject({ method: 'POST', url: '/create_payment_intent', headers, payload: 'amount=100' })
    t.equal(res.statusCode, 400, JSON.stringify(bad).slice(0, 20))
    t.equal(res.body, 'Idempotency-Key must be 1 to 255 printable characters.')
  }
  t.equal(fake.calls.length, 0)
})
