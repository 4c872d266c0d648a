import http from 'node:http'
import { networkInterfaces } from 'node:os'
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, sign } from '../support/helper.js'
import { stripeError } from '../support/fake-stripe.js'

const KEY = 'k'.repeat(32)
const auth = { 'x-api-key': KEY }
const FORM = { ...auth, 'content-type': 'application/x-www-form-urlencoded' }
const WEBHOOK_SECRET = 'whsec_metrics_secret'
const APP_SECRET = 'absec_metrics_secret'
const PROXY_KEY = 'rk_test_metricsproxy123'

type Labels = Record<string, string>
/** The samples of a scrape: `name` and labels → value. */
function parse (text: string): Array<{ name: string; labels: Labels; value: number }> {
  const out: Array<{ name: string; labels: Labels; value: number }> = []
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (m === null) continue
    const labels: Labels = {}
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!
    out.push({ name: m[1]!, labels, value: Number(m[3]) })
  }
  return out
}
const scrape = async (app: FastifyInstance, headers: Record<string, string> = {}) => {
  const res = await app.inject({ method: 'GET', url: '/metrics', headers })
  return { res, samples: parse(res.body) }
}
/** a sample's value: exactly these labels (0 when absent) */
const value = (samples: ReturnType<typeof parse>, name: string, labels: Labels): number => {
  const found = samples.find(
    s =>
      s.name === name &&
      Object.keys(s.labels).length === Object.keys(labels).length &&
      Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  )
  return found?.value ?? 0
}

