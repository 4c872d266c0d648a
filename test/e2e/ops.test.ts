import net from 'node:net'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import t from 'tap'
import { build, childEnv, freePort } from '../support/helper.js'
import { FakeStripe, stripeError } from '../support/fake-stripe.js'

const SECRETS = {
  authorization: 'Bearer sk_live_authsecret111',
  'x-api-key': 'apikeysecret222222222222222222222',
  'stripe-signature': 't=1,v1=sigsecret333',
  cookie: 'session=cookiesecret444'
}

t.test('log lines of a request carrying every secret header contain none of the secrets', async t => {
  const { app, rawLogs } = await build(t, { env: { LOG_LEVEL: 'trace', API_KEY: SECRETS['x-api-key'] } })
  await app.inject({
    method: 'POST',
    url: '/connection_token?token=sk_test_querysecret555',
    headers: SECRETS,
    payload: 'x=whsec_bodysecret666&y=absec_bodysecret777'
  })
  await app.inject({ method: 'POST', url: '/connection_token', headers: { ...SECRETS, 'x-api-key': 'rk_live_wrongkey888' } })
  const all = rawLogs.join('')
  t.ok(rawLogs.length > 2, 'requests were logged')
  for (const secret of [
    'authsecret111',
    'apikeysecret222',
    'sigsecret333',
    'cookiesecret444',
    'querysecret555',
    'bodysecret666',
    'bodysecret777',
    'wrongkey888'
  ]) {
    t.notOk(all.includes(secret), `${secret} is not logged`)
  }
  t.ok(
    rawLogs.every(l => {
      try {
        return typeof JSON.parse(l).reqId === 'string' || true
      } catch {
        return false
      }
    }),
    'JSON lines'
  )
  t.ok(
    rawLogs.some(l => /"reqId"/.test(l)),
    'with a request id'
  )
})

t.test('an API key put in a query parameter or a path segment is masked in the logs and never echoed', async t => {
  const KEY = 'tillkey-0123456789abcdef0123456789ab'
  const { app, fake, rawLogs } = await build(t, { env: { API_KEY: KEY } })
  const urls = [
    `/connection_token?x-api-key=${KEY}`,
    `/connection_token?access_token=${KEY}`,
    `/list_readers?k=${encodeURIComponent(KEY)}`,
    `/${KEY}/connection_token`,
    `/v1/apis/http/${KEY}/v1/charges`
  ]
  for (const url of urls) {
    const res = await app.inject({ method: 'POST', url })
    t.notOk(res.body.includes(KEY), `${url.slice(0, 30)}: not echoed (${res.statusCode})`)
  }
  fake.on(
    'POST',
    `/v1/payment_intents/${KEY}`,
    stripeError(404, 'invalid_request_error', 'No such payment_intent', { code: 'resource_missing' })
  )
  const echoed = await app.inject({
    method: 'POST',
    url: '/update_payment_intent',
    headers: { 'x-api-key': KEY, 'content-type': 'application/x-www-form-urlencoded' },
    payload: `payment_intent_id=${KEY}`
  })
  t.equal(echoed.statusCode, 402, 'an id that Stripe refuses')
  t.equal(echoed.body.includes(KEY), false, 'the prefix that names the id masks a key')
  t.match(echoed.body, /^Error updating PaymentIntent \[REDACTED\]\./)
  const notFound = await app.inject({ method: 'GET', url: `/${KEY}` })
  t.equal(notFound.json().error.message, 'Unknown route: GET /[REDACTED]')
  t.ok(rawLogs.length > 5)
  t.notOk(rawLogs.join('').includes(KEY), 'the key appears in no log line')
})

t.test("404s and real requests share one bucket: scanning spends the caller's own limit", async t => {
  const { app } = await build(t, { env: { RATE_LIMIT_MAX: '3' } })
  const codes = []
  codes.push((await app.inject({ method: 'POST', url: '/connection_token' })).statusCode)
  codes.push((await app.inject({ method: 'GET', url: '/scan-a' })).statusCode)
  codes.push((await app.inject({ method: 'GET', url: '/scan-b' })).statusCode)
  codes.push((await app.inject({ method: 'POST', url: '/connection_token' })).statusCode)
  t.same(codes, [200, 404, 404, 429])
})

