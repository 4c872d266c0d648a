// stripe/stripe-terminal-ios Example/APIClient.swift (Alamofire URLEncoding): keys sorted, arrays
// as key[], nested as a[b][c], brackets escaped, `; charset=utf-8`; 402 body text shown as the error.
import t from 'tap'
import { buildAt, decoded, VERSIONS } from '../../support/terminal.js'

const HEADERS = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', 'user-agent': 'Example/1 CFNetwork' }

for (const version of VERSIONS) {
  t.test(`iOS example flow (API ${version})`, async t => {
    const { app, fake } = await buildAt(t, version)
    const post = (url: string, payload = '') => app.inject({ method: 'POST', url, headers: HEADERS, payload })

    const token = await post('/connection_token')
    t.equal(token.statusCode, 200)
    t.type(token.json().secret, 'string')

    const pi = await post(
      '/create_payment_intent',
      'amount=1000&capture_method=automatic&currency=usd&description=Example%20PaymentIntent' +
        '&payment_method_options%5Bcard_present%5D%5Brequest_extended_authorization%5D=true' +
        '&payment_method_options%5Bcard_present%5D%5Brequest_incremental_authorization_support%5D=true' +
        '&payment_method_types%5B%5D=card_present'
    )
    t.equal(pi.statusCode, 200)
    t.type(pi.json().secret, 'string')
    t.equal(
      decoded(fake.callsTo('POST', '/v1/payment_intents')[0]),
      'payment_method_types[0]=card_present&capture_method=automatic&amount=1000&currency=usd&description=Example PaymentIntent' +
        '&payment_method_options[card_present][request_extended_authorization]=true' +
        '&payment_method_options[card_present][request_incremental_authorization_support]=true'
    )

    const capture = await post('/capture_payment_intent', 'amount_to_capture=1150&payment_intent_id=pi_123')
    t.equal(capture.statusCode, 200)
    t.same(capture.json(), { intent: 'pi_123', secret: capture.json().secret })
    t.equal(decoded(fake.callsTo('POST', '/v1/payment_intents/pi_123/capture')[0]), 'amount_to_capture=1150')

    const offline = await post('/capture_payment_intent', 'payment_intent_id=pi_456')
    t.equal(offline.statusCode, 200, 'the offline-forward path sends no amount')
    t.equal(fake.callsTo('POST', '/v1/payment_intents/pi_456/capture')[0]?.rawBody, '')

    const reader = await post('/register_reader', 'label=simulated-wpe&location=tml_1&registration_code=simulated-wpe')
    t.match(reader.json(), { id: /^tmr_/ })

    const location = await post(
      '/create_location',
      'address%5Bcity%5D=SF&address%5Bcountry%5D=US&address%5Bline1%5D=1%20Main' +
      '&address%5Bpostal_code%5D=94110&address%5Bstate%5D=CA&display_name=HQ'
    )
    t.equal(location.statusCode, 200)
    t.match(
      location.json(),
      { id: /^tml_/, display_name: 'HQ', object: 'terminal.location', address: { city: 'SF', country: 'US' } },
      'the full Location (decoded by iOS < 5)'
    )
    t.equal(
      decoded(fake.callsTo('POST', '/v1/terminal/locations')[0]),
      'display_name=HQ&address[city]=SF&address[country]=US&address[line1]=1 Main&address[postal_code]=94110&address[state]=CA'
    )

    const attach = await post('/attach_payment_method_to_customer', 'payment_method_id=pm_card')
    t.equal(attach.json().id, 'pm_card', 'a JSON dictionary')

    const setup = await post(
      '/create_setup_intent',
      'customer=cus_1&description=d&on_behalf_of=acct_1&payment_method_types%5B%5D=card_present'
    )
    t.match(setup.json(), { intent: /^seti_/, secret: /secret/ })
    t.equal(
      decoded(fake.callsTo('POST', '/v1/setup_intents')[0]),
      'payment_method_types[0]=card_present&customer=cus_1&description=d&on_behalf_of=acct_1'
    )
    for (const c of fake.calls) t.equal(c.stripeVersion, version, `${c.path} pinned to ${version}`)
  })
}

for (const version of VERSIONS) {
  t.test(`iOS shows the 402 body text (API ${version})`, async t => {
    const { app, fake } = await buildAt(t, version)
    fake.on('POST', '/v1/payment_intents/pi_bad/capture', {
      status: 400,
      body: {
        error: {
          type: 'invalid_request_error',
          code: 'payment_intent_unexpected_state',
          message: "This PaymentIntent's amount could not be captured because it has a status of requires_payment_method."
        }
      }
    })
    const res = await app.inject({ method: 'POST', url: '/capture_payment_intent', headers: HEADERS, payload: 'payment_intent_id=pi_bad' })
    t.equal(res.statusCode, 402)
    t.equal(
      res.body,
      "Error capturing PaymentIntent! This PaymentIntent's amount could not be captured because it has a status of requires_payment_method."
    )
  })
}
