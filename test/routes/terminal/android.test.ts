// stripe/stripe-terminal-android Example (Retrofit): connection_token with no body and no
// Content-Type; @FormUrlEncoded bodies with %5B/%5D; the SDK 2.2-2.17 app sent the malformed
// payment_method_options[card_present[...]] keys.
import t from 'tap'
import { buildAt, decoded, VERSIONS } from '../../support/terminal.js'

const FORM = { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'okhttp/4.12.0' }

for (const version of VERSIONS) {
  t.test(`Android example (SDK 5.x) (API ${version})`, async t => {
    const { app, fake } = await buildAt(t, version)
    const token = await app.inject({
      method: 'POST',
      url: '/connection_token',
      headers: { 'user-agent': 'okhttp/4.12.0', 'content-length': '0' }
    })
    t.equal(token.statusCode, 200)
    t.ok(token.json().secret, 'a non-null secret for ConnectionToken(secret)')

    const location = await app.inject({
      method: 'POST',
      url: '/create_location',
      headers: FORM,
      payload: 'display_name=Store&address%5Bline1%5D=1%20Main&address%5Bcountry%5D=US'
    })
    t.equal(location.statusCode, 200, 'only 2xx is checked')
    t.equal(decoded(fake.callsTo('POST', '/v1/terminal/locations')[0]), 'display_name=Store&address[line1]=1 Main&address[country]=US')

    t.equal(
      (await app.inject({ method: 'POST', url: '/capture_payment_intent', headers: FORM, payload: 'payment_intent_id=pi_1' })).statusCode,
      200
    )
    t.equal(
      (await app.inject({ method: 'POST', url: '/cancel_payment_intent', headers: FORM, payload: 'payment_intent_id=pi_1' })).statusCode,
      200
    )
    t.equal(fake.callsTo('POST', '/v1/payment_intents/pi_1/cancel')[0]?.rawBody, '')
  })
}

for (const version of VERSIONS) {
  t.test(`Android example (SDK 2.2-2.17): internet-reader payment intent with malformed nesting (API ${version})`, async t => {
    const { app, fake } = await buildAt(t, version)
    const res = await app.inject({
      method: 'POST',
      url: '/create_payment_intent',
      headers: FORM,
      payload:
        'amount=1000&currency=usd&payment_method_options%5Bcard_present%5Brequest_extended_authorization%5D%5D=true' +
        '&payment_method_options%5Bcard_present%5Brequest_incremental_authorization_support%5D%5D=true'
    })
    t.equal(res.statusCode, 200)
    t.match(res.json(), { intent: /^pi_/, secret: /secret/ })
    t.equal(
      decoded(fake.calls[0]),
      'payment_method_types[0]=card_present&capture_method=manual&amount=1000&currency=usd&description=Example PaymentIntent' +
        '&payment_method_options[card_present][request_extended_authorization]=true' +
        '&payment_method_options[card_present][request_incremental_authorization_support]=true',
      'read as Rack reads it: card_present[x] nested'
    )
  })
}
