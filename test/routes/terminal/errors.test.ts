import t from 'tap'
import { KEY_TEXTS } from '../../../routes/terminal/texts.js'
import { build } from '../../support/helper.js'
import { stripeError } from '../../support/fake-stripe.js'

const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

/** Every route with the params that make it call Stripe, its error prefix and its first Stripe call. */
const ROUTES: Array<{ url: string; method?: 'GET'; payload?: string; prefix: string; stripe: [string, string | RegExp] }> = [
  {
    url: '/register_reader',
    payload: 'registration_code=x',
    prefix: 'Error registering reader!',
    stripe: ['POST', '/v1/terminal/readers']
  },
  { url: '/connection_token', prefix: 'Error creating ConnectionToken!', stripe: ['POST', '/v1/terminal/connection_tokens'] },
  {
    url: '/create_payment_intent',
    payload: 'amount=100',
    prefix: 'Error creating PaymentIntent!',
    stripe: ['POST', '/v1/payment_intents']
  },
  {
    url: '/capture_payment_intent',
    payload: 'payment_intent_id=pi_1',
    prefix: 'Error capturing PaymentIntent!',
    stripe: ['POST', '/v1/payment_intents/pi_1/capture']
  },
  {
    url: '/cancel_payment_intent',
    payload: 'payment_intent_id=pi_1',
    prefix: 'Error canceling PaymentIntent!',
    stripe: ['POST', '/v1/payment_intents/pi_1/cancel']
  },
  { url: '/create_setup_intent', prefix: 'Error creating SetupIntent!', stripe: ['POST', '/v1/setup_intents'] },
  {
    url: '/attach_payment_method_to_customer',
    payload: 'payment_method_id=pm_1',
    prefix: 'Error creating or retrieving customer!',
    stripe: ['GET', '/v1/customers']
  },
  {
    url: '/update_payment_intent',
    payload: 'payment_intent_id=pi_1',
    prefix: 'Error updating PaymentIntent pi_1.',
    stripe: ['POST', '/v1/payment_intents/pi_1']
  },
  { url: '/list_locations', method: 'GET', prefix: 'Error fetching Locations!', stripe: ['GET', '/v1/terminal/locations'] },
  {
    url: '/create_location',
    payload: 'display_name=x&address[country]=US',
    prefix: 'Error creating Location!',
    stripe: ['POST', '/v1/terminal/locations']
  },
  { url: '/list_readers', method: 'GET', prefix: 'Error fetching Readers!', stripe: ['GET', '/v1/terminal/readers'] },
  {
    url: '/process_payment_intent',
    payload: 'reader_id=tmr_1&payment_intent_id=pi_1',
    prefix: 'Error processing PaymentIntent!',
    stripe: ['POST', '/v1/terminal/readers/tmr_1/process_payment_intent']
  },
  {
    url: '/process_setup_intent',
    payload: 'reader_id=tmr_1&setup_intent_id=seti_1',
    prefix: 'Error processing SetupIntent!',
    stripe: ['POST', '/v1/terminal/readers/tmr_1/process_setup_intent']
  },
  {
    url: '/cancel_reader_action',
    payload: 'reader_id=tmr_1',
    prefix: 'Error canceling reader action!',
    stripe: ['POST', '/v1/terminal/readers/tmr_1/cancel_action']
  },
  {
    url: '/simulate_payment',
    payload: 'reader_id=tmr_1',
    prefix: 'Error simulating payment!',
    stripe: ['POST', '/v1/test_helpers/terminal/readers/tmr_1/present_payment_method']
  },
  { url: '/refund_payment', payload: 'payment_intent_id=pi_1', prefix: 'Error refunding payment!', stripe: ['POST', '/v1/refunds'] }
]

const call = (app: any, r: (typeof ROUTES)[number], headers: Record<string, string> = {}) =>
  app.inject({
    method: r.method ?? 'POST',
    url: r.method === 'GET' ? r.url : r.url,
    headers: { ...FORM, ...headers },
    payload: r.method === 'GET' ? undefined : (r.payload ?? '')
  })

