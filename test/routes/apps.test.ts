import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, needs, pgUrl, sign, signRotated, TEST_DATABASE_URL } from '../support/helper.js'
import { stripeError } from '../support/fake-stripe.js'

const SECRET = 'absec_test_123'
const NEW_SECRET = 'absec_test_456'
const now = (): number => Math.floor(Date.now() / 1000)
const ENV = { STRIPE_APP_SECRET: SECRET }

/** What the UI extension sends: JSON.stringify({...payload, user_id, account_id}) and its signature. */
const signed = (
  extra: Record<string, unknown> = {},
  opts: { secret?: string; timestamp?: number; user?: string; account?: string } = {}
) => {
  const body = JSON.stringify({ ...extra, user_id: opts.user ?? 'usr_1', account_id: opts.account ?? 'acct_1' })
  return { body, header: sign(body, opts.secret ?? SECRET, opts.timestamp) }
}
const call = (app: FastifyInstance, url: string, body: string, header?: string | string[], headers: Record<string, string> = {}) =>
  app.inject({
    method: 'POST',
    url,
    payload: body,
    headers: { 'content-type': 'application/json', ...(header === undefined ? {} : { 'stripe-signature': header }), ...headers }
  })

t.test('session: default payload, additional payload, fixed vectors', async t => {
  const { app, fake } = await build(t, { env: ENV })
  const { body, header } = signed()
  const res = await call(app, '/apps/session', body, header)
  t.equal(res.statusCode, 200)
  t.same(res.json(), { user_id: 'usr_1', account_id: 'acct_1', roles: [], installation: null })

  const roles = signed({ stripe_roles: [{ id: 'admin', type: 'builtIn', name: 'Administrator' }], nonce: 'n-1' })
  t.same((await call(app, '/apps/session', roles.body, roles.header)).json().roles, ['admin'], 'additional payload keys come first')

  // research/apps.md section 5: stripe-node's signatures equal the published vectors
  t.equal(
    sign('{"user_id":"usr_1","account_id":"acct_1"}', SECRET, 1700000000),
    't=1700000000,v1=716fcd98b3e8d3ddbabde83c631c76133584e4c1e3ede6f9b1ca19876cd0d479'
  )
  t.equal(
    sign('{"livemode":false,"amount":100,"user_id":"usr_1","account_id":"acct_1"}', SECRET, 1700000000),
    't=1700000000,v1=31c7b0048b0f2d2499fc420f65ab14f7087f41daceac73adabdf90aa39a3d210'
  )
  const old = await call(
    app,
    '/apps/session',
    '{"user_id":"usr_1","account_id":"acct_1"}',
    't=1700000000,v1=716fcd98b3e8d3ddbabde83c631c76133584e4c1e3ede6f9b1ca19876cd0d479'
  )
  t.equal(old.statusCode, 401, 'the fixed vector is years old: outside the tolerance')
  t.match(old.json().error.message, /Timestamp outside the tolerance zone/)
  t.equal(fake.calls.length, 0)
})

t.test('rotation: a two-signature header verifies with either configured secret', async t => {
  const body = JSON.stringify({ user_id: 'usr_1', account_id: 'acct_1' })
  const header = signRotated(body, [SECRET, NEW_SECRET])
  t.match(header, /^t=\d+,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/)
  for (const secret of [SECRET, NEW_SECRET, `absec_other,${NEW_SECRET}`]) {
    const { app } = await build(t, { env: { STRIPE_APP_SECRET: secret } })
    t.equal((await call(app, '/apps/session', body, header)).statusCode, 200, `configured: ${secret}`)
  }
})

