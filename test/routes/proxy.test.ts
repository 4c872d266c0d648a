/* eslint-disable no-template-curly-in-string -- `${{ VAR }}` is Atlas's adapter syntax, not a template */
import { execFileSync } from 'node:child_process'
import { once } from 'node:events'
import https from 'node:https'
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { build } from '../support/helper.js'
import { stripeError } from '../support/fake-stripe.js'
import { compileRule, parseProxyYaml, safeUpstreamPath, STRIPE_READ_ONLY } from '../../routes/proxy/config.js'

const KEY = 'k'.repeat(32)
const PROXY_KEY = 'rk_test_proxykey123'
const auth = { 'x-api-key': KEY }

const get = (app: FastifyInstance, url: string, headers: Record<string, string> = auth) => app.inject({ method: 'GET', url, headers })

t.test("STRIPE_PROXY_KEY: the adapter key replaces the caller's credentials; query and headers", async t => {
  const { app, fake, rawLogs } = await build(t, { env: { API_KEY: KEY, STRIPE_PROXY_KEY: PROXY_KEY } })
  const res = await get(app, '/v1/apis/http/stripe/v1/charges?limit=3&customer=cus_1', {
    ...auth,
    authorization: 'Bearer sk_test_callers_own',
    cookie: 'session=abc',
    'stripe-version': '2020-03-02',
    accept: 'application/json',
    connection: 'keep-alive, x-secret-hop',
    'x-secret-hop': 'hop',
    'x-forwarded-for': '1.2.3.4'
  })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { object: 'list', data: [] })
  t.match(res.headers['request-id'], /^req_/, 'Request-Id comes back')
  t.equal(res.headers['set-cookie'], undefined)
  const c = fake.calls[0]!
  t.equal(c.path, '/v1/charges')
  t.same(c.query, { limit: '3', customer: 'cus_1' }, 'query preserved')
  t.equal(c.authorization, `Bearer ${PROXY_KEY}`, 'injected credential')
  t.equal(c.headers['x-api-key'], undefined)
  t.equal(c.headers.cookie, undefined)
  t.equal(c.headers['x-secret-hop'], undefined, 'hop-by-hop headers stay')
  t.equal(c.headers['x-forwarded-for'], undefined)
  t.equal(c.stripeVersion, '2020-03-02', 'Stripe-Version travels')
  t.notOk(rawLogs.join('').includes('proxykey123'), 'the key is never logged')
  // one line per request at info: the access line, with the upstream's request id as a Stripe call's
  const lines = rawLogs.map(l => JSON.parse(l))
  t.same(lines.filter(l => l.msg === 'request').map(l => [l.route, l.status, l.stripe_request_ids]),
    [['/v1/apis/http/:adapter/*', 200, [res.headers['request-id']]]])
  t.equal(lines.filter(l => l.msg === 'proxied').length, 0, 'no second line at info')

  t.equal((await get(app, '/v1/apis/http/stripe/v1/customers/cus_123')).statusCode, 200, 'with an id')
  t.equal((await get(app, '/v1/apis/http/stripe/v1/balance')).statusCode, 200)
})

t.test('at LOG_LEVEL=debug each proxied call also gets its own line: adapter, allowlist rule, status, ms', async t => {
  const { app, logs } = await build(t, { env: { API_KEY: KEY, STRIPE_PROXY_KEY: PROXY_KEY, LOG_LEVEL: 'debug' } })
  const res = await get(app, '/v1/apis/http/stripe/v1/customers/cus_42')
  t.equal(res.statusCode, 200)
  const line = logs.find(l => l.msg === 'proxied')
  t.match(line, { adapter: 'stripe', method: 'GET', path: '/v1/customers/{id}', status: 200, request_id: res.headers['request-id'] })
  t.type(line?.ms, 'number')
})