t.test('Stripe errors become 402 text with the original prefix (or JSON when asked)', async t => {
  const { app, fake } = await build(t)
  for (const r of ROUTES) {
    fake.on(r.stripe[0], r.stripe[1], stripeError(402, 'card_error', 'Your card was declined.', { code: 'card_declined' }))
    const res = await call(app, r)
    t.equal(res.statusCode, 402, r.url)
    t.match(res.headers['content-type'], /^text\/plain/, `${r.url}: text/plain`)
    t.equal(res.body, `${r.prefix} Your card was declined.`, `${r.url}: prefix + Stripe's message`)

    fake.on(r.stripe[0], r.stripe[1], stripeError(400, 'invalid_request_error', 'No such thing', { code: 'resource_missing' }))
    const json = await call(app, r, { accept: 'application/json' })
    t.same(
      json.json(),
      { error: { message: `${r.prefix} No such thing`, type: 'invalid_request_error', code: 'resource_missing' } },
      `${r.url}: JSON form`
    )
  }
})

t.test('attach: the customer lookup fails → its own text; the attach fails → the attach prefix', async t => {
  const { app, fake } = await build(t)
  fake.on('POST', '/v1/payment_methods/pm_bad/attach', stripeError(404, 'invalid_request_error', "No such PaymentMethod: 'pm_bad'"))
  const res = await app.inject({
    method: 'POST',
    url: '/attach_payment_method_to_customer',
    headers: FORM,
    payload: 'payment_method_id=pm_bad'
  })
  t.equal(res.body, "Error attaching PaymentMethod to Customer! No such PaymentMethod: 'pm_bad'")
  t.equal(res.statusCode, 402)
})

t.test('Stripe 500: retried with the same Idempotency-Key, then 402 with the message', async t => {
  const { app, fake } = await build(t, { env: { STRIPE_MAX_RETRIES: '1' } })
  fake.on('POST', '/v1/payment_intents', stripeError(500, 'api_error', "Something went wrong on Stripe's end."), 2)
  const res = await app.inject({ method: 'POST', url: '/create_payment_intent', headers: FORM, payload: 'amount=100' })
  t.equal(res.statusCode, 402)
  t.equal(res.body, "Error creating PaymentIntent! Something went wrong on Stripe's end.")
  const calls = fake.callsTo('POST', '/v1/payment_intents')
  t.equal(calls.length, 2, 'retried once')
  t.ok(calls[0]!.idempotencyKey, 'an idempotency key')
  t.equal(calls[0]!.idempotencyKey, calls[1]!.idempotencyKey, 'the same key on the retry')

  fake.on('POST', '/v1/payment_intents', stripeError(500, 'api_error', 'flaky'), 1)
  const recovered = await app.inject({ method: 'POST', url: '/create_payment_intent', headers: FORM, payload: 'amount=100' })
  t.equal(recovered.statusCode, 200, 'a 500 then a 200 succeeds')
})

t.test('Stripe 429 → 402 with the message', async t => {
  const { app, fake } = await build(t)
  fake.on(
    'POST',
    '/v1/terminal/connection_tokens',
    stripeError(429, 'invalid_request_error', 'Too many requests hit the API too quickly.', { code: 'rate_limit' })
  )
  const res = await app.inject({ method: 'POST', url: '/connection_token' })
  t.equal(res.statusCode, 402)
  t.equal(res.body, 'Error creating ConnectionToken! Too many requests hit the API too quickly.')
})

t.test('Stripe hangs → 504 within STRIPE_TIMEOUT_MS; reset or unreachable → 502', async t => {
  const { app, fake } = await build(t, { env: { STRIPE_TIMEOUT_MS: '1000' } })
  fake.on('POST', '/v1/payment_intents', { hang: true })
  const hung = await app.inject({
    method: 'POST',
    url: '/create_payment_intent',
    headers: { ...FORM, accept: 'application/json' },
    payload: 'amount=100'
  })
  t.equal(hung.statusCode, 504)
  t.match(hung.json(), {
    error: { message: /^Error creating PaymentIntent! Request aborted due to timeout/, type: 'api_connection_error' }
  })

  fake.on('POST', '/v1/payment_intents', { reset: true }, 2)
  const reset = await app.inject({ method: 'POST', url: '/create_payment_intent', headers: FORM, payload: 'amount=100' })
  t.equal(reset.statusCode, 502)
  t.match(reset.body, /^Error creating PaymentIntent! An error occurred with our connection to Stripe/)

  const down = await build(t, { env: { STRIPE_API_BASE: 'http://127.0.0.1:1' } })
  const res = await down.app.inject({ method: 'POST', url: '/connection_token' })
  t.equal(res.statusCode, 502)
  t.match(res.body, /^Error creating ConnectionToken! /)
})

