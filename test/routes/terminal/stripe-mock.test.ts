// The docker-compose setup runs the service against stripe/stripe-mock. stripe-mock has its own key
// rule (the fake applies it exactly, from stripe-mock's server.go): the compose default must pass
// it, and a refused key must never come back whole in the text a till shows.
import { readFileSync } from 'node:fs'
import t from 'tap'
import { parse } from 'yaml'
import { build } from '../../support/helper.js'
import { FakeStripe, stripeMockAuth } from '../../support/fake-stripe.js'

const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as {
  services: Record<string, { environment?: Record<string, string> }>
}
/** `${STRIPE_TEST_SECRET_KEY:-default}` → default */
const composeDefault = (value: string | undefined): string => /\$\{\w+:-([^}]*)\}/.exec(value ?? '')?.[1] ?? ''

t.test("stripe-mock's key rule, as its source states it", async t => {
  t.equal(stripeMockAuth('Bearer sk_test_123'), undefined)
  t.equal(stripeMockAuth('Bearer rk_test_abc'), undefined)
  t.equal(stripeMockAuth(`Basic ${Buffer.from('sk_test_123').toString('base64')}`), undefined, 'Basic auth too')
  t.equal(stripeMockAuth('Bearer sk_test_stripe_mock')?.status, 401, 'four parts')
  t.equal(stripeMockAuth('Bearer sk_live_123')?.status, 401, 'live keys refused')
  t.equal(stripeMockAuth('Bearer pk_test_123')?.status, 401)
  t.equal(stripeMockAuth('')?.status, 401)
})

t.test("every compose service's default key is one stripe-mock accepts, and the till flow works with it", async t => {
  for (const [name, service] of Object.entries(compose.services)) {
    const value = service.environment?.STRIPE_TEST_SECRET_KEY
    if (value === undefined) continue
    const key = composeDefault(value)
    t.equal(stripeMockAuth(`Bearer ${key}`), undefined, `${name}: ${key} passes stripe-mock's rule`)
  }
  const key = composeDefault(compose.services.app!.environment!.STRIPE_TEST_SECRET_KEY)
  const fake = await new FakeStripe({ auth: 'stripe-mock' }).start()
  t.teardown(() => fake.stop())
  const { app } = await build(t, { fake, env: { STRIPE_TEST_SECRET_KEY: key } })
  const token = await app.inject({ method: 'POST', url: '/connection_token' })
  t.equal(token.statusCode, 200, token.body)
  const pi = await app.inject({
    method: 'POST',
    url: '/create_payment_intent',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'amount=1000'
  })
  t.equal(pi.statusCode, 200, pi.body)
})

t.test('a key stripe-mock refuses: 402 with its text, the key masked as Stripe masks it', async t => {
  const fake = await new FakeStripe({ auth: 'stripe-mock' }).start()
  t.teardown(() => fake.stop())
  const { app, rawLogs } = await build(t, { fake, env: { STRIPE_TEST_SECRET_KEY: 'sk_test_stripe_mock' } })
  const res = await app.inject({ method: 'POST', url: '/connection_token' })
  t.equal(res.statusCode, 402)
  t.match(res.body, /^Error creating ConnectionToken! Please authenticate by specifying an `Authorization` header/)
  t.notMatch(res.body, 'stripe_mock', 'the configured key is not echoed')
  t.match(res.body, 'sk_test_…mock', 'masked: kind, mode, last four')
  const json = await app.inject({ method: 'POST', url: '/connection_token', headers: { accept: 'application/json' } })
  t.notMatch(json.body, 'stripe_mock', 'nor in the JSON form')
  t.notMatch(rawLogs.join(''), 'sk_test_stripe_mock', 'nor in the logs')
})
