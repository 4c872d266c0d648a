// stripe/stripe-terminal-react-native example-app/src/api/api.ts: URLSearchParams bodies, a
// duplicate payment_method_types[]=card_present, and every response read with resp.json().
import t from 'tap'
import { buildAt, decoded, VERSIONS } from '../../support/terminal.js'

const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

for (const version of VERSIONS) {
  t.test(`React Native example flow (API ${version})`, async t => {
    const { app, fake } = await buildAt(t, version)
    const post = (url: string, params: Array<[string, string]>) =>
      app.inject({ method: 'POST', url, headers: FORM, payload: new URLSearchParams(params).toString() })

    t.match((await post('/connection_token', [])).json(), { secret: /^pst_/ })
    const reader = await post('/register_reader', [
      ['label', 'rn example app reader'],
      ['registration_code', 'simulated-wpe']
    ])
    t.match(reader.json(), { id: /^tmr_/ })
    t.equal(decoded(fake.callsTo('POST', '/v1/terminal/readers')[0]), 'registration_code=simulated-wpe&label=rn example app reader')

    const pi = await post('/create_payment_intent', [
      ['amount', '1000'],
      ['currency', 'usd'],
      ['description', 'Example PaymentIntent'],
      ['payment_method_types[]', 'card_present'],
      ['payment_method_types[]', 'card_present'],
      ['capture_method', 'manual']
    ])
    t.match(pi.json(), { intent: /^pi_/, secret: /secret/ }, 'intent and secret for the RN mapping')
    t.equal(
      decoded(fake.callsTo('POST', '/v1/payment_intents')[0]),
      'payment_method_types[0]=card_present&payment_method_types[1]=card_present' +
      '&capture_method=manual&amount=1000&currency=usd&description=Example PaymentIntent',
      'duplicates are forwarded, not refused'
    )

    const capture = await post('/capture_payment_intent', [['payment_intent_id', pi.json().intent]])
    t.match(capture.json(), { intent: pi.json().intent, secret: /secret/ })

    const setup = await post('/create_setup_intent', [
      ['description', 'Example SetupIntent'],
      ['payment_method_types[]', 'card_present'],
      ['customer', 'cus_9']
    ])
    t.match(setup.json(), { intent: /^seti_/, secret: /secret/ })
    t.equal(
      decoded(fake.callsTo('POST', '/v1/setup_intents')[0]),
      'payment_method_types[0]=card_present&customer=cus_9&description=Example SetupIntent'
    )

    const attach = await post('/attach_payment_method_to_customer', [['payment_method_id', 'pm_rn']])
    t.equal(attach.json().id, 'pm_rn')
  })
}

for (const version of VERSIONS) {
  t.test(`React Native: errors as JSON when the app asks for JSON (API ${version})`, async t => {
    const { app, fake } = await buildAt(t, version)
    fake.on('POST', '/v1/payment_intents', {
      status: 402,
      body: { error: { type: 'card_error', code: 'card_declined', message: 'Your card was declined.' } }
    })
    const res = await app.inject({
      method: 'POST',
      url: '/create_payment_intent',
      headers: { ...FORM, accept: 'application/json' },
      payload: 'amount=100'
    })
    t.equal(res.statusCode, 402)
    t.same(
      res.json(),
      { error: { message: 'Error creating PaymentIntent! Your card was declined.', type: 'card_error', code: 'card_declined' } },
      '`error` in resp is what the app checks'
    )
  })
}