t.test("the upstream's own CORS, security and site headers never replace the service's", async t => {
  const origin = 'https://tools.example.com'
  const { app, fake } = await build(t, {
    env: { API_KEY: KEY, STRIPE_PROXY_KEY: PROXY_KEY, ALLOWED_ORIGINS: origin }
  })
  // what api.stripe.com answers a GET with, and a few more an upstream could send
  const upstream = {
    'access-control-allow-origin': '*',
    'access-control-allow-credentials': 'true',
    'access-control-allow-methods': 'GET, HEAD, PUT, PATCH, POST, DELETE',
    'access-control-expose-headers': 'Request-Id, Stripe-Manage-Version, Stripe-Should-Retry',
    'access-control-max-age': '300',
    'cache-control': 'no-cache, no-store',
    'content-security-policy': "base-uri 'none'; report-uri https://q.stripe.com/csp-violation",
    'cross-origin-opener-policy-report-only': 'same-origin; report-to="coop"',
    'report-to': '{"group":"coop","max_age":8640,"endpoints":[{"url":"https://q.stripe.com/coop-report"}]}',
    'reporting-endpoints': 'coop="https://q.stripe.com/coop-report"',
    'strict-transport-security': 'max-age=63072000; includeSubDomains; preload',
    'x-content-type-options': 'nosniff',
    server: 'nginx',
    vary: 'Accept-Encoding',
    'idempotency-key': 'idem_1',
    'original-request': 'req_orig',
    'stripe-should-retry': 'false',
    'stripe-version': '2020-08-27',
    'x-stripe-routing-context-priority-tier': 'api-testmode',
    'clear-site-data': '"*"',
    'set-cookie': 'upstream=1',
    'x-ratelimit-remaining': '0',
    'x-request-id': 'upstream-id',
    link: '<https://api.example.com/v1/customers?page=2>; rel="next"'
  }
  fake.on('GET', '/v1/customers', { body: { object: 'list', data: [] }, headers: upstream })
  const res = await get(app, '/v1/apis/http/stripe/v1/customers', { ...auth, origin })
  t.equal(res.statusCode, 200)
  const h = res.headers
  t.equal(h['access-control-allow-origin'], origin, 'the allowed origin echoed, not Stripe\'s *')
  t.equal(h['access-control-expose-headers'], 'Request-Id', 'the area\'s own list')
  for (const name of [
    'access-control-allow-credentials', 'access-control-allow-methods', 'access-control-max-age', 'clear-site-data', 'set-cookie',
    'report-to', 'reporting-endpoints', 'cross-origin-opener-policy-report-only', 'server', 'x-stripe-routing-context-priority-tier'
  ]) {
    t.equal(h[name], undefined, `no upstream ${name}`)
  }
  t.equal(h['content-security-policy'], "default-src 'none';frame-ancestors 'none'", 'the service\'s CSP')
  // HSTS is the service's choice, made in production only: an upstream's would pin this origin (and, with preload, its domain)
  t.equal(h['strict-transport-security'], undefined, 'no upstream HSTS')
  t.not(h['x-request-id'], 'upstream-id', 'the service\'s request id')
  t.not(h['x-ratelimit-remaining'], '0', 'the service\'s rate limit')
  t.match(h.vary, /Origin/)
  t.match(h, {
    'content-type': 'application/json',
    'cache-control': 'no-cache, no-store',
    'request-id': /^req_/,
    'idempotency-key': 'idem_1',
    'original-request': 'req_orig',
    'stripe-should-retry': 'false',
    'stripe-version': '2020-08-27',
    link: upstream.link
  }, 'what describes the answer comes back')
})

