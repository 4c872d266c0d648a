// stripe-samples/terminal-apps-on-devices (Retrofit @FieldMap): connection_token with no body,
// payment_method_options[card_present[...]] keys, update_payment_intent with receipt_email, capture.
import t from 'tap'
import { buildAt, decoded, VERSIONS } from '../../support/terminal.js'

const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

for (const version of VERSIONS) {
  t.test(`Apps on Devices sample flow (API ${version})`, async t => {
    const { app, fake } = await buildAt(t, version)
    const token = await app.inject({ method: 'POST', url: '/connection_token' })
    t.ok(token.json().secret.length > 0, 'a non-empty secret')

    const pi = await app.inject({
      method: 'POST',
      url: '/create_payment_intent',
      headers: FORM,
      payload:
        'amount=1299&currency=usd&description=Apps%20on%20Devices%20sample%20app%20transaction' +
        '&payment_method_options%5Bcard_present%5Brequest_extended_authorization%5D%5D=true' +
        '&payment_method_options%5Bcard_present%5Brequest_incremental_authorization_support%5D%5D=true'
    })
    t.type(pi.json().secret, 'string')
    t.equal(
      decoded(fake.callsTo('POST', '/v1/payment_intents')[0]),
      'payment_method_types[0]=card_present&capture_method=manual&amount=1299' +
      '&currency=usd&description=Apps on Devices sample app transaction' +
        '&payment_method_options[card_present][request_extended_authorization]=true' +
        '&payment_method_options[card_present][request_incremental_authorization_support]=true'
    )

    const update = await app.inject({
      method: 'POST',
      url: '/update_payment_intent',
      headers: FORM,
      payload: 'payment_intent_id=pi_aod&receipt_email=buyer%40example.com'
    })
    t.match(update.json(), { intent: 'pi_aod', secret: /secret/ })
    t.equal(decoded(fake.callsTo('POST', '/v1/payment_intents/pi_aod')[0]), 'receipt_email=buyer@example.com')

    const capture = await app.inject({ method: 'POST', url: '/capture_payment_intent', headers: FORM, payload: 'payment_intent_id=pi_aod' })
    t.equal(capture.statusCode, 200)
    t.type(capture.json(), 'object', 'parsed as a JSON object')
  })
}
