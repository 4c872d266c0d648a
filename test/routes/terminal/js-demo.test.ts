// stripe/stripe-terminal-js-demo (src/client.js): browser fetch with URLSearchParams bodies, plain
// text errors shown as "Request Failed: <text>", and `//path` when the backend URL ends in '/'.
import t from 'tap'
import { buildAt, decoded, VERSIONS } from '../../support/terminal.js'

const FORM = { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8', origin: 'http://localhost:4000' }
const body = (p: Record<string, string | string[]>): string => {
  const s = new URLSearchParams()
  for (const [k, v] of Object.entries(p)) for (const x of [v].flat()) s.append(k, x)
  return s.toString()
}

for (const version of VERSIONS) {
  t.test(`JS demo flow (API ${version})`, async t => {
    const { app, fake } = await buildAt(t, version)
    const post = (url: string, payload = '') => app.inject({ method: 'POST', url, headers: FORM, payload })

    const token = await post('//connection_token')
    t.equal(token.statusCode, 200, 'a trailing slash in the backend URL still works')
    t.match(token.json(), { secret: /^pst_test_/ })
    t.equal(token.headers['access-control-allow-origin'], '*', 'browser may read it (development default)')
    t.equal(fake.callsTo('POST', '/v1/terminal/connection_tokens')[0]?.rawBody, '', 'no params sent to Stripe')
    t.equal(fake.calls[0]?.stripeVersion, version)

    const locations = await app.inject({ method: 'GET', url: '/list_locations', headers: { origin: FORM.origin } })
    const list = locations.json()
    t.ok(Array.isArray(list), 'a top-level array')
    t.equal(list.length, 2)
    t.match(list[0], { id: 'tml_1', display_name: 'HQ' })
    t.equal(fake.callsTo('GET', '/v1/terminal/locations')[0]?.query.limit, '100')

    const reader = await post('/register_reader', body({ label: 'Front', registration_code: 'simulated-wpe', location: 'null' }))
    t.equal(reader.statusCode, 200)
    t.match(
      reader.json(),
      { id: /^tmr_/, object: 'terminal.reader', label: 'Front', location: 'null', status: 'online' },
      'the whole Reader, for connectReader()'
    )
    t.equal(
      decoded(fake.callsTo('POST', '/v1/terminal/readers')[0]),
      'registration_code=simulated-wpe&label=Front&location=null',
      'location "null" forwarded as the original did'
    )

    const pi = await post(
      '/create_payment_intent',
      body({ amount: '5200', currency: 'cad', description: 'Test Charge', 'payment_method_types[]': ['card_present', 'interac_present'] })
    )
    t.equal(pi.statusCode, 200)
    t.match(pi.json(), { intent: /^pi_/, secret: /^pi_.*_secret_/ })
    t.same(Object.keys(pi.json()), ['intent', 'secret'])
    t.equal(
      decoded(fake.callsTo('POST', '/v1/payment_intents')[0]),
      'payment_method_types[0]=card_present&payment_method_types[1]=interac_present' +
      '&capture_method=manual&amount=5200&currency=cad&description=Test Charge'
    )

    const capture = await post('/capture_payment_intent', body({ payment_intent_id: pi.json().intent }))
    t.equal(capture.statusCode, 200)
    t.equal(fake.callsTo('POST', /\/capture$/)[0]?.rawBody, '')

    const attach = await post('/attach_payment_method_to_customer', body({ payment_method_id: 'pm_1' }))
    t.equal(attach.statusCode, 200)
    t.match(attach.json(), { id: 'pm_1', customer: { object: 'customer', email: 'example@test.com' } })
    t.same(fake.callsTo('GET', '/v1/customers')[0]?.query, { email: 'example@test.com', limit: '1' })
    t.equal(decoded(fake.callsTo('POST', '/v1/customers')[0]), 'email=example@test.com', 'no example customer yet: created')
    t.equal(
      decoded(fake.callsTo('POST', '/v1/payment_methods/pm_1/attach')[0]),
      `customer=${attach.json().customer.id as string}&expand[0]=customer`
    )
  })
}

for (const version of VERSIONS) {
  t.test(`JS demo: the older payment_method_types[i] form (API ${version})`, async t => {
    const { app, fake } = await buildAt(t, version)
    await app.inject({
      method: 'POST',
      url: '/create_payment_intent',
      headers: FORM,
      payload: 'amount=100&payment_method_types%5B0%5D=card_present&payment_method_types%5B1%5D=interac_present'
    })
    t.match(decoded(fake.calls[0]), /^payment_method_types\[0\]=card_present&payment_method_types\[1\]=interac_present&/)
  })
}

for (const version of VERSIONS) {
  t.test(`JS demo: errors are plain text it can show (API ${version})`, async t => {
    const { app, fake } = await buildAt(t, version)
    fake.on('POST', '/v1/payment_intents', {
      status: 400,
      body: { error: { type: 'invalid_request_error', message: 'Received unknown parameter: allowed_source_types' } }
    })
    const res = await app.inject({ method: 'POST', url: '/create_payment_intent', headers: FORM, payload: 'amount=100' })
    t.equal(res.statusCode, 402)
    t.match(res.headers['content-type'], /^text\/plain/)
    t.equal(res.body, 'Error creating PaymentIntent! Received unknown parameter: allowed_source_types')
    t.equal(res.headers['access-control-allow-origin'], '*', 'errors readable cross-origin too')
  })
}