t.test('missing or empty ids → 400 in the original form; Stripe not called', async t => {
  const { app, fake } = await build(t)
  const cases: Array<[string, string, string]> = [
    ['/capture_payment_intent', '', 'payment_intent_id'],
    ['/capture_payment_intent', 'payment_intent_id=', 'payment_intent_id'],
    ['/cancel_payment_intent', 'payment_intent_id', 'payment_intent_id'],
    ['/update_payment_intent', 'receipt_email=x@y.com', 'payment_intent_id'],
    ['/update_payment_intent', 'payment_intent_id=&receipt_email=x@y.com', 'payment_intent_id'],
    ['/attach_payment_method_to_customer', '', 'payment_method_id'],
    ['/process_payment_intent', 'reader_id=tmr_1', 'payment_intent_id'],
    ['/process_payment_intent', 'payment_intent_id=pi_1', 'reader_id'],
    ['/process_setup_intent', 'reader_id=tmr_1&setup_intent_id=', 'setup_intent_id'],
    ['/cancel_reader_action', '', 'reader_id'],
    ['/simulate_payment', 'reader_id=', 'reader_id']
  ]
  for (const [url, payload, param] of cases) {
    const res = await app.inject({ method: 'POST', url, headers: FORM, payload })
    t.equal(res.statusCode, 400, `${url} ${payload}`)
    t.equal(res.body, `'${param}' is a required parameter`, `${url} ${payload}`)
  }
  const json = await app.inject({
    method: 'POST',
    url: '/capture_payment_intent',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    payload: '{"payment_intent_id":null}'
  })
  t.equal(json.statusCode, 400)
  t.same(json.json(), {
    error: { message: "'payment_intent_id' is a required parameter", type: 'invalid_request_error', code: 'parameter_invalid' }
  })
  const refund = await app.inject({ method: 'POST', url: '/refund_payment', headers: FORM, payload: 'amount=100' })
  t.equal(refund.statusCode, 400)
  t.equal(refund.body, "'payment_intent_id' or 'charge' is a required parameter")
  t.equal(fake.calls.length, 0, 'Stripe was never called')
})

t.test('the original three key texts on its six routes, before any Stripe call', async t => {
  const six = ROUTES.filter(r =>
    [
      '/register_reader',
      '/connection_token',
      '/create_payment_intent',
      '/create_setup_intent',
      '/list_locations',
      '/create_location'
    ].includes(r.url)
  )
  t.equal(six.length, 6)
  for (const [name, key, text] of [
    ['empty', '', KEY_TEXTS.empty],
    ['publishable', 'pk_test_abc', KEY_TEXTS.publishable],
    ['live secret in test mode', 'sk_live_abc', KEY_TEXTS.live],
    ['live restricted in test mode', 'rk_live_abc', KEY_TEXTS.live]
  ] as Array<[string, string, string]>) {
    const { app, fake } = await build(t, { env: { STRIPE_TEST_SECRET_KEY: key } })
    for (const r of six) {
      const res = await call(app, r)
      t.equal(res.statusCode, 400, `${name}: ${r.url}`)
      t.equal(res.body, text, `${name}: ${r.url}`)
    }
    t.equal(fake.calls.length, 0, `${name}: Stripe not called`)
  }
})

t.test('no key on the routes the original did not check → 402 saying so', async t => {
  const { app, fake } = await build(t, { env: { STRIPE_TEST_SECRET_KEY: undefined } })
  const res = await app.inject({ method: 'POST', url: '/capture_payment_intent', headers: FORM, payload: 'payment_intent_id=pi_1' })
  t.equal(res.statusCode, 402)
  t.equal(res.body, 'Error capturing PaymentIntent! No Stripe API key is configured: set STRIPE_TEST_SECRET_KEY.')
  t.equal(fake.calls.length, 0)
})

t.test('live keys work when STRIPE_ENV selects live; simulate_payment refuses them', async t => {
  const { app, fake } = await build(t, { env: { STRIPE_ENV: 'production', STRIPE_SECRET_KEY: 'sk_live_abc' } })
  const res = await app.inject({ method: 'POST', url: '/connection_token' })
  t.equal(res.statusCode, 200)
  t.equal(fake.calls[0]?.authorization, 'Bearer sk_live_abc')
  const sim = await app.inject({ method: 'POST', url: '/simulate_payment', headers: FORM, payload: 'reader_id=tmr_1' })
  t.equal(sim.statusCode, 403)
  t.match(sim.body, /test mode key/)
  t.equal(fake.calls.length, 1, 'no simulation call left')
})