t.test('every signature failure → 401, nothing runs, no Stripe call', async t => {
  const { app, fake } = await build(t, { env: ENV })
  // a signature over an additional payload: neither documented pattern accepts these bodies
  const ok = signed({ amount: 100 })
  const ts = now()
  const cases: Array<[string, string, string | string[] | undefined, RegExp]> = [
    ['one changed byte', ok.body.replace('usr_1', 'usr_2'), ok.header, /No signatures found matching/],
    ['swapped key order', JSON.stringify({ account_id: 'acct_1', user_id: 'usr_1' }), ok.header, /No signatures found matching/],
    ['re-serialized JSON', JSON.stringify(JSON.parse(ok.body), null, 1), ok.header, /No signatures found matching/],
    ['301 s old', ok.body, sign(ok.body, SECRET, ts - 301), /Timestamp outside the tolerance zone/],
    ['120 s in the future', ok.body, sign(ok.body, SECRET, ts + 120), /in the future/],
    ['v0 only', ok.body, sign(ok.body, SECRET, ts).replace('v1=', 'v0='), /No signatures found with expected scheme/],
    ['another secret', ok.body, sign(ok.body, 'absec_attacker', ts), /No signatures found matching/],
    ['missing header', ok.body, undefined, /Missing Stripe-Signature/],
    ['array header', ok.body, [ok.header, sign(ok.body, SECRET, ts - 5)], /Missing Stripe-Signature/],
    [
      'signed but no account_id',
      JSON.stringify({ user_id: 'usr_1' }),
      sign(JSON.stringify({ user_id: 'usr_1' }), SECRET),
      /must hold string user_id/
    ],
    [
      'signed but account_id not a string',
      JSON.stringify({ user_id: 'usr_1', account_id: 7 }),
      sign(JSON.stringify({ user_id: 'usr_1', account_id: 7 }), SECRET),
      /must hold string user_id/
    ],
    ['signed but not JSON', 'hello', sign('hello', SECRET), /not JSON/]
  ]
  for (const [name, body, header, message] of cases) {
    const res = await call(app, '/apps/account', body, header)
    t.equal(res.statusCode, 401, name)
    t.equal(res.json().error.type, 'authentication_error', name)
    t.match(res.json().error.message, message, name)
    t.notMatch(res.body, /absec_/, `${name}: no secret echoed`)
  }
  t.equal(fake.calls.length, 0, 'no Stripe call')
})

t.test('Connect calls act on the signed account; forged accounts elsewhere are ignored', async t => {
  const { app, fake } = await build(t, { env: ENV })
  const { body, header } = signed({ email: 'a@b.co', name: 'Ada', description: 'vip', metadata: { tier: 'gold' } })
  const res = await app.inject({
    method: 'POST',
    url: '/apps/customers/create?account_id=acct_evil&stripe_account=acct_evil',
    payload: body,
    headers: { 'content-type': 'application/json', 'stripe-signature': header, 'stripe-account': 'acct_evil', 'x-account-id': 'acct_evil' }
  })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { object: 'customer', email: 'a@b.co', name: 'Ada' })
  const c = fake.callsTo('POST', '/v1/customers')[0]!
  t.equal(c.stripeAccount, 'acct_1', 'Stripe-Account is the signed account')
  t.same(c.params, { email: 'a@b.co', name: 'Ada', description: 'vip', metadata: { tier: 'gold' } })

  const acct = await call(app, '/apps/account', signed().body, signed().header, { 'stripe-account': 'acct_evil' })
  t.match(acct.json(), { id: 'acct_1', object: 'account' })
  t.equal(fake.callsTo('GET', '/v1/account')[0]?.stripeAccount, 'acct_1')
  t.same(fake.callsTo('GET', '/v1/account')[0]?.query, {}, 'no options leaked into the query')

  const list = signed({ limit: 5, starting_after: 'cus_9' })
  const page = await call(app, '/apps/customers/list', list.body, list.header)
  t.same(page.json(), { data: [], has_more: false })
  t.same(fake.callsTo('GET', '/v1/customers')[0]?.query, { limit: '5', starting_after: 'cus_9' })
  t.equal(fake.callsTo('GET', '/v1/customers')[0]?.stripeAccount, 'acct_1')
  const dflt = signed()
  await call(app, '/apps/customers/list', dflt.body, dflt.header)
  t.equal(fake.callsTo('GET', '/v1/customers')[1]?.query.limit, '10', 'limit defaults to 10')
  for (const limit of [0, 101, 'ten']) {
    const bad = signed({ limit })
    t.equal((await call(app, '/apps/customers/list', bad.body, bad.header)).statusCode, 400, `limit ${String(limit)}`)
  }
  const unsignedExtra = await app.inject({
    method: 'POST',
    url: '/apps/customers/create',
    payload: `${signed().body}`,
    headers: { 'content-type': 'application/json', 'stripe-signature': signed().header, 'x-email': 'evil@x' }
  })
  t.same(fake.callsTo('POST', '/v1/customers')[1]?.params, {}, 'nothing from unsigned headers')
  t.equal(unsignedExtra.statusCode, 200)
})

