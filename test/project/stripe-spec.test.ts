import t from 'tap'
import { SPEC_PATH, specAvailable, specProblems } from '../support/stripe-spec.js'

// Every test's fake Stripe checks its calls against the spec (test/support/helper.ts fails a test whose
// service made a call outside it). This file shows the check is on, and that it can fail.
t.test(
  'Stripe OpenAPI spec check',
  { skip: specAvailable ? false : `${SPEC_PATH} is absent (users' clones do not have it): calls are not checked against Stripe's spec` },
  async t => {
    t.same(specProblems('POST', '/v1/payment_intents', { amount: '1', currency: 'usd' }), [])
    t.same(specProblems('POST', '/v1/payment_intents/pi_1/capture', { amount_to_capture: '1' }), [])
    t.same(specProblems('POST', '/v1/payment_intents', { amout: '1', currency: 'usd' }), [
      "POST /v1/payment_intents (2023-08-16): unknown parameter 'amout'",
      "POST /v1/payment_intents (2023-08-16): missing required parameter 'amount'"
    ])
    t.same(specProblems('POST', '/v1/payment_intent', {}), ["POST /v1/payment_intent: no such operation in Stripe's API"])
    t.same(specProblems('GET', '/v1/terminal/readers', { limit: '100', status: 'online' }), [])
  }
)

t.test('the check follows the API version of the call', { skip: specAvailable ? false : `${SPEC_PATH} is absent` }, async t => {
  const path = '/v1/terminal/readers/tmr_1/process_setup_intent'
  const op = 'POST /v1/terminal/readers/{reader}/process_setup_intent'
  t.same(
    specProblems('POST', path, { setup_intent: 'seti_1', customer_consent_collected: 'true' }, '2020-03-02'),
    [],
    'before acacia: consent'
  )
  t.same(
    specProblems('POST', path, { setup_intent: 'seti_1', allow_redisplay: 'always' }, '2020-03-02'),
    [
      `${op} (2020-03-02): unknown parameter 'allow_redisplay'`,
      `${op} (2020-03-02): missing required parameter 'customer_consent_collected'`
    ],
    'allow_redisplay does not exist before acacia, and consent is required'
  )
  t.same(
    specProblems('POST', path, { setup_intent: 'seti_1', allow_redisplay: 'always' }, '2024-09-30.acacia'),
    [],
    'from acacia: allow_redisplay'
  )
  t.same(specProblems('POST', path, { setup_intent: 'seti_1', customer_consent_collected: 'true' }, '2026-10-28.endive'), [
    `${op} (2026-10-28.endive): unknown parameter 'customer_consent_collected'`,
    `${op} (2026-10-28.endive): missing required parameter 'allow_redisplay'`
  ])
})
