// Hostile clients (issue 27): no unauthenticated 500 on /apps, one well-formedness rule for NUL
// and other control characters on both engines (probed in every string parameter of every route),
// and no configured secret in any answer or log line, not even 12 characters of it.
import t, { type Test } from 'tap'
import { build, needs, pgUrl, sign, TEST_DATABASE_URL } from '../../support/helper.js'

const API_KEY = 'apikey-0123456789abcdefghijklmnopqrstuv'
const ADMIN = 'admin-key-0123456789abcdef0123456789'
const APP_SECRET = 'absec_hostile_0123456789abcdef'
const PROXY_KEY = 'rk_test_proxysecret0123456789abcdef'

/** Every run of 12 characters of any secret that `text` holds. */
const leaks = (text: string, secrets: string[]): string[] =>
  secrets.flatMap(s => Array.from({ length: Math.max(0, s.length - 11) }, (_, i) => s.slice(i, i + 12))).filter(w => text.includes(w))

t.test('/apps: a Stripe-Signature with a body that is not a JSON object is a 401, never a 500', async t => {
  const { app, routes, rawLogs } = await build(t, { env: { STRIPE_APP_SECRET: APP_SECRET } })
  const apps = routes.filter(r => r.url.startsWith('/apps/') && [r.method].flat().includes('POST'))
  t.ok(apps.length >= 6, `${apps.length} Apps routes`)
  for (const route of apps) {
    for (const body of ['x', 'null', '', '[]', '1', '"usr_1"', '{"user_id":null}']) {
      // a well-formed header (of our own secret, even) over whatever was sent
      const headers = { 'content-type': 'application/json', 'stripe-signature': sign(body, APP_SECRET) }
      const res = await app.inject({ method: 'POST', url: route.url, payload: body, headers })
      t.equal(res.statusCode, 401, `${route.url} ${JSON.stringify(body)}: ${res.body}`)
      t.equal(res.json().error.type, 'authentication_error')
    }
  }
  t.notOk(rawLogs.some(l => /"level":50/.test(l)), 'no error line (no stack) was logged')
})