t.test('nonce: single use; its Idempotency-Key', async t => {
  const { app, fake } = await build(t, { env: ENV })
  const { body, header } = signed({ nonce: 'n-42', email: 'x@y.co' })
  t.equal((await call(app, '/apps/customers/create', body, header)).statusCode, 200)
  t.equal(fake.calls[0]?.idempotencyKey, 'apps-customer-acct_1-n-42')
  const replay = await call(app, '/apps/customers/create', body, header)
  t.equal(replay.statusCode, 401)
  t.match(replay.json().error.message, /nonce replay/)
  t.equal(fake.calls.length, 1)
  const other = signed({ nonce: 'n-42' }, { account: 'acct_2' })
  t.equal((await call(app, '/apps/session', other.body, other.header)).statusCode, 200, 'nonces are per account')
})

t.test('nonce replay across two instances sharing Postgres', needs('TEST_DATABASE_URL', TEST_DATABASE_URL), async t => {
  const url = await pgUrl(t)
  const a = await build(t, { env: { ...ENV, DATABASE_URL: url } })
  const b = await build(t, { env: { ...ENV, DATABASE_URL: url }, fake: a.fake })
  const { body, header } = signed({ nonce: 'shared-1' })
  const [ra, rb] = await Promise.all([call(a.app, '/apps/session', body, header), call(b.app, '/apps/session', body, header)])
  t.same([ra.statusCode, rb.statusCode].sort(), [200, 401], 'one instance accepted it, the other saw the replay')
  t.equal((await call(a.app, '/apps/session', body, header)).statusCode, 401)
})

t.test('settings: round trip, roles, 16 KiB limit', async t => {
  const { app } = await build(t, { env: ENV })
  const admin = [{ id: 'admin', type: 'builtIn', name: 'Administrator' }]
  const get = signed()
  t.same((await call(app, '/apps/settings/get', get.body, get.header)).json(), { settings: null })

  const noRoles = signed({ settings: { theme: 'dark' } })
  const denied = await call(app, '/apps/settings/put', noRoles.body, noRoles.header)
  t.equal(denied.statusCode, 403, 'a signature without stripe_roles cannot pass a role-gated route')
  t.equal(denied.json().error.code, 'role_required')
  const viewer = signed({ settings: { theme: 'dark' }, stripe_roles: [{ id: 'view_only', type: 'builtIn', name: 'View only' }] })
  t.equal((await call(app, '/apps/settings/put', viewer.body, viewer.header)).statusCode, 403)

  const put = signed({ settings: { theme: 'dark', n: 1, nested: { ok: true } }, stripe_roles: admin })
  const saved = await call(app, '/apps/settings/put', put.body, put.header)
  t.equal(saved.statusCode, 200)
  t.same(saved.json(), { settings: { theme: 'dark', n: 1, nested: { ok: true } } })
  const again = signed()
  t.same((await call(app, '/apps/settings/get', again.body, again.header)).json(), {
    settings: { theme: 'dark', n: 1, nested: { ok: true } }
  })
  const other = signed({}, { account: 'acct_2' })
  t.same((await call(app, '/apps/settings/get', other.body, other.header)).json(), { settings: null }, 'per account')

  const dev = [{ id: 'developer', type: 'builtIn', name: 'Developer' }]
  const fits = signed({ settings: { blob: 'x'.repeat(16 * 1024 - 11) }, stripe_roles: dev })
  t.equal((await call(app, '/apps/settings/put', fits.body, fits.header)).statusCode, 200, 'exactly 16 KiB fits')
  const big = signed({ settings: { blob: 'x'.repeat(16 * 1024 - 10) }, stripe_roles: dev })
  const tooBig = await call(app, '/apps/settings/put', big.body, big.header)
  t.equal(tooBig.statusCode, 413)
  t.match(tooBig.json().error.message, /16384/)
  const huge = signed({ settings: { blob: 'x'.repeat(100 * 1024) }, stripe_roles: dev })
  t.equal((await call(app, '/apps/settings/put', huge.body, huge.header)).statusCode, 413, 'a huge body is refused before parsing')
  for (const settings of ['a string', [1, 2], null]) {
    const bad = signed({ settings, stripe_roles: dev })
    t.equal((await call(app, '/apps/settings/put', bad.body, bad.header)).statusCode, 400, `settings ${JSON.stringify(settings)}`)
  }
  const missing = signed({ stripe_roles: dev })
  t.equal((await call(app, '/apps/settings/put', missing.body, missing.header)).statusCode, 400, 'settings missing')
})