t.test('after known traffic, /metrics counts each request, Stripe attempt, webhook, refusal and proxied call exactly', async t => {
  const { app, fake } = await build(t, {
    env: {
      API_KEY: KEY,
      // a deadline on each whole attempt: long enough for the calls meant to succeed on a busy CI
      // machine (the fake Stripe shares this process's event loop), short for the two that hang
      STRIPE_TIMEOUT_MS: '1000',
      STRIPE_MAX_RETRIES: '1',
      STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      STRIPE_APP_SECRET: APP_SECRET,
      STRIPE_PROXY_KEY: PROXY_KEY,
      RATE_LIMIT_MAX: '10'
    }
  })
  const seen: string[] = [KEY, PROXY_KEY, WEBHOOK_SECRET, APP_SECRET]
  const before = (await scrape(app)).samples

  // ok; a card error (Stripe says do not retry); a 500 that stripe-node retries, then ok
  const token = await app.inject({ method: 'POST', url: '/connection_token', headers: auth })
  t.equal(token.statusCode, 200)
  seen.push(token.json().secret)
  fake.on('POST', '/v1/payment_intents', {
    ...stripeError(402, 'card_error', 'Your card was declined.'),
    headers: { 'stripe-should-retry': 'false' }
  })
  t.equal((await app.inject({ method: 'POST', url: '/create_payment_intent', headers: FORM, payload: 'amount=100' })).statusCode, 402)
  fake.on('POST', '/v1/payment_intents', stripeError(500, 'api_error', 'Something went wrong on our end.'))
  const intent = await app.inject({ method: 'POST', url: '/create_payment_intent', headers: FORM, payload: 'amount=100' })
  t.equal(intent.statusCode, 200, 'the retry succeeded')
  seen.push(intent.json().intent)
  // a timeout on each of the two attempts; a reset connection on both
  fake.on('POST', '/v1/terminal/connection_tokens', { hang: true }, 2)
  t.equal((await app.inject({ method: 'POST', url: '/connection_token', headers: auth })).statusCode, 504)
  fake.on('GET', '/v1/terminal/locations', { reset: true }, 2)
  t.equal((await app.inject({ method: 'GET', url: '/list_locations', headers: auth })).statusCode, 502)

  // a webhook handled, its duplicate, a bad signature
  const payload = JSON.stringify({
    id: 'evt_metrics_1',
    object: 'event',
    type: 'payment_intent.succeeded',
    livemode: false,
    created: Math.floor(Date.now() / 1000),
    api_version: '2026-10-28.endive',
    data: { object: { id: 'pi_metrics_1', object: 'payment_intent' } }
  })
  seen.push('evt_metrics_1', 'pi_metrics_1')
  const deliver = (header: string) =>
    app.inject({ method: 'POST', url: '/webhooks', payload, headers: { 'content-type': 'application/json', 'stripe-signature': header } })
  t.equal((await deliver(sign(payload, WEBHOOK_SECRET))).statusCode, 200)
  t.same((await deliver(sign(payload, WEBHOOK_SECRET))).json(), { received: true, duplicate: true })
  t.equal((await deliver(sign(payload, 'whsec_someone_else'))).statusCode, 400)

  // an Apps request without its signature; a proxied call
  const apps = await app.inject({ method: 'POST', url: '/apps/session', payload: '{}', headers: { 'content-type': 'application/json' } })
  t.equal(apps.statusCode, 401)
  const proxied = await app.inject({ method: 'GET', url: '/v1/apis/http/stripe/v1/charges?limit=1', headers: auth })
  t.equal(proxied.statusCode, 200)
  seen.push(...fake.calls.map(c => c.headers['idempotency-key']).filter((k): k is string => typeof k === 'string'))

  // the rate limit: 10 per key per window; 6 requests so far under the key, so the 5th of these is refused
  const statuses: number[] = []
  for (let i = 0; i < 5; i++) statuses.push((await app.inject({ method: 'GET', url: '/list_locations', headers: auth })).statusCode)
  t.same(statuses, [200, 200, 200, 200, 429])

  const { res, samples } = await scrape(app)
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  const delta = (name: string, labels: Labels): number => value(samples, name, labels) - value(before, name, labels)

  const http = (route: string, method: string, cls: string) => delta('http_requests_total', { route, method, status_class: cls })
  t.equal(http('/connection_token', 'POST', '2xx'), 1)
  t.equal(http('/connection_token', 'POST', '5xx'), 1)
  t.equal(http('/create_payment_intent', 'POST', '4xx'), 1)
  t.equal(http('/create_payment_intent', 'POST', '2xx'), 1)
  t.equal(http('/list_locations', 'GET', '2xx'), 4)
  t.equal(http('/list_locations', 'GET', '4xx'), 1, 'the 429')
  t.equal(http('/list_locations', 'GET', '5xx'), 1)
  t.equal(http('/webhooks', 'POST', '2xx'), 2)
  t.equal(http('/webhooks', 'POST', '4xx'), 1)
  t.equal(http('/v1/apis/http/:adapter/*', 'GET', '2xx'), 1, 'by template, not by path')
  t.equal(delta('http_request_duration_seconds_count', { route: '/list_locations', method: 'GET' }), 6)

  const stripe = (operation: string, outcome: string, type = '') => delta('stripe_requests_total', { operation, outcome, error_type: type })
  t.equal(stripe('terminal.connection_tokens.create', 'ok'), 1)
  t.equal(stripe('payment_intents.create', 'stripe_error', 'card_error'), 1, 'a card error, not retried')
  t.equal(stripe('payment_intents.create', 'stripe_error', 'api_error'), 1, 'the 500, whose body stripe-node discards: read for its type')
  t.equal(stripe('payment_intents.create', 'ok'), 1)
  t.equal(stripe('terminal.connection_tokens.create', 'timeout'), 2, 'each attempt timed out')
  t.equal(stripe('terminal.locations.list', 'connection_error'), 2)
  t.equal(stripe('terminal.locations.list', 'ok'), 4)
  t.equal(delta('stripe_retries_total', { operation: 'payment_intents.create' }), 1)
  t.equal(delta('stripe_retries_total', { operation: 'terminal.connection_tokens.create' }), 1)
  t.equal(delta('stripe_retries_total', { operation: 'terminal.locations.list' }), 1)
  t.equal(delta('stripe_request_duration_seconds_count', { operation: 'terminal.connection_tokens.create' }), 3)
  t.equal(fake.callsTo('POST', '/v1/terminal/connection_tokens').length, 3, 'as many attempts as Stripe saw')

  t.equal(delta('webhook_events_total', { type: 'payment_intent.succeeded', outcome: 'handled' }), 1)
  t.equal(delta('webhook_events_total', { type: 'payment_intent.succeeded', outcome: 'duplicate' }), 1)
  t.equal(delta('webhook_events_total', { type: '', outcome: 'bad_signature' }), 1)
  t.equal(delta('apps_signature_failures_total', { reason: 'signature_missing' }), 1)
  t.equal(delta('rate_limit_refusals_total', { area: 'terminal' }), 1)
  t.equal(delta('proxy_requests_total', { adapter: 'stripe', status: '200' }), 1)
  t.ok(value(samples, 'process_cpu_seconds_total', {}) > 0, 'process metrics')
  t.ok(
    samples.some(s => s.name === 'nodejs_eventloop_lag_p99_seconds'),
    'event-loop lag'
  )

  // no label holds an id, a key, an account or a secret
  for (const s of seen) t.notOk(res.body.includes(s), `${s.slice(0, 12)}… appears nowhere`)
  const ids = /\b(pi|pst|tmr|acct|req|evt|cus|seti|re|ch|pm|mkey|stbk|sk|rk|pk|whsec|absec)_[A-Za-z0-9]{4,}/
  const values = samples.flatMap(s => Object.values(s.labels))
  t.same(
    values.filter(v => ids.test(v) || /^[0-9a-f-]{36}$/.test(v)),
    [],
    'no label value looks like an id or key'
  )
})

