import t from 'tap'
import { SPEC_PATH, specAvailable, specProblems } from './support/stripe-spec.js'

// Every test's fake Stripe checks its calls against the spec (test/helper.ts fails a test whose
// service made a call outside it). This file shows the check is on, and that it can fail.
t.test('Stripe OpenAPI spec check', { skip: specAvailable ? false : `${SPEC_PATH} is absent (users' clones do not have it): calls are not checked against Stripe's spec` }, async t => {
  t.same(specProblems('POST', '/v1/payment_intents', { amount: '1', currency: 'usd' }), [])
  t.same(specProblems('POST', '/v1/payment_intents/pi_1/capture', { amount_to_capture: '1' }), [])
  t.same(specProblems('POST', '/v1/payment_intents', { amout: '1' }), ['POST /v1/payment_intents: unknown parameter \'amout\''])
  t.same(specProblems('POST', '/v1/payment_intent', {}), ['POST /v1/payment_intent: no such operation in Stripe\'s API'])
  t.same(specProblems('GET', '/v1/terminal/readers', { limit: '100', status: 'online' }), [])
})