t.test('an uninstalled account is refused; a reinstalled one is served', async t => {
  const { app } = await build(t, { env: ENV })
  const db = app.store.db
  await db
    .insertInto('installations')
    .values({
      account: 'acct_1',
      livemode: 0,
      app_id: 'ca_1',
      status: 'uninstalled',
      installed_at: null,
      uninstalled_at: new Date().toISOString(),
      event_created: now(),
      updated_at: new Date().toISOString()
    })
    .execute()
  const { body, header } = signed()
  const res = await call(app, '/apps/session', body, header)
  t.equal(res.statusCode, 403)
  t.equal(res.json().error.code, 'app_uninstalled')
  await db
    .insertInto('installations')
    .values({
      account: 'acct_1',
      livemode: 1,
      app_id: 'ca_1',
      status: 'installed',
      installed_at: new Date().toISOString(),
      uninstalled_at: null,
      event_created: now(),
      updated_at: new Date().toISOString()
    })
    .execute()
  const ok = await call(app, '/apps/session', body, header)
  t.equal(ok.statusCode, 200, 'installed in the other mode')
  t.match(ok.json().installation, { status: 'uninstalled', livemode: false }, "the installation of the key's mode")
})

t.test('Stripe errors: 4xx passed through, 502/504 for unreachable/timeout', async t => {
  const { app, fake } = await build(t, { env: { ...ENV, STRIPE_TIMEOUT_MS: '1000' } })
  fake.on('GET', '/v1/account', {
    status: 403,
    body: {
      error: { type: 'invalid_request_error', message: 'The provided key does not have access to account acct_1', code: 'account_invalid' }
    }
  })
  const { body, header } = signed()
  const res = await call(app, '/apps/account', body, header)
  t.equal(res.statusCode, 403)
  t.same(res.json(), {
    error: { type: 'invalid_request_error', message: 'The provided key does not have access to account acct_1', code: 'account_invalid' }
  })
  fake.on('GET', '/v1/account', { hang: true })
  t.equal((await call(app, '/apps/account', body, header)).statusCode, 504)
  fake.on('GET', '/v1/account', { reset: true }, 2)
  t.equal((await call(app, '/apps/account', body, header)).statusCode, 502)
  fake.on('GET', '/v1/account', { status: 500, body: { error: { type: 'api_error', message: 'boom' } } })
  t.equal((await call(app, '/apps/account', body, header)).statusCode, 502, 'Stripe 5xx → 502')
})