t.test('each refused case makes zero upstream calls', async t => {
  const { app, fake } = await build(t, { env: { API_KEY: KEY, STRIPE_PROXY_KEY: PROXY_KEY } })
  const cases: Array<[string, string, string, Record<string, string>, number]> = [
    ['no API key', 'GET', '/v1/apis/http/stripe/v1/charges', {}, 401],
    ['wrong API key', 'GET', '/v1/apis/http/stripe/v1/charges', { 'x-api-key': 'x'.repeat(32) }, 401],
    ['unknown adapter', 'GET', '/v1/apis/http/github/v1/charges', auth, 404],
    ['a write on the read-only adapter', 'POST', '/v1/apis/http/stripe/v1/charges', auth, 403],
    ['a path not listed', 'GET', '/v1/apis/http/stripe/v1/accounts', auth, 403],
    ['a deeper path', 'GET', '/v1/apis/http/stripe/v1/customers/cus_1/sources', auth, 403],
    ['encoded slash', 'GET', '/v1/apis/http/stripe/v1/customers/cus_1%2Fsources', auth, 400],
    ['backslash', 'GET', '/v1/apis/http/stripe/v1/customers/..%5Caccounts', auth, 400],
    ['empty segment', 'GET', '/v1/apis/http/stripe/v1//charges', auth, 400],
    ['Stripe-Account not allowed', 'GET', '/v1/apis/http/stripe/v1/charges', { ...auth, 'stripe-account': 'acct_1' }, 403]
  ]
  for (const [name, method, url, headers, status] of cases) {
    const res = await app.inject({ method: method as 'GET', url, headers })
    t.equal(res.statusCode, status, name)
    if (status !== 401) t.equal(res.json().error.type, 'invalid_request_error', `${name}: Stripe's envelope`)
  }
  t.equal(fake.calls.length, 0, 'nothing left the service')
})

