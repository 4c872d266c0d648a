import t from 'tap'
import { build } from '../../support/helper.js'
import { VERSIONS } from '../../support/terminal.js'

const FORM = { 'content-type': 'application/x-www-form-urlencoded' }
const KEY = 'k'.repeat(32)

t.test('server-driven reader flow, with an API key', async t => {
  const { app, fake } = await build(t, { env: { API_KEY: KEY } })
  const headers = { ...FORM, 'x-api-key': KEY }
  const post = (url: string, payload = '') => app.inject({ method: 'POST', url, headers, payload })

  const token = await post('/connection_token', 'location=tml_1')
  t.equal(token.statusCode, 200)
  t.equal(fake.callsTo('POST', '/v1/terminal/connection_tokens')[0]?.rawBody, 'location=tml_1', 'a location-scoped token')

  const all = await app.inject({ method: 'GET', url: '/list_readers', headers })
  t.same(
    all.json().map((r: { id: string }) => r.id),
    ['tmr_1', 'tmr_2'],
    'a top-level array'
  )
  t.same(fake.callsTo('GET', '/v1/terminal/readers')[0]?.query, { limit: '100' })
  const online = await app.inject({ method: 'GET', url: '/list_readers?location=tml_1&status=online', headers })
  t.same(
    online.json().map((r: { id: string }) => r.id),
    ['tmr_1']
  )
  t.same(fake.callsTo('GET', '/v1/terminal/readers')[1]?.query, { limit: '100', location: 'tml_1', status: 'online' })

  const pi = (await post('/create_payment_intent', 'amount=1500')).json()
  const processed = await post('/process_payment_intent', `reader_id=tmr_1&payment_intent_id=${pi.intent as string}`)
  t.equal(processed.statusCode, 200)
  t.match(processed.json(), { id: 'tmr_1', object: 'terminal.reader', action: { type: 'process_payment_intent', status: 'in_progress' } })
  t.same(fake.callsTo('POST', '/v1/terminal/readers/tmr_1/process_payment_intent')[0]?.params, { payment_intent: pi.intent })

  const simulated = await post('/simulate_payment', 'reader_id=tmr_1&card_number=4242424242424242')
  t.match(simulated.json(), { id: 'tmr_1', action: { status: 'succeeded' } })
  t.same(fake.callsTo('POST', '/v1/test_helpers/terminal/readers/tmr_1/present_payment_method')[0]?.params, {
    type: 'card_present',
    card_present: { number: '4242424242424242' }
  })
  const plain = await post('/simulate_payment', 'reader_id=tmr_2')
  t.equal(plain.statusCode, 200)
  t.equal(fake.callsTo('POST', '/v1/test_helpers/terminal/readers/tmr_2/present_payment_method')[0]?.rawBody, '')
  t.equal((await post('/simulate_payment', 'reader_id=tmr_1&card_number=abc')).statusCode, 400, 'a card number is digits')

  const setup = await post('/process_setup_intent', 'reader_id=tmr_1&setup_intent_id=seti_1')
  t.match(setup.json(), { action: { type: 'process_setup_intent' } })
  t.same(fake.callsTo('POST', '/v1/terminal/readers/tmr_1/process_setup_intent')[0]?.params, {
    setup_intent: 'seti_1',
    allow_redisplay: 'always'
  })

  const cancel = await post('/cancel_reader_action', 'reader_id=tmr_1')
  t.match(cancel.json(), { id: 'tmr_1', action: null })

  const refund = await post('/refund_payment', 'payment_intent_id=pi_1&amount=500')
  t.match(refund.json(), { object: 'refund', amount: 500, payment_intent: 'pi_1' })
  t.same(fake.callsTo('POST', '/v1/refunds')[0]?.params, { payment_intent: 'pi_1', amount: '500' })
  const byCharge = await post('/refund_payment', 'charge=ch_1')
  t.match(byCharge.json(), { object: 'refund', charge: 'ch_1' })
  const interac = await post('/refund_payment', 'charge=ch_2&reader_id=tmr_1&amount=100')
  t.match(interac.json(), { object: 'terminal.reader', action: { type: 'refund_payment' } })
  t.same(fake.callsTo('POST', '/v1/terminal/readers/tmr_1/refund_payment')[0]?.params, { charge: 'ch_2', amount: '100' })
  t.equal((await post('/refund_payment', 'charge=ch_1&amount=-5')).statusCode, 400, 'amount is a whole number')

  const noKey = await app.inject({
    method: 'POST',
    url: '/process_payment_intent',
    headers: FORM,
    payload: 'reader_id=tmr_1&payment_intent_id=pi_1'
  })
  t.equal(noKey.statusCode, 401, 'the API key is required')
})