t.test('errors: JSON, no stack trace; unknown routes 404', async t => {
  const { app } = await build(t)
  const res = await app.inject({ method: 'GET', url: '/no/such/route' })
  t.equal(res.statusCode, 404)
  t.equal(res.json().error.type, 'invalid_request_error')
  const wrongMethod = await app.inject({ method: 'GET', url: '/connection_token' })
  t.equal(wrongMethod.statusCode, 404, 'a wrong method on a known path is a 404, as in the original')
  const landing = await app.inject({ method: 'GET', url: '/' })
  t.match(landing.body, /successfully deployed the Stripe Terminal example backend/)
  t.match(landing.headers['content-type'], /text\/html/)
  t.notMatch(landing.body, /sk_/)
  t.equal((await app.inject({ method: 'HEAD', url: '/' })).statusCode, 200)
})

t.test('404s are rate limited: scanning for routes costs the scanner', async t => {
  const { app } = await build(t, { env: { RATE_LIMIT_MAX: '2' } })
  const codes = []
  for (let i = 0; i < 3; i++) codes.push((await app.inject({ method: 'GET', url: `/scan-${i}` })).statusCode)
  t.same(codes, [404, 404, 429])
})

/** server.ts in a child process on a free port; resolves once it listens (or after 10 s). */
async function serve (extra: Record<string, string>) {
  const port = await freePort()
  const env = childEnv({
    PORT: String(port),
    HOST: '127.0.0.1',
    STRIPE_TEST_SECRET_KEY: 'sk_test_1',
    DATABASE_URL: 'sqlite::memory:',
    LOG_LEVEL: 'info',
    ...extra
  })
  const child = spawn(process.execPath, ['--import', 'tsx', 'server.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', d => { out += String(d) })
  child.stderr.on('data', d => { out += String(d) })
  const exited = once(child, 'exit')
  for (let i = 0; i < 100 && !out.includes('Server listening'); i++) await new Promise(resolve => setTimeout(resolve, 100))
  return { port, child, output: () => out, exited }
}

t.test('server.ts: SIGTERM lets a slow in-flight request finish with 200, then exits 0; the HEALTHCHECK passes', async t => {
  const fake = await new FakeStripe().start()
  t.teardown(() => fake.stop())
  fake.on('POST', '/v1/terminal/connection_tokens', {
    delayMs: 1500,
    body: { object: 'terminal.connection_token', secret: 'pst_test_slow' }
  })
  const { port, child, output, exited } = await serve({ STRIPE_API_BASE: fake.url })
  t.match(output(), /Server listening/, 'the server started')

  const health = spawn(process.execPath, ['healthcheck.mjs'], { env: childEnv({ PORT: String(port) }) })
  t.same(await once(health, 'exit'), [0, null], 'the container HEALTHCHECK command passes')

  const inflight = fetch(`http://127.0.0.1:${port}/connection_token`, { method: 'POST' })
  await new Promise(resolve => setTimeout(resolve, 300))
  child.kill('SIGTERM')
  const res = await inflight
  t.equal(res.status, 200, 'the in-flight request finished')
  t.same(await res.json(), { secret: 'pst_test_slow' })
  const [code] = await exited
  t.equal(code, 0, 'exit 0')
  const after = spawn(process.execPath, ['healthcheck.mjs'], { env: childEnv({ PORT: String(port) }) })
  t.same(await once(after, 'exit'), [1, null], 'the HEALTHCHECK fails once the server is gone')
})

t.test('SIGTERM within SHUTDOWN_GRACE_MS: a retried call still finishes; idle and incomplete sockets are closed at once', async t => {
  const fake = await new FakeStripe().start()
  t.teardown(() => fake.stop())
  fake.on('POST', '/v1/terminal/connection_tokens', { hang: true })
  fake.on('POST', '/v1/terminal/connection_tokens', {
    delayMs: 100,
    body: { object: 'terminal.connection_token', secret: 'pst_test_retried' }
  })
  const { port, child, output, exited } = await serve({ STRIPE_API_BASE: fake.url, STRIPE_TIMEOUT_MS: '800', STRIPE_MAX_RETRIES: '1' })
  const open = async (text: string): Promise<net.Socket> => {
    const s = net.connect(port, '127.0.0.1')
    await once(s, 'connect')
    s.write(text)
    s.on('error', () => {})
    return s
  }
  // what held the old drain open for its whole grace, then exited 1: an idle keep-alive socket,
  // headers still arriving, a body still arriving
  const idle = await open('GET /health HTTP/1.1\r\nHost: x\r\n\r\n')
  await once(idle, 'data')
  const slowHeaders = await open('GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: aaa')
  const slowBody = await open(
    'POST /connection_token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":'
  )
  const inflight = fetch(`http://127.0.0.1:${port}/connection_token`, { method: 'POST' })
  await fake.nextCall('POST', '/v1/terminal/connection_tokens')
  child.kill('SIGTERM')
  await Promise.all([once(idle, 'close'), once(slowHeaders, 'close'), once(slowBody, 'close')])
  t.pass('the idle, half-headed and half-bodied sockets were closed')
  const res = await inflight
  t.equal(res.status, 200, 'the whole request in flight was answered after its first attempt timed out')
  t.same(await res.json(), { secret: 'pst_test_retried' })
  t.equal(fake.callsTo('POST', '/v1/terminal/connection_tokens').length, 2, 'two attempts')
  t.equal((await exited)[0], 0, 'exit 0, not "killed by timeout"')
  t.match(output(), /"grace_ms":25000/, 'the default grace fits Kubernetes\' 30 s')
})

t.test('SIGTERM with Stripe hanging: the call is cut 2 s before SHUTDOWN_GRACE_MS ends and answered 504, exit 0', async t => {
  const fake = await new FakeStripe().start()
  t.teardown(() => fake.stop())
  fake.on('POST', '/v1/terminal/connection_tokens', { hang: true })
  // STRIPE_TIMEOUT_MS stays at its 30 s default: the drain, not the timeout, ends the call
  const { port, child, exited } = await serve({ STRIPE_API_BASE: fake.url, SHUTDOWN_GRACE_MS: '3000', STRIPE_MAX_RETRIES: '0' })
  const inflight = fetch(`http://127.0.0.1:${port}/connection_token`, { method: 'POST' })
  await fake.nextCall('POST', '/v1/terminal/connection_tokens')
  child.kill('SIGTERM')
  const res = await inflight
  t.equal(res.status, 504, 'the till is answered (504: retry it), not reset')
  t.equal(res.headers.get('connection'), 'close')
  t.equal((await exited)[0], 0, 'exit 0 within the grace')
})

t.test('SIGTERM with the proxy\'s upstream hanging: the call is cut before SHUTDOWN_GRACE_MS ends and answered 504, exit 0', async t => {
  const fake = await new FakeStripe().start()
  t.teardown(() => fake.stop())
  fake.on('GET', '/v1/customers', { hang: true })
  const apiKey = 'ops-proxy-key-0123456789abcdef0123'
  // the adapter's deadline is STRIPE_TIMEOUT_MS (30 s): the drain, not the deadline, ends the call
  const { port, child, exited } = await serve({
    STRIPE_API_BASE: fake.url, STRIPE_PROXY_KEY: 'rk_test_opsproxy', API_KEY: apiKey, SHUTDOWN_GRACE_MS: '3000'
  })
  const inflight = fetch(`http://127.0.0.1:${port}/v1/apis/http/stripe/v1/customers`, { headers: { 'x-api-key': apiKey } })
  await fake.nextCall('GET', '/v1/customers')
  child.kill('SIGTERM')
  const res = await inflight
  t.equal(res.status, 504, 'the caller is answered (504: retry it), not reset')
  t.match(await res.json(), { error: { message: /timed out/ } })
  t.equal((await exited)[0], 0, 'exit 0 within the grace')
})

t.test('server.ts: a production boot that fails the checklist exits 1 before listening', async t => {
  const env = childEnv({
    ENVIRONMENT: 'production',
    PORT: String(await freePort()),
    DATABASE_URL: 'sqlite::memory:',
    API_KEY: 'short-secret-value',
    STRIPE_SECRET_KEY: undefined
  })
  const child = spawn(process.execPath, ['--import', 'tsx', 'server.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', d => {
    out += String(d)
  })
  child.stderr.on('data', d => {
    out += String(d)
  })
  const [code] = await once(child, 'exit')
  t.equal(code, 1)
  t.match(out, /API_KEY: every key must be at least 32 characters/)
  t.notMatch(out, /short-secret-value/, 'no secret printed')
  t.notMatch(out, /Server listening/)
})

t.test('X-Request-Id: a valid one is used, returned and logged; anything else is replaced', async t => {
  const { app, logs } = await build(t)
  const sent = await app.inject({ method: 'POST', url: '/connection_token', headers: { 'x-request-id': 'till-7/txn-42' } })
  t.equal(sent.headers['x-request-id'], 'till-7/txn-42', 'returned')
  const lines = logs.filter(l => l.reqId === 'till-7/txn-42')
  t.ok(lines.some(l => l.msg === 'request' && l.status === 200), 'on the access line of the request')
  for (const bad of ['x'.repeat(129), 'bad\u0001id', '']) {
    const res = await app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': bad } })
    t.match(res.headers['x-request-id'], /^[0-9a-f-]{36}$/, `${JSON.stringify(bad).slice(0, 12)} replaced`)
  }
  const made = await app.inject({ method: 'GET', url: '/nothing-here' })
  t.match(made.headers['x-request-id'], /^[0-9a-f-]{36}$/, 'made when absent, on errors too')
})