t.test('no STRIPE_APP_SECRET → 503 with a clear message', async t => {
  const { app } = await build(t)
  const { body, header } = signed()
  const res = await call(app, '/apps/session', body, header)
  t.equal(res.statusCode, 503)
  t.match(res.json().error.message, /STRIPE_APP_SECRET/)
})

t.test('CORS: a real preflight from origin null is answered with *; the Terminal area keeps its allowlist', async t => {
  const { app } = await build(t, { env: { ...ENV, ALLOWED_ORIGINS: 'https://pos.example.com' } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const preflight = await fetch(`${base}/apps/session`, {
    method: 'OPTIONS',
    headers: { origin: 'null', 'access-control-request-method': 'POST', 'access-control-request-headers': 'stripe-signature,content-type' }
  })
  t.ok(preflight.status === 204 || preflight.status === 200)
  t.equal(preflight.headers.get('access-control-allow-origin'), '*')
  t.match(preflight.headers.get('access-control-allow-headers') ?? '', /Stripe-Signature/i)
  t.match(preflight.headers.get('access-control-allow-methods') ?? '', /POST/)
  t.equal(preflight.headers.get('access-control-allow-credentials'), null)
  const { body, header } = signed()
  const real = await fetch(`${base}/apps/session`, {
    method: 'POST',
    body,
    headers: { origin: 'null', 'content-type': 'application/json', 'stripe-signature': header }
  })
  t.equal(real.status, 200)
  t.equal(real.headers.get('access-control-allow-origin'), '*')

  const terminal = await fetch(`${base}/connection_token`, {
    method: 'OPTIONS',
    headers: { origin: 'null', 'access-control-request-method': 'POST' }
  })
  t.equal(terminal.headers.get('access-control-allow-origin'), null, 'null origin refused by the Terminal allowlist')
  const webhooks = await fetch(`${base}/webhooks`, {
    method: 'OPTIONS',
    headers: { origin: 'null', 'access-control-request-method': 'POST' }
  })
  t.equal(webhooks.headers.get('access-control-allow-origin'), null, 'webhooks: no CORS')
})

t.test("a failed Stripe call from /apps is logged at warn with Stripe's fields", async t => {
  const { app, fake, logs } = await build(t, { env: ENV })
  fake.on('GET', '/v1/account', {
    ...stripeError(403, 'invalid_request_error', 'The provided key does not have access to account acct_1.', { code: 'account_invalid' }),
    headers: { 'request-id': 'req_apps1' }
  })
  const { body, header } = signed()
  const res = await call(app, '/apps/account', body, header)
  t.equal(res.statusCode, 403)
  t.match(
    logs.find(l => l.msg === 'Stripe call failed'),
    { level: 40, stripe: { type: 'invalid_request_error', code: 'account_invalid', request_id: 'req_apps1' } }
  )
})

t.test("Stripe's default pattern: identity signed, other fields unsigned; read-only routes only", async t => {
  const { app, fake } = await build(t, { env: ENV })
  const ts = now()
  // what the docs' UI does: fetchStripeSignature() with no payload, then {...requestData, user_id, account_id}
  const identity = sign(JSON.stringify({ user_id: 'usr_1', account_id: 'acct_1' }), SECRET, ts)
  const body = (extra: Record<string, unknown>) => JSON.stringify({ ...extra, user_id: 'usr_1', account_id: 'acct_1' })

  const session = await call(app, '/apps/session', body({ page: 'home', stripe_roles: [{ id: 'admin', type: 'builtIn' }] }), identity)
  t.equal(session.statusCode, 200, session.body)
  t.same(session.json().roles, [], 'unsigned stripe_roles are not roles')
  const swapped = await call(app, '/apps/session', JSON.stringify({ account_id: 'acct_1', user_id: 'usr_1' }), identity)
  t.equal(swapped.statusCode, 200, "the identity is rebuilt in the documented order, whatever the body's order")

  const list = await call(app, '/apps/customers/list', body({ limit: 3 }), identity)
  t.equal(list.statusCode, 200)
  t.equal(fake.callsTo('GET', '/v1/customers')[0]?.query.limit, '3', 'an unsigned field is ordinary validated input on a read-only route')
  t.equal(fake.callsTo('GET', '/v1/customers')[0]?.stripeAccount, 'acct_1', 'on the signed account')
  const bad = await call(app, '/apps/customers/list', body({ limit: 1000 }), identity)
  t.equal(bad.statusCode, 400, 'and validated')
  t.equal((await call(app, '/apps/settings/get', body({}), identity)).statusCode, 200)
  t.equal((await call(app, '/apps/account', body({}), identity)).statusCode, 200)

  const forged = await call(app, '/apps/session', JSON.stringify({ user_id: 'usr_1', account_id: 'acct_evil' }), identity)
  t.equal(forged.statusCode, 401, 'another account in the body does not verify')
  const duplicate = await call(app, '/apps/session', '{"user_id":"usr_1","account_id":"acct_1","account_id":"acct_evil"}', identity)
  t.equal(duplicate.statusCode, 401, 'a duplicate key is read as JSON.parse reads it, and then does not verify')

  const before = fake.calls.length
  for (const [url, extra] of [
    ['/apps/customers/create', { email: 'a@b.co' }],
    ['/apps/settings/put', { settings: { a: 1 }, stripe_roles: [{ id: 'admin' }] }]
  ] as const) {
    const res = await call(app, url, body(extra), identity)
    t.equal(res.statusCode, 401, `${url}: a route that changes data refuses the identity-only pattern`)
    t.match(res.json().error, { type: 'authentication_error', code: 'signature_identity_only', message: /fetchStripeSignature\(payload\)/ })
  }
  t.equal(fake.calls.length, before, 'nothing was created')
  t.equal((await call(app, '/apps/settings/get', body({}), identity)).json().settings, null, 'nothing was stored')
})

t.test('the fleet from the Dashboard: the signed account\'s locations and readers, read-only', async t => {
  const { app, fake } = await build(t, { env: ENV })
  const locations = signed({ limit: 5 }, { account: 'acct_shop' })
  const res = await call(app, '/apps/terminal/locations', locations.body, locations.header)
  t.equal(res.statusCode, 200)
  t.same(res.json().data.map((l: { id: string }) => l.id), ['tml_1', 'tml_2'])
  t.equal(res.json().has_more, false)
  const listed = fake.callsTo('GET', '/v1/terminal/locations')[0]
  t.equal(listed?.stripeAccount, 'acct_shop', 'on the signed account, through Connect')
  t.same(listed?.query, { limit: '5' })

  const readers = signed({ location: 'tml_2', starting_after: 'tmr_0' }, { account: 'acct_shop' })
  const page = await call(app, '/apps/terminal/readers', readers.body, readers.header)
  t.equal(page.statusCode, 200)
  t.same(fake.callsTo('GET', '/v1/terminal/readers')[0]?.query, { limit: '10', starting_after: 'tmr_0', location: 'tml_2' })

  // read-only routes also take Stripe's default payload: identity signed, other fields plain input
  const identity = JSON.stringify({ user_id: 'usr_1', account_id: 'acct_other' })
  const unsigned = JSON.stringify({ limit: 2, user_id: 'usr_1', account_id: 'acct_other' })
  const dflt = await call(app, '/apps/terminal/readers', unsigned, sign(identity, SECRET))
  t.equal(dflt.statusCode, 200)
  t.equal(fake.callsTo('GET', '/v1/terminal/readers')[1]?.stripeAccount, 'acct_other', 'the account is the signed one')

  for (const bad of [{ limit: 0 }, { limit: 101 }, { starting_after: 'cus_1' }, { location: 'x' }]) {
    const b = signed(bad)
    t.equal((await call(app, '/apps/terminal/readers', b.body, b.header)).statusCode, 400, JSON.stringify(bad))
  }
  t.equal((await call(app, '/apps/terminal/locations', locations.body)).statusCode, 401, 'unsigned: refused')
  t.same(fake.takeSpecViolations(), [])
})