t.test('JSON request bodies work too (query merged, body wins)', async t => {
  const { app, fake } = await build(t)
  const res = await app.inject({
    method: 'POST',
    url: '/create_payment_intent?amount=111&currency=eur',
    headers: { 'content-type': 'application/json; charset=utf-8' },
    payload: JSON.stringify({ amount: 999, payment_method_types: ['card_present', 'interac_present'] })
  })
  t.equal(res.statusCode, 200)
  t.same(fake.calls[0]?.params, {
    payment_method_types: ['card_present', 'interac_present'],
    capture_method: 'manual',
    amount: '999',
    currency: 'eur',
    description: 'Example PaymentIntent'
  })
})

t.test('a request is never refused for its content type', async t => {
  const { app } = await build(t)
  for (const headers of [
    {},
    { 'content-type': 'text/plain' },
    { 'content-type': 'application/json' },
    { 'content-type': 'application/octet-stream' },
    { 'content-type': 'multipart/form-data; boundary=x' },
    { 'content-type': 'application/x-www-form-urlencoded; charset=iso-8859-1' }
  ]) {
    const empty = await app.inject({ method: 'POST', url: '/connection_token', headers })
    t.equal(empty.statusCode, 200, `empty body, ${JSON.stringify(headers)}`)
  }
  const text = await app.inject({ method: 'POST', url: '/connection_token', headers: { 'content-type': 'text/plain' }, payload: 'hello' })
  t.equal(text.statusCode, 200, 'a text body is ignored')
})

t.test('form and JSON bodies are read whatever the case and parameters of their content type', async t => {
  const { app, fake } = await build(t)
  const bodies: Array<[string, string]> = [
    ['Application/X-WWW-Form-URLEncoded', 'amount=101'],
    ['application/x-www-form-urlencoded ; charset=UTF-8', 'amount=102'],
    ['APPLICATION/JSON', '{"amount":103}'],
    ['application/json;charset=utf-8', '{"amount":104}'],
    ['application/merge-patch+json', '{"amount":105}']
  ]
  for (const [type, payload] of bodies) {
    const res = await app.inject({ method: 'POST', url: '/create_payment_intent', headers: { 'content-type': type }, payload })
    t.equal(res.statusCode, 200, type)
  }
  t.same(
    fake.calls.map(c => c.params.amount),
    ['101', '102', '103', '104', '105'],
    'each amount reached Stripe'
  )
})

for (const version of VERSIONS) {
  t.test(`process_setup_intent sends the consent parameter the pinned version defines (API ${version})`, async t => {
    const { app, fake } = await build(t, { env: { STRIPE_API_VERSION: version } })
    const res = await app.inject({
      method: 'POST',
      url: '/process_setup_intent',
      headers: FORM,
      payload: 'reader_id=tmr_1&setup_intent_id=seti_1'
    })
    t.equal(res.statusCode, 200)
    const call = fake.callsTo('POST', '/v1/terminal/readers/tmr_1/process_setup_intent')[0]
    t.equal(call?.stripeVersion, version)
    // before 2024-09-30.acacia Stripe requires customer_consent_collected and rejects allow_redisplay
    t.same(
      call?.params,
      version < '2024-09-30'
        ? { setup_intent: 'seti_1', customer_consent_collected: 'true' }
        : { setup_intent: 'seti_1', allow_redisplay: 'always' }
    )
  })
}
