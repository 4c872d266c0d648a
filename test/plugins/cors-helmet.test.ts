import t from 'tap'
import { build } from '../support/helper.js'

t.test('strict allowlist: an allowed origin is echoed with Vary, another gets no header', async t => {
  const { app } = await build(t, { env: { ALLOWED_ORIGINS: 'https://pos.example.com' } })
  const allowed = await app.inject({ method: 'POST', url: '/connection_token', headers: { origin: 'https://pos.example.com' } })
  t.equal(allowed.headers['access-control-allow-origin'], 'https://pos.example.com')
  t.match(allowed.headers.vary, /Origin/)
  const other = await app.inject({ method: 'POST', url: '/connection_token', headers: { origin: 'https://evil.example' } })
  t.equal(other.headers['access-control-allow-origin'], undefined)

  const preflight = await app.inject({
    method: 'OPTIONS',
    url: '/create_payment_intent',
    headers: {
      origin: 'https://pos.example.com',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'x-api-key,content-type'
    }
  })
  t.equal(preflight.statusCode, 200)
  t.equal(preflight.headers['access-control-allow-origin'], 'https://pos.example.com')
  t.match(String(preflight.headers['access-control-allow-headers']), /X-API-Key/)
  t.equal(preflight.headers['access-control-allow-credentials'], undefined, 'no credentials')
  const denied = await app.inject({
    method: 'OPTIONS',
    url: '/create_payment_intent',
    headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' }
  })
  t.equal(denied.headers['access-control-allow-origin'], undefined)
})

t.test('development default is *', async t => {
  const { app } = await build(t)
  const res = await app.inject({ method: 'POST', url: '/connection_token', headers: { origin: 'http://localhost:3000' } })
  t.equal(res.headers['access-control-allow-origin'], '*')
})

t.test('helmet everywhere; HSTS only in production', async t => {
  const dev = await build(t)
  const res = await dev.app.inject({ method: 'GET', url: '/health' })
  t.equal(res.headers['x-content-type-options'], 'nosniff')
  t.equal(res.headers['strict-transport-security'], undefined)
  t.equal(res.headers['content-security-policy'], "default-src 'none';frame-ancestors 'none'", 'the API serves no pages')

  const prod = await build(t, {
    env: {
      ENVIRONMENT: 'production',
      STRIPE_SECRET_KEY: 'sk_live_x',
      STRIPE_TEST_SECRET_KEY: undefined,
      API_KEY: 'k'.repeat(32),
      ALLOWED_ORIGINS: 'https://pos.example.com'
    }
  })
  const p = await prod.app.inject({ method: 'GET', url: '/health' })
  t.match(p.headers['strict-transport-security'], /max-age=31536000/)
  t.equal((await prod.app.inject({ method: 'GET', url: '/docs' })).statusCode, 404, 'docs off in production by default')
})

t.test('Swagger UI and the OpenAPI document in development', async t => {
  const { app } = await build(t)
  const ui = await app.inject({ method: 'GET', url: '/docs/' })
  t.equal(ui.statusCode, 200)
  t.match(ui.headers['content-security-policy'], /script-src 'self'/, 'the docs page may run its own scripts')
  t.notMatch(String(ui.headers['content-security-policy']), /upgrade-insecure-requests/, 'and works over plain HTTP')
  const asset = await app.inject({ method: 'GET', url: '/docs/static/swagger-ui-bundle.js' })
  t.equal(asset.statusCode, 200)
  const doc = await app.inject({ method: 'GET', url: '/docs/json' })
  const spec = doc.json()
  t.ok(spec.paths['/create_payment_intent'].post, 'Terminal routes are documented')
  t.ok(spec.paths['/connection_token'].post.requestBody, 'with their parameters')
})

t.test('the precomputed headers are exactly what helmet sets on a response', async t => {
  const { helmetHeaders } = await import('../../plugins/external/helmet.js')
  const { default: helmet } = await import('helmet')
  const http = await import('node:http')
  const options = { contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"] } } }
  const server = http.createServer((req, res) => {
    helmet(options)(req, res, () => {
      res.end()
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const res = await fetch(`http://127.0.0.1:${(server.address() as { port: number }).port}/`)
  const expected: Record<string, string> = {}
  const computed = helmetHeaders(options)
  for (const name of Object.keys(computed)) expected[name] = res.headers.get(name) ?? '(missing)'
  t.same(computed, expected)
  const set = [...res.headers.keys()].filter(h => !['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding'].includes(h))
  t.same(set.sort(), Object.keys(computed).sort(), "no header of helmet's is missed")
  t.ok(Object.keys(computed).length >= 10)
})

t.test('an explicit ALLOWED_ORIGINS refuses a request from another origin before anything runs', async t => {
  const KEY = 'k'.repeat(32)
  const { app, fake } = await build(t, { env: { ALLOWED_ORIGINS: 'https://pos.example.com', STRIPE_PROXY_KEY: 'rk_test_proxy1' } })
  const form = { 'content-type': 'application/x-www-form-urlencoded' }
  // a plain form POST needs no preflight: without this check the PaymentIntent would be created
  for (const origin of ['https://evil.example', 'null', 'https://pos.example.com.evil.example']) {
    const res = await app.inject({ method: 'POST', url: '/create_payment_intent', headers: { ...form, origin }, payload: 'amount=100' })
    t.equal(res.statusCode, 403, `${origin}: 403`)
    t.equal(res.body, `Origin ${origin} is not allowed to call this API (ALLOWED_ORIGINS).`, 'text, as every Terminal error')
    const captured = await app.inject({
      method: 'POST',
      url: '/capture_payment_intent',
      headers: { ...form, origin, accept: 'application/json' },
      payload: 'payment_intent_id=pi_1'
    })
    t.match(captured.json(), { error: { type: 'invalid_request_error', code: 'origin_not_allowed' } }, 'JSON when asked')
  }
  t.equal(fake.calls.length, 0, 'nothing reached Stripe')
  t.equal(
    (
      await app.inject({
        method: 'POST',
        url: '/create_payment_intent',
        headers: { ...form, origin: 'https://pos.example.com' },
        payload: 'amount=100'
      })
    ).statusCode,
    200,
    'the allowed origin'
  )
  t.equal(
    (await app.inject({ method: 'POST', url: '/create_payment_intent', headers: form, payload: 'amount=100' })).statusCode,
    200,
    'no Origin: a native app'
  )
  t.equal(fake.calls.length, 2)

  const proxy = await app.inject({
    method: 'GET',
    url: '/v1/apis/http/stripe/v1/balance',
    headers: { origin: 'https://evil.example', 'x-api-key': KEY }
  })
  t.equal(proxy.statusCode, 403, 'the proxy too')
  t.match(proxy.json(), { error: { type: 'invalid_request_error', code: 'origin_not_allowed' } })
  t.equal(fake.calls.length, 2)
})

t.test('the development default * refuses no origin', async t => {
  const { app, fake } = await build(t)
  const res = await app.inject({ method: 'POST', url: '/connection_token', headers: { origin: 'https://anything.example' } })
  t.equal(res.statusCode, 200)
  t.equal(fake.calls.length, 1)
})