async function nul (t: Test, databaseUrl: string): Promise<void> {
  const { app, rawLogs } = await build(t, {
    env: { DATABASE_URL: databaseUrl, API_KEY, ADMIN_API_KEY: ADMIN, STRIPE_APP_SECRET: APP_SECRET }
  })
  const reader = await app.inject({ method: 'GET', url: '/reader_action?reader_id=tmr_%00', headers: { 'x-api-key': API_KEY } })
  t.equal(reader.statusCode, 400, `reader_id with a NUL: ${reader.body}`)
  const label = await app.inject({
    method: 'POST', url: '/admin/keys', headers: { authorization: `Bearer ${ADMIN}` }, payload: { account: 'acct_1', label: 'till\u0000' }
  })
  t.equal(label.statusCode, 400, 'an admin key label with a NUL')
  for (const [what, fields, status] of [
    ['a nonce with a NUL', { nonce: 'n\u0000', user_id: 'usr_1', account_id: 'acct_1' }, 400],
    ['an account_id with a NUL', { user_id: 'usr_1', account_id: 'acct_1\u0000' }, 400],
    ['an account_id that is no header value', { user_id: 'usr_1', account_id: 'acct_1\r\nX: y' }, 401]
  ] as const) {
    const body = JSON.stringify(fields)
    const headers = { 'content-type': 'application/json', 'stripe-signature': sign(body, APP_SECRET) }
    const res = await app.inject({ method: 'POST', url: '/apps/session', payload: body, headers })
    t.equal(res.statusCode, status, `a signed ${what}: ${res.body}`)
  }
  const form = await app.inject({
    method: 'POST',
    url: '/cancel_payment_intent',
    headers: { 'x-api-key': API_KEY, 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'payment_intent_id=pi_%00'
  })
  t.equal(form.statusCode, 400, 'a Terminal parameter with a NUL')
  t.match(form.body, /NUL/)
  t.notOk(rawLogs.some(l => /"level":50/.test(l)), 'no error line')
}

t.test('NUL bytes: 400 on SQLite', async t => { await nul(t, 'sqlite::memory:') })
t.test('NUL bytes: 400 on Postgres, as on SQLite', needs('TEST_DATABASE_URL', TEST_DATABASE_URL), async t => {
  await nul(t, (await pgUrl(t))!)
})

t.test('no configured secret in any answer or log line, whole or 12 characters of it', async t => {
  const dir = t.testdir({
    'proxy.yaml': `apiVersion: moment.dev/adapters/v1alpha1
kind: HTTP
metadata:
  name: yaml
spec:
  baseUrl: \${{ FAKE_BASE }}
  headers:
    - name: Authorization
      value: Bearer \${{ YAML_KEY }}
  allow:
    - GET /v1/charges
`
  })
  const first = await build(t, { env: { API_KEY } })
  const yamlKey = 'rk_test_yamlsecret0123456789abcdef'
  const { app, fake, rawLogs } = await build(t, {
    fake: first.fake,
    env: {
      API_KEY,
      ADMIN_API_KEY: ADMIN,
      STRIPE_PROXY_KEY: PROXY_KEY,
      PROXY_CONFIG: `${dir}/proxy.yaml`,
      FAKE_BASE: first.fake.url,
      YAML_KEY: yamlKey,
      LOG_LEVEL: 'debug'
    }
  })
  const created = await app.inject({
    method: 'POST', url: '/admin/keys', headers: { authorization: `Bearer ${ADMIN}` }, payload: { account: 'acct_1', label: 'till' }
  })
  const merchant = created.json().key as string
  const secrets = [API_KEY, ADMIN, PROXY_KEY, yamlKey, merchant, 'sk_test_123']
  const answers: string[] = []
  const key = { 'x-api-key': API_KEY }
  const ask = async (method: 'GET' | 'POST', url: string, headers: Record<string, string> = key, payload?: string) => {
    const res = await app.inject({ method, url, headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' }, payload })
    answers.push(`${method} ${url.slice(0, 60)} → ${res.body}`)
    return res
  }
  // an upstream 401 that echoes the credential, as stripe-mock's does
  for (const adapter of ['stripe', 'yaml']) {
    fake.on('GET', '/v1/charges', call => ({
      status: 401,
      body: { error: { type: 'invalid_request_error', message: `Invalid API Key provided: ${call.authorization ?? ''}` } }
    }))
    const res = await ask('GET', `/v1/apis/http/${adapter}/v1/charges`)
    t.equal(res.statusCode, 401, `${adapter}: the upstream's status`)
    t.match(res.json().error.message, /Invalid API Key provided/)
  }
  // a secret in every position that is echoed
  for (const s of secrets) {
    await ask('GET', `/reader_action?reader_id=${encodeURIComponent(s)}`)
    await ask('POST', '/cancel_payment_intent', key, `payment_intent_id=missing_${encodeURIComponent(s)}`)
    await ask('GET', `/v1/apis/http/${encodeURIComponent(s)}/v1/charges`)
    await ask('GET', `/v1/apis/http/stripe/v1/${encodeURIComponent(s)}`)
    await ask('GET', `/v1/apis/http/stripe/v1/charges/${s}%zz`)
    await ask('GET', `/${s}`)
    // cut at 200 characters in the access line: a secret across the cut
    await ask('GET', `/${'a'.repeat(190)}${s}`)
    await ask('GET', `/x${s}`)
    // the merchant key itself, as a till would send it, in a text the till shows
    await ask('POST', '/capture_payment_intent', { 'x-api-key': merchant }, `payment_intent_id=pi_missing_${s}`)
  }
  // the answers and lines that leak, whole, so a failure shows where
  t.same(answers.filter(a => leaks(a.split(' → ')[1]!, secrets).length > 0), [], 'no answer holds 12 characters of a secret')
  t.same(rawLogs.filter(l => leaks(l, secrets).length > 0), [], 'no log line holds 12 characters of a secret')
})

t.test('smaller: any Content-Type is taken, a store outage is a 503 to retry, a webhook 500 is an api_error', async t => {
  const { app } = await build(t, { env: { API_KEY, STRIPE_WEBHOOK_SECRET: 'whsec_hostile' } })
  for (const type of [';;;', 'a/b/c', '/', '=', 'x', 'text/plain; charset']) {
    const res = await app.inject({
      method: 'POST', url: '/connection_token', headers: { 'x-api-key': API_KEY, 'content-type': type }, payload: 'a=b'
    })
    t.equal(res.statusCode, 200, `Content-Type ${JSON.stringify(type)}: never refused for it`)
  }
  app.webhookEvents.on('test.broken', async () => { throw new Error('the handler broke') })
  const event = JSON.stringify({ id: 'evt_broken', object: 'event', type: 'test.broken', livemode: false, created: 1_700_000_000 })
  const signed = { 'content-type': 'application/json', 'stripe-signature': sign(event, 'whsec_hostile') }
  const broken = await app.inject({ method: 'POST', url: '/webhooks', payload: event, headers: signed })
  t.equal(broken.statusCode, 500)
  t.equal(broken.json().error.type, 'api_error', 'our failure, not the request\'s')
  // a database that refuses connections (nothing listens on port 1): the boot goes on, reads fail
  const down = await build(t, { env: { API_KEY, DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none' } })
  const res = await down.app.inject({ method: 'GET', url: '/reader_action?reader_id=tmr_1', headers: { 'x-api-key': API_KEY } })
  t.equal(res.statusCode, 503, res.body)
  t.match(res.body, /retry shortly/)
})

/** A value of the JSON-schema type `schema` names, for a parameter the test does not probe. */
function plausible (name: string, schema: { type?: unknown, enum?: unknown[] }): unknown {
  if (Array.isArray(schema.enum)) return schema.enum[0]
  if (schema.type === 'integer' || schema.type === 'number') return 100
  if (schema.type === 'boolean') return true
  const { properties } = schema as { properties?: Record<string, object> }
  if (schema.type === 'object' && properties !== undefined) {
    return Object.fromEntries(Object.entries(properties).map(([k, s]) => [k, plausible(k, s)]).filter(([, v]) => v !== undefined))
  }
  // (a location's address is a record: Stripe requires one)
  if (name === 'address') return { line1: '1 Main St', city: 'Springfield', country: 'US', postal_code: '12345', state: 'IL' }
  if (schema.type === 'object' || schema.type === 'array') return undefined
  const prefixes: Array<[RegExp, string]> = [
    [/reader/, 'tmr_'], [/payment_intent/, 'pi_'], [/location/, 'tml_'], [/account/, 'acct_'], [/user/, 'usr_']
  ]
  return `${prefixes.find(([re]) => re.test(name))?.[1] ?? ''}hostile1`
}

// Generated from the registered routes, so a parameter added later is probed too: every string
// parameter of every Terminal, admin and Apps route, with each control character, on Postgres
// (where a NUL was a 500) — a 4xx or an answer, never a 5xx, and never an error line.
const controls = 'control characters in every string parameter of every route, on Postgres: never a 5xx'
t.test(controls, needs('TEST_DATABASE_URL', TEST_DATABASE_URL), async t => {
  const { app, routes, rawLogs } = await build(t, {
    env: { DATABASE_URL: (await pgUrl(t))!, API_KEY, ADMIN_API_KEY: ADMIN, STRIPE_APP_SECRET: APP_SECRET, RATE_LIMIT_MAX: '100000' }
  })
  const statuses = new Map<number, number>()
  const CONTROLS = ['\u0000', '\u0001', '\u001b', '\u007f', '\u0085', '\r\n']
  let probed = 0
  for (const route of routes) {
    const method = [route.method].flat()[0] as string
    if (method !== 'GET' && method !== 'POST') continue
    type Params = { properties?: Record<string, object> } | undefined
    const schema = route.schema as { body?: Params, querystring?: Params } | undefined
    const properties = (method === 'GET' ? schema?.querystring : schema?.body)?.properties
    if (properties === undefined || route.url.includes(':')) continue
    const base: Record<string, unknown> = {}
    for (const [name, s] of Object.entries(properties)) {
      const v = plausible(name, s)
      if (v !== undefined) base[name] = v
    }
    const strings = Object.entries(properties).filter(([, s]) => (s as { type?: unknown }).type === 'string').map(([n]) => n)
    for (const name of strings) {
      for (const c of CONTROLS) {
        // a nonce is single-use: each request gets its own (a replay would be refused before the probe)
        const fresh = 'nonce' in base ? { nonce: `n${probed}` } : {}
        const probe = `${name === 'nonce' ? `n${probed}` : String(base[name] ?? 'x')}${c}`
        const params: Record<string, unknown> = { ...base, ...fresh, [name]: probe }
        const apps = route.url.startsWith('/apps/')
        // the Apps pattern: {...payload, user_id, account_id}, in that order
        const { user_id: user = 'usr_1', account_id: account = 'acct_1', ...rest } = params
        const payload = JSON.stringify(apps ? { ...rest, user_id: user, account_id: account } : params)
        const headers: Record<string, string> = route.url.startsWith('/admin')
          ? { authorization: `Bearer ${ADMIN}` }
          : apps ? { 'stripe-signature': sign(payload, APP_SECRET) } : { 'x-api-key': API_KEY }
        const query = new URLSearchParams(params as Record<string, string>).toString()
        // an event stream stays open when it opens: its status is read, then it is closed
        const streams = route.config?.streams === true
        const res = method === 'GET'
          ? await app.inject({ method, url: `${route.url}?${query}`, headers, ...(streams ? { payloadAsStream: true } : {}) })
          : await app.inject({ method, url: route.url, headers: { ...headers, 'content-type': 'application/json' }, payload })
        if (streams) res.stream().destroy()
        probed++
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
        if (res.statusCode >= 500) t.fail(`${method} ${route.url} ${name}=${JSON.stringify(c)}: ${res.statusCode} ${res.body}`)
      }
    }
  }
  t.ok(probed > 200, `${probed} requests, none a 5xx`)
  t.ok((statuses.get(200) ?? 0) > 50, `they reach the handlers: ${JSON.stringify(Object.fromEntries(statuses))}`)
  t.notOk(statuses.has(429), 'none stopped by the rate limit')
  t.notOk(rawLogs.some(l => /"level":50/.test(l)), 'no error line')
})