t.test('path traversal sent raw over a socket (as curl --path-as-is would) → 400, no upstream call', async t => {
  const { app, fake } = await build(t, { env: { API_KEY: KEY, STRIPE_PROXY_KEY: PROXY_KEY } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  const { connect } = await import('node:net')
  const raw = async (path: string): Promise<string> => {
    const socket = connect(port, '127.0.0.1')
    await once(socket, 'connect')
    socket.end(`GET ${path} HTTP/1.1\r\nHost: x\r\nX-API-Key: ${KEY}\r\nConnection: close\r\n\r\n`)
    let out = ''
    for await (const chunk of socket) out += String(chunk)
    return out.split('\r\n')[0]!
  }
  for (const path of [
    '/v1/apis/http/stripe/v1/customers/../accounts',
    '/v1/apis/http/stripe/v1/customers/./cus_1',
    '/v1/apis/http/stripe/v1/customers/%2e%2e/accounts',
    '/v1/apis/http/stripe/v1/customers/%2E./accounts',
    '/v1/apis/http/stripe/../../admin'
  ]) {
    t.match(await raw(path), /^HTTP\/1\.1 (400|404)/, path)
  }
  t.equal(fake.calls.length, 0)
})

t.test('no API_KEY configured: the proxy answers 503 even in development', async t => {
  const { app, fake } = await build(t, { env: { STRIPE_PROXY_KEY: PROXY_KEY } })
  const res = await get(app, '/v1/apis/http/stripe/v1/charges', {})
  t.equal(res.statusCode, 503)
  t.match(res.json().error.message, /API_KEY/)
  t.equal(fake.calls.length, 0)
})

t.test('YAML adapters: two adapters, ${{ VAR }}, POST with Idempotency-Key, Stripe-Account when allowed, timeouts and resets', async t => {
  const dir = t.testdir({
    'proxy.yaml': `apiVersion: moment.dev/atlas/v1alpha1
kind: Atlas
spec:
  apiAdapters:
    - adapterRef: { kind: HTTP, apiVersion: moment.dev/adapters/v1alpha1, name: stripe }
---
apiVersion: moment.dev/adapters/v1alpha1
kind: HTTP
metadata:
  name: stripe
spec:
  baseUrl: \${{ FAKE_BASE }}
  headers:
    - name: Authorization
      value: Bearer \${{ MY_RAK }}
  allow:
    - GET /v1/customers
    - POST /v1/customers
    - POST /v1/terminal/readers/{reader}/process_payment_intent
  allowStripeAccount: true
  timeoutMs: 1000
---
apiVersion: moment.dev/adapters/v1alpha1
kind: HTTP
metadata:
  name: other
spec:
  baseUrl: \${{ FAKE_BASE }}/v1
  headers:
    - name: Authorization
      value: Bearer rk_test_other
    - name: X-Custom-Token
      value: tok_\${{ OTHER_TOKEN }}
  allow:
    - GET /customers/{id}
`
  })
  const a = await build(t, { env: { API_KEY: KEY } })
  const { app, fake } = await build(t, {
    env: { API_KEY: KEY, PROXY_CONFIG: `${dir}/proxy.yaml`, FAKE_BASE: a.fake.url, MY_RAK: 'rk_test_yaml', OTHER_TOKEN: 'abc' },
    fake: a.fake
  })
  t.same([...app.proxyAdapters.keys()].sort(), ['other', 'stripe'])

  const post = await app.inject({
    method: 'POST',
    url: '/v1/apis/http/stripe/v1/customers',
    payload: 'email=a%40b.co&metadata[x]=1',
    headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded', 'idempotency-key': 'idem-1', 'stripe-account': 'acct_9' }
  })
  t.equal(post.statusCode, 200)
  const c = fake.callsTo('POST', '/v1/customers')[0]!
  t.equal(c.idempotencyKey, 'idem-1', 'Idempotency-Key forwarded')
  t.equal(c.stripeAccount, 'acct_9', 'Stripe-Account travels where allowed')
  t.equal(c.authorization, 'Bearer rk_test_yaml')
  t.same(c.params, { email: 'a@b.co', metadata: { x: '1' } }, 'the body as sent')

  const reader = await app.inject({
    method: 'POST',
    url: '/v1/apis/http/stripe/v1/terminal/readers/tmr_1/process_payment_intent',
    payload: 'payment_intent=pi_1',
    headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' }
  })
  t.equal(reader.statusCode, 200, 'a path template with a {param}')

  const other = await get(app, '/v1/apis/http/other/customers/cus_7')
  t.equal(other.statusCode, 200)
  t.equal(fake.callsTo('GET', '/v1/customers/cus_7')[0]?.headers['x-custom-token'], 'tok_abc', 'baseUrl path + custom header')

  fake.on('POST', '/v1/customers', { status: 402, body: { error: { type: 'card_error', message: 'declined' } } })
  const declined = await app.inject({
    method: 'POST',
    url: '/v1/apis/http/stripe/v1/customers',
    headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'email=x'
  })
  t.equal(declined.statusCode, 402, "Stripe's status passes through")
  t.same(declined.json(), { error: { type: 'card_error', message: 'declined' } }, 'and its body')

  fake.on('GET', '/v1/customers', { hang: true })
  const hung = await get(app, '/v1/apis/http/stripe/v1/customers')
  t.equal(hung.statusCode, 504)
  t.equal(hung.json().error.type, 'api_error')
  t.match(hung.json().error.message, /timed out after 1000 ms/, 'spec.timeoutMs applied')

  fake.on('POST', '/v1/customers', { reset: true }, 5)
  const before = fake.callsTo('POST', '/v1/customers').length
  const reset = await app.inject({
    method: 'POST',
    url: '/v1/apis/http/stripe/v1/customers',
    headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'email=y'
  })
  t.equal(reset.statusCode, 502)
  t.equal(fake.callsTo('POST', '/v1/customers').length - before, 1, 'a POST is never retried')
})

t.test('unreachable upstream → 502', async t => {
  const { app } = await build(t, { env: { API_KEY: KEY, STRIPE_PROXY_KEY: PROXY_KEY, STRIPE_API_BASE: 'http://127.0.0.1:1' } })
  const res = await get(app, '/v1/apis/http/stripe/v1/charges')
  t.equal(res.statusCode, 502)
  t.same(res.json(), { error: { type: 'api_error', message: 'Upstream stripe is unreachable.' } })
})

t.test('a large list response streams back intact', async t => {
  const { app, fake } = await build(t, { env: { API_KEY: KEY, STRIPE_PROXY_KEY: PROXY_KEY } })
  const data = Array.from({ length: 20000 }, (_, i) => ({ id: `ch_${i}`, object: 'charge', amount: i, description: 'x'.repeat(100) }))
  const raw = JSON.stringify({ object: 'list', data, has_more: false, url: '/v1/charges' })
  fake.on('GET', '/v1/charges', { raw })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  const res = await fetch(`http://127.0.0.1:${port}/v1/apis/http/stripe/v1/charges?limit=100`, { headers: auth })
  t.equal(res.status, 200)
  t.equal(res.headers.get('content-length'), null, 'sent as a stream, not buffered to a length')
  const text = await res.text()
  t.equal(text.length, raw.length)
  t.equal(text, raw, `${(raw.length / 1e6).toFixed(1)} MB byte-identical`)
})

t.test('a small answer goes out whole, with its length; one cut or stalled upstream is a 502 or 504, never a short 200', async t => {
  const { app, fake } = await build(t, { env: { API_KEY: KEY, STRIPE_PROXY_KEY: PROXY_KEY, STRIPE_TIMEOUT_MS: '300' } })
  const customer = { id: 'cus_whole', object: 'customer', email: 'a@b.co' }
  fake.on('GET', '/v1/customers/cus_whole', { body: customer })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  const res = await fetch(`http://127.0.0.1:${port}/v1/apis/http/stripe/v1/customers/cus_whole`, { headers: auth })
  t.equal(res.status, 200)
  const text = await res.text()
  t.equal(res.headers.get('content-length'), String(Buffer.byteLength(text)), 'sent with its length')
  t.same(JSON.parse(text), customer)

  // the upstream says how long its answer is, then sends half of it and closes, or stops
  fake.on('GET', '/v1/customers/cus_cut', { body: customer, partial: 'cut' })
  const cut = await get(app, '/v1/apis/http/stripe/v1/customers/cus_cut')
  t.equal(cut.statusCode, 502, 'an answer cut upstream is a 502')
  t.same(cut.json(), { error: { type: 'api_error', message: 'Upstream stripe is unreachable.' } })
  fake.on('GET', '/v1/customers/cus_stall', { body: customer, partial: 'stall' })
  const stalled = await get(app, '/v1/apis/http/stripe/v1/customers/cus_stall')
  t.equal(stalled.statusCode, 504, 'an answer that stops half-way is cut at the deadline')
  t.same(stalled.json(), { error: { type: 'api_error', message: 'Upstream stripe timed out after 300 ms.' } })
})

t.test('TLS is verified: an upstream with a self-signed certificate is refused', async t => {
  const dir = t.testdir({})
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${dir}/key.pem`,
      '-out',
      `${dir}/cert.pem`,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1'
    ],
    { stdio: 'ignore' }
  )
  const { readFileSync } = await import('node:fs')
  let reached = 0
  const server = https.createServer({ key: readFileSync(`${dir}/key.pem`), cert: readFileSync(`${dir}/cert.pem`) }, (_req, res) => {
    reached++
    res.end('{}')
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => server.close())
  const port = (server.address() as { port: number }).port
  const { app } = await build(t, { env: { API_KEY: KEY, STRIPE_PROXY_KEY: PROXY_KEY, STRIPE_API_BASE: `https://127.0.0.1:${port}` } })
  const res = await get(app, '/v1/apis/http/stripe/v1/charges')
  t.equal(res.statusCode, 502)
  t.equal(reached, 0, 'no request reached the untrusted server')
})

t.test('configuration errors stop the boot with a clear message', async t => {
  const env = { FAKE: 'http://127.0.0.1:1', K: 'rk_test_x' }
  const doc = (spec: string, name = 'a') => `kind: HTTP\nmetadata:\n  name: ${name}\nspec:\n${spec}`
  const ok =
    '  baseUrl: ${{ FAKE }}\n  headers:\n    - name: Authorization\n      value: Bearer ${{ K }}\n  allow:\n    - GET /v1/charges\n'
  t.equal(parseProxyYaml(doc(ok), env, 1000).length, 1)
  t.throws(() => parseProxyYaml('kind: HTTP\n  bad: [', env, 1000), /invalid YAML/)
  t.throws(() => parseProxyYaml(doc(ok.replace('${{ K }}', '${{ MISSING }}')), env, 1000), /\$\{\{ MISSING \}\} is not set/)
  t.throws(() => parseProxyYaml(doc(ok.replace('${{ K }}', 'sk_live_abc')), env, 1000), /live secret key/)
  t.equal(
    parseProxyYaml(doc(`${ok.replace('${{ K }}', 'sk_live_abc')}  allowSecretKey: true\n`), env, 1000).length,
    1,
    'unless allowSecretKey'
  )
  t.throws(() => parseProxyYaml(doc(ok.replace('    - GET /v1/charges\n', '')), env, 1000), /spec.allow must list/)
  t.throws(() => parseProxyYaml(doc(ok.replace('GET /v1/charges', 'FETCH /v1/charges')), env, 1000), /is not "METHOD/)
  t.throws(() => parseProxyYaml(doc(ok.replace('GET /v1/charges', 'GET /v1/../x')), env, 1000), /invalid path segment/)
  t.throws(() => parseProxyYaml(doc(ok.replace('${{ FAKE }}', 'ftp://x')), env, 1000), /baseUrl/)
  t.throws(() => parseProxyYaml(doc(ok) + '\n---\n' + doc(ok), env, 1000), /defined twice/)
  t.throws(() => parseProxyYaml(doc(ok, 'bad name!'), env, 1000), /metadata.name/)

  const dir = t.testdir({ 'live.yaml': doc(ok.replace('${{ K }}', 'sk_live_abc'), 'stripe') })
  await t.rejects(
    build(t, { env: { PROXY_CONFIG: `${dir}/live.yaml`, FAKE: 'http://127.0.0.1:1' } }),
    /live secret key/,
    'boot refused on a live secret key'
  )
  await t.rejects(build(t, { env: { STRIPE_PROXY_KEY: 'sk_live_abc' } }), /STRIPE_PROXY_KEY is a live secret key/)
  await t.rejects(build(t, { env: { PROXY_CONFIG: `${dir}/missing.yaml` } }), /cannot read PROXY_CONFIG \(ENOENT\)/)
})

t.test('path rules and the default allowlist', async t => {
  t.equal(STRIPE_READ_ONLY.length, 17)
  const rule = compileRule('GET /v1/customers/{customer}', 'x')
  t.ok(rule.re.test('/v1/customers/cus_1'))
  t.notOk(rule.re.test('/v1/customers/cus_1/sources'))
  t.notOk(rule.re.test('/v1/customers'))
  t.equal(safeUpstreamPath('/v1/charges'), '/v1/charges')
  for (const bad of ['/v1/../x', '/v1/./x', '/v1/%2E%2E/x', '/v1//x', 'v1/x', '/v1/a%2fb', '/v1/a\\b']) {
    t.equal(safeUpstreamPath(bad), undefined, bad)
  }
})

t.test("an upstream error answer passes through and is logged at warn with Stripe's fields, masked", async t => {
  const { app, fake, logs, rawLogs } = await build(t, { env: { API_KEY: KEY, STRIPE_PROXY_KEY: PROXY_KEY } })
  fake.on('GET', '/v1/customers/cus_x', {
    ...stripeError(404, 'invalid_request_error', `No such customer: 'cus_x'; key ${PROXY_KEY}`, { code: 'resource_missing' }),
    headers: { 'request-id': 'req_px1' }
  })
  const res = await get(app, '/v1/apis/http/stripe/v1/customers/cus_x')
  t.equal(res.statusCode, 404)
  t.equal(res.json().error.code, 'resource_missing', 'the body passes through')
  t.match(
    logs.find(l => l.msg === 'proxied call failed'),
    {
      level: 40,
      status: 404,
      request_id: 'req_px1',
      stripe: { type: 'invalid_request_error', code: 'resource_missing', message: /^No such customer/ }
    }
  )
  t.notOk(rawLogs.join('').includes('proxykey123'), 'the adapter key is not logged')
})