t.test('hostile input → 4xx, never 500, nothing sent to Stripe', async t => {
  const { app, fake } = await build(t)
  const deep = `${'a['.repeat(100)}x${']'.repeat(100)}=1`
  const cases: Array<[string, Record<string, string>, string, number]> = [
    ['nesting too deep', FORM, deep, 400],
    ['bad %-encoding', FORM, 'amount=%E0%A4%A', 400],
    ['array then scalar', FORM, 'amount[]=1&amount[x]=2', 400],
    ['id as an array', FORM, 'payment_intent_id[]=pi_1&payment_intent_id[]=pi_2', 400],
    ['id as a hash', FORM, 'payment_intent_id[a]=pi_1', 400],
    ['id too long', FORM, `payment_intent_id=${'p'.repeat(300)}`, 400],
    ['invalid JSON', { 'content-type': 'application/json' }, '{"payment_intent_id":', 400],
    ['JSON array', { 'content-type': 'application/json' }, '[1,2]', 400],
    ['JSON wrong type', { 'content-type': 'application/json' }, '{"payment_intent_id":{"$ne":1}}', 400],
    ['JSON list id', { 'content-type': 'application/json' }, '{"payment_intent_id":[1,2]}', 400],
    ['oversized', FORM, `payment_intent_id=pi_1&x=${'a'.repeat(1100 * 1024)}`, 413]
  ]
  for (const [name, headers, payload, status] of cases) {
    const res = await app.inject({ method: 'POST', url: '/capture_payment_intent', headers, payload })
    t.equal(res.statusCode, status, name)
    t.match(res.headers['content-type'], /^text\/plain/, `${name}: text`)
    t.notMatch(res.body, /\n\s+at /, `${name}: no stack trace`)
  }
  const pi = await app.inject({ method: 'POST', url: '/create_payment_intent', headers: FORM, payload: 'amount[a][b]=1' })
  t.equal(pi.statusCode, 400, 'amount must be a string')
  t.equal(pi.body, "Invalid parameter 'amount': must be string")
  const status = await app.inject({ method: 'GET', url: '/list_readers?status=sleeping' })
  t.equal(status.statusCode, 400)
  t.match(status.body, /'status'/)
  const proto = await app.inject({
    method: 'POST',
    url: '/create_location',
    headers: FORM,
    payload: '__proto__[polluted]=1&constructor[prototype][polluted]=1&display_name=x&address[country]=US'
  })
  t.equal(proto.statusCode, 200, 'prototype keys are plain keys')
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype pollution')
  t.equal(fake.calls.length, 1, 'only the valid location call reached Stripe')
  t.equal(decodeURIComponent(fake.calls[0]!.rawBody), 'display_name=x&address[country]=US', 'unknown params not forwarded')
})

t.test('a wrong method on a known path → 404, never 500', async t => {
  const { app } = await build(t)
  for (const [method, url] of [
    ['GET', '/connection_token'],
    ['POST', '/list_locations'],
    ['PUT', '/create_payment_intent'],
    ['DELETE', '/list_readers']
  ] as const) {
    t.equal((await app.inject({ method, url })).statusCode, 404, `${method} ${url}`)
  }
  t.equal(
    (await app.inject({ method: 'POST', url: '/connection_token/' })).statusCode,
    404,
    'a trailing slash is another path, as in the original'
  )
})

t.test("a failed Stripe call is logged at warn with Stripe's type, code, message and request id, never the key", async t => {
  const { app, fake, logs, rawLogs } = await build(t, {
    env: { STRIPE_TEST_SECRET_KEY: 'sk_test_4eC39HqLyjWDarjtT1zdp7dc', STRIPE_TIMEOUT_MS: '1000' }
  })
  fake.on('POST', '/v1/payment_intents', {
    ...stripeError(402, 'card_error', 'Your card was declined.', { code: 'card_declined' }),
    headers: { 'request-id': 'req_declined1' }
  })
  await app.inject({ method: 'POST', url: '/create_payment_intent', headers: FORM, payload: 'amount=100' })
  const line = logs.find(l => l.msg === 'Stripe call failed')
  t.match(line, {
    level: 40,
    status: 402,
    stripe: { type: 'card_error', code: 'card_declined', message: 'Your card was declined.', request_id: 'req_declined1', status: 402 }
  })

  fake.on('POST', '/v1/terminal/connection_tokens', { hang: true })
  const timedOut = await app.inject({ method: 'POST', url: '/connection_token' })
  t.equal(timedOut.statusCode, 504)
  t.match(
    logs.find(l => l.msg === 'Stripe unreachable'),
    { level: 40, status: 504, stripe: { type: 'api_connection_error', code: 'timeout', request_id: null } }
  )
  t.notMatch(rawLogs.join(''), '4eC39HqLyjWDarjtT1zdp7dc', 'the key never appears')
})