t.test('/metrics: Bearer METRICS_TOKEN when set; without it, this host only; never rate limited; not in the docs', async t => {
  const token = 'm'.repeat(40)
  const { app } = await build(t, { env: { METRICS_TOKEN: token, RATE_LIMIT_MAX: '1', DOCS_ENABLED: 'true' } })
  t.equal((await scrape(app)).res.statusCode, 401, 'no token')
  t.equal((await scrape(app, { authorization: 'Bearer wrong' })).res.statusCode, 401, 'a wrong token')
  t.equal((await scrape(app, { 'x-api-key': token })).res.statusCode, 401, 'Bearer only')
  for (let i = 0; i < 3; i++) {
    const { res } = await scrape(app, { authorization: `Bearer ${token}` })
    t.equal(res.statusCode, 200, `scrape ${i + 1}: never rate limited`)
  }
  const docs = await app.inject({ method: 'GET', url: '/docs/json' })
  t.equal(docs.statusCode, 200)
  t.notOk(Object.keys(docs.json().paths).includes('/metrics'), 'hidden from the docs')

  const open = await build(t)
  t.equal((await scrape(open.app)).res.statusCode, 200, 'no token: a caller on this host')
  const relayed = await scrape(open.app, { 'x-forwarded-for': '203.0.113.9' })
  t.equal(relayed.res.statusCode, 403, 'relayed by a proxy on this host: refused')
  t.match(relayed.res.json(), { error: { message: /METRICS_TOKEN/ } })

  // a real socket from another address of this machine
  const address = Object.values(networkInterfaces())
    .flat()
    .find(i => i?.family === 'IPv4' && !i.internal)?.address
  t.test(
    'from another address of this machine: refused',
    { skip: address === undefined ? 'no non-loopback IPv4 address' : false },
    async t => {
      await open.app.listen({ host: '0.0.0.0', port: 0 })
      const port = (open.app.server.address() as { port: number }).port
      const status = await new Promise<number>((resolve, reject) => {
        http
          .get({ host: address, port, path: '/metrics', localAddress: address }, res => {
            res.resume()
            resolve(res.statusCode!)
          })
          .on('error', reject)
      })
      t.equal(status, 403)
    }
  )
})

t.test('concurrent requests each get their own Stripe request ids on their access line', async t => {
  const { app, fake, logs } = await build(t, { env: { API_KEY: KEY } })
  const token = { object: 'terminal.connection_token', secret: 'pst_test_x' }
  for (let i = 0; i < 8; i++) {
    fake.on('POST', '/v1/terminal/connection_tokens', { body: token, headers: { 'request-id': `req_c${i}` }, delayMs: 20 }, 1)
  }
  const ids = Array.from({ length: 8 }, (_, i) => `till-${i}`)
  const call = (id: string) => app.inject({ method: 'POST', url: '/connection_token', headers: { ...auth, 'x-request-id': id } })
  const answers = await Promise.all(ids.map(call))
  t.ok(answers.every(r => r.statusCode === 200))
  const seen = ids.map(id => logs.find(l => l.reqId === id && l.msg === 'request')?.stripe_request_ids as string[] | undefined)
  t.ok(seen.every(s => s?.length === 1), 'each access line names one Stripe request')
  t.same(new Set(seen.map(s => s![0])), new Set(ids.map((_, i) => `req_c${i}`)), 'all eight, none twice')

  fake.on('POST', '/v1/terminal/connection_tokens', { body: token, headers: { 'request-id': 'req_after' } })
  await call('till-later')
  const later = logs.find(l => l.reqId === 'till-later' && l.msg === 'request')
  t.same(later?.stripe_request_ids, ['req_after'], 'a later request starts afresh')
})

t.test('the access line: the request id in and out, the key id and the Stripe request id of each call', async t => {
  const { app, fake, logs } = await build(t, { env: { API_KEY: KEY, LOG_LEVEL: 'debug' } })
  fake.on('POST', '/v1/terminal/connection_tokens', {
    body: { object: 'terminal.connection_token', secret: 'pst_test_x' },
    headers: { 'request-id': 'req_known1' }
  })
  const res = await app.inject({ method: 'POST', url: '/connection_token', headers: { ...auth, 'x-request-id': 'till-7/txn-42' } })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['x-request-id'], 'till-7/txn-42')
  const mine = logs.filter(l => l.reqId === 'till-7/txn-42')
  const access = mine.filter(l => l.msg === 'request')
  t.equal(access.length, 1, 'one access line')
  t.match(access[0], {
    level: 30,
    method: 'POST',
    route: '/connection_token',
    path: '/connection_token',
    status: 200,
    key: /^[0-9a-f]{16}$/,
    stripe_request_ids: ['req_known1']
  })
  t.type(access[0]!.ms, 'number')
  t.match(
    mine.find(l => l.msg === 'stripe attempt'),
    { stripe: { operation: 'terminal.connection_tokens.create', outcome: 'ok', requestId: 'req_known1' } }
  )
  t.notOk(
    logs.some(l => l.msg === 'incoming request' || l.msg === 'request completed'),
    "Fastify's own two lines are gone"
  )
  t.notOk(JSON.stringify(logs).includes(KEY), 'the key is not logged')
})

t.test('Stripe calls beyond STRIPE_MAX_SOCKETS wait for a socket, and the wait is reported, not silent', async t => {
  const { app, fake } = await build(t, { env: { API_KEY: KEY, STRIPE_MAX_SOCKETS: '1' } })
  let release = (): void => {}
  const held = new Promise<void>(resolve => { release = resolve })
  // Stripe holds each answer until the test lets it go: no timer decides what is queued
  fake.on('POST', '/v1/terminal/connection_tokens', { body: { object: 'terminal.connection_token', secret: 'pst_test_q' }, until: held }, 3)
  const answers = Array.from({ length: 3 }, async () => await app.inject({ method: 'POST', url: '/connection_token', headers: auth }))
  // the first call holds the one socket; the other two reach the agent and queue behind it
  await fake.nextCall('POST', '/v1/terminal/connection_tokens')
  let waiting = 0
  for (let i = 0; i < 1000 && waiting < 2; i++) {
    await new Promise(resolve => setImmediate(resolve))
    waiting = value((await scrape(app)).samples, 'stripe_calls_waiting_for_socket', {})
  }
  t.equal(waiting, 2, 'two calls wait for the socket')
  t.equal(fake.callsTo('POST', '/v1/terminal/connection_tokens').length, 1, 'Stripe sees one call at a time')
  release()
  t.same((await Promise.all(answers)).map(r => r.statusCode), [200, 200, 200], 'every till is answered once a socket frees')
  const after = (await scrape(app)).samples
  t.equal(value(after, 'stripe_socket_wait_seconds_count', {}), 2, 'the two waits are measured')
  t.equal(value(after, 'stripe_calls_waiting_for_socket', {}), 0, 'nothing waits any more')
  t.equal(fake.connectionsAccepted, 1, 'one socket served all three')
})
