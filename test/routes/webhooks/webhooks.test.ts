import t from 'tap'
import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { build, needs, pgUrl, sign, signRotated, TEST_DATABASE_URL } from '../../support/helper.js'

const SECRET = 'whsec_test_secret'
const OTHER = 'whsec_connect_secret'
const now = (): number => Math.floor(Date.now() / 1000)
let n = 0
const event = (
  type: string,
  extra: Record<string, unknown> = {},
  object: Record<string, unknown> = { id: 'ca_1', object: 'application', name: 'My App' }
) => ({
  id: `evt_${Date.now()}_${n++}`,
  object: 'event',
  type,
  account: 'acct_1',
  livemode: false,
  created: now(),
  api_version: '2026-10-28.endive',
  data: { object },
  ...extra
})

const deliver = (app: FastifyInstance, payload: string, header?: string | string[], url = '/webhooks') =>
  app.inject({
    method: 'POST',
    url,
    payload,
    headers: { 'content-type': 'application/json; charset=utf-8', ...(header === undefined ? {} : { 'stripe-signature': header }) }
  })

const count = async (
  app: FastifyInstance,
  table: 'webhook_events' | 'installations' | 'reader_actions' | 'app_settings' | 'nonces'
): Promise<number> =>
  Number(
    (
      await app.store.db
        .selectFrom(table)
        .select(eb => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow()
    ).n
  )

t.test('a valid event is handled; a redelivery is a duplicate', async t => {
  const { app } = await build(t, { env: { STRIPE_WEBHOOK_SECRET: SECRET } })
  const payload = JSON.stringify(event('account.application.authorized'))
  const res = await deliver(app, payload, sign(payload, SECRET))
  t.equal(res.statusCode, 200)
  t.same(res.json(), { received: true })
  const again = await deliver(app, payload, sign(payload, SECRET))
  t.same(again.json(), { received: true, duplicate: true })
  t.equal(await count(app, 'webhook_events'), 1)
  const inst = await app.store.db.selectFrom('installations').selectAll().executeTakeFirstOrThrow()
  t.match(inst, { account: 'acct_1', livemode: 0, app_id: 'ca_1', status: 'installed', installed_at: /^\d{4}-\d\d-\d\dT/ })
  t.equal(
    (
      await app.inject({
        method: 'POST',
        url: '/webhook',
        payload: JSON.stringify(event('ping')),
        headers: { 'content-type': 'application/json', 'stripe-signature': sign(JSON.stringify(event('ping')), SECRET) }
      })
    ).statusCode,
    400,
    'the alias verifies too (this body was re-made, so its signature fails)'
  )
  const alias = JSON.stringify(event('customer.created', {}, { id: 'cus_1', object: 'customer' }))
  t.same(
    (await deliver(app, alias, sign(alias, SECRET), '/webhook')).json(),
    { received: true },
    '/webhook alias; other types recorded and acknowledged'
  )
  t.equal(await count(app, 'webhook_events'), 2)
})

t.test('the fixed vector of research/apps.md verifies (its timestamp is old: refused by tolerance)', async t => {
  const { app } = await build(t, { env: { STRIPE_WEBHOOK_SECRET: SECRET } })
  const payload =
    '{"id":"evt_1","object":"event","type":"account.application.deauthorized","account":"acct_1","livemode":false,' +
    '"created":1700000000,"data":{"object":{"id":"ca_1","object":"application","name":"My App"}}}'
  const header = 't=1700000000,v1=b32242d17ab56e9440d469c7c854af0a7c22ce5e4aa5eb1d67ec9597c589c113'
  t.equal(sign(payload, SECRET, 1700000000), header, 'stripe-node computes the published vector')
  const res = await deliver(app, payload, header)
  t.equal(res.statusCode, 400)
  t.match(res.json().error.message, /Timestamp outside the tolerance zone/)
})

t.test('every verification failure → 400 and nothing stored', async t => {
  const { app } = await build(t, { env: { STRIPE_WEBHOOK_SECRET: SECRET } })
  const body = event('account.application.authorized')
  const payload = JSON.stringify(body)
  const cases: Array<[string, string, string | string[] | undefined, RegExp]> = [
    ['bad secret', payload, sign(payload, 'whsec_wrong'), /No signatures found matching/],
    ['one changed byte', payload.replace('acct_1', 'acct_2'), sign(payload, SECRET), /No signatures found matching/],
    ['re-serialized body', JSON.stringify(body, null, 2), sign(payload, SECRET), /No signatures found matching/],
    ['old timestamp', payload, sign(payload, SECRET, now() - 301), /Timestamp outside the tolerance zone/],
    ['v0 only', payload, sign(payload, SECRET).replace('v1=', 'v0='), /No signatures found with expected scheme/],
    ['garbage header', payload, 'garbage', /Unable to extract timestamp/],
    ['missing header', payload, undefined, /Missing Stripe-Signature/],
    ['header sent twice', payload, [sign(payload, SECRET), sign(payload, SECRET, now() - 1)], /send exactly one/],
    ['empty body', '', sign('', SECRET), /not a Stripe event/]
  ]
  for (const [name, p, header, message] of cases) {
    const res = await deliver(app, p, header)
    t.equal(res.statusCode, 400, name)
    t.match(res.json().error.message, message, name)
  }
  const notEvent = '{"hello":"world"}'
  t.equal((await deliver(app, notEvent, sign(notEvent, SECRET))).statusCode, 400, 'a signed non-event')
  t.equal(await count(app, 'webhook_events'), 0, 'nothing recorded')
  t.equal(await count(app, 'installations'), 0)
})

t.test('rotation: several secrets configured, several signatures in a header', async t => {
  const { app } = await build(t, { env: { STRIPE_WEBHOOK_SECRET: `${SECRET},${OTHER}` } })
  const a = JSON.stringify(event('ping'))
  t.equal((await deliver(app, a, sign(a, OTHER))).statusCode, 200, 'the second secret (Connect endpoint) verifies')
  const b = JSON.stringify(event('ping'))
  t.equal((await deliver(app, b, signRotated(b, ['whsec_old_expired', SECRET]))).statusCode, 200, 'a header with one signature per secret')
})

t.test('no secret configured → 503; no CORS on preflight; not rate limited; hidden from docs', async t => {
  const none = await build(t)
  const p = JSON.stringify(event('ping'))
  t.equal((await deliver(none.app, p, sign(p, SECRET))).statusCode, 503)

  const { app } = await build(t, { env: { STRIPE_WEBHOOK_SECRET: SECRET, RATE_LIMIT_MAX: '2' } })
  const pre = await app.inject({
    method: 'OPTIONS',
    url: '/webhooks',
    headers: { origin: 'null', 'access-control-request-method': 'POST' }
  })
  t.equal(pre.headers['access-control-allow-origin'], undefined, 'no ACAO for any origin')
  for (let i = 0; i < 5; i++) {
    const e = JSON.stringify(event('ping'))
    t.equal((await deliver(app, e, sign(e, SECRET))).statusCode, 200, `delivery ${i + 1} past the limit`)
  }
  const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json()
  t.notOk(doc.paths['/webhooks'], 'not in the OpenAPI document')
})

t.test('a handler failure → 500, nothing kept; the redelivery is handled in full', async t => {
  const { app } = await build(t, { env: { STRIPE_WEBHOOK_SECRET: SECRET } })
  let calls = 0
  app.webhookEvents.on('test.flaky', async (repos, e) => {
    calls++
    await repos.appSettings.put(e.account!, { by: 'handler' })
    if (calls === 1) throw new Error('database hiccup')
  })
  const payload = JSON.stringify(event('test.flaky'))
  const first = await deliver(app, payload, sign(payload, SECRET))
  t.equal(first.statusCode, 500)
  t.notMatch(first.body, /hiccup|at /, 'no internals')
  t.equal(await count(app, 'webhook_events'), 0, 'the dedupe record rolled back')
  t.equal(await count(app, 'app_settings'), 0, "the handler's write rolled back")
  const second = await deliver(app, payload, sign(payload, SECRET))
  t.same(second.json(), { received: true })
  t.equal(await count(app, 'app_settings'), 1)
  t.equal(calls, 2)
})

t.test('install lifecycle: authorize → deauthorize deletes the app data; a late older authorize changes nothing', async t => {
  const { app } = await build(t, { env: { STRIPE_WEBHOOK_SECRET: SECRET } })
  const send = async (e: Record<string, unknown>) => {
    const p = JSON.stringify(e)
    return await deliver(app, p, sign(p, SECRET))
  }
  const t0 = now() - 100
  await send(event('account.application.authorized', { created: t0 }))
  await app.store.db
    .insertInto('app_settings')
    .values({ account: 'acct_1', settings: '{"theme":"dark"}', updated_at: new Date().toISOString() })
    .execute()
  await app.store.db
    .insertInto('nonces')
    .values({ nonce: 'n1', account: 'acct_1', expires_at: new Date(Date.now() + 60000).toISOString() })
    .execute()
  await send(event('account.application.deauthorized', { created: t0 + 10 }))
  const inst = await app.store.db.selectFrom('installations').selectAll().executeTakeFirstOrThrow()
  t.match(inst, { status: 'uninstalled', uninstalled_at: new Date((t0 + 10) * 1000).toISOString() })
  t.equal(await count(app, 'app_settings'), 0, 'settings gone')
  t.equal(await count(app, 'nonces'), 0, 'nonces gone')

  t.same(
    (await send(event('account.application.authorized', { created: t0 + 5 }))).json(),
    { received: true },
    'the late event is acknowledged'
  )
  t.equal(
    (await app.store.db.selectFrom('installations').select('status').executeTakeFirstOrThrow()).status,
    'uninstalled',
    'still uninstalled'
  )

  await send(event('account.application.authorized', { created: t0 + 20, livemode: true }))
  const modes = await app.store.db.selectFrom('installations').select(['livemode', 'status']).orderBy('livemode').execute()
  t.same(
    modes,
    [
      { livemode: 0, status: 'uninstalled' },
      { livemode: 1, status: 'installed' }
    ],
    'livemode kept on every record'
  )
})

t.test('reader actions are readable by POS apps with their API key', async t => {
  const key = 'k'.repeat(32)
  const { app } = await build(t, { env: { STRIPE_WEBHOOK_SECRET: SECRET, API_KEY: key } })
  const reader = (status: string, extra: Record<string, unknown> = {}) => ({
    id: 'tmr_1',
    object: 'terminal.reader',
    action: {
      type: 'process_payment_intent',
      status,
      failure_code: null,
      failure_message: null,
      process_payment_intent: { payment_intent: 'pi_1' },
      ...extra
    }
  })
  const send = async (e: Record<string, unknown>) => {
    const p = JSON.stringify(e)
    return await deliver(app, p, sign(p, SECRET))
  }
  const failedAt = now() - 10 // once: computing it twice could straddle a second
  await send(
    event(
      'terminal.reader.action_failed',
      { created: failedAt },
      reader('failed', { failure_code: 'card_declined', failure_message: 'The card was declined.' })
    )
  )
  const get = (id: string, headers: Record<string, string> = { 'x-api-key': key }) =>
    app.inject({ method: 'GET', url: `/reader_action?reader_id=${id}`, headers })
  const res = await get('tmr_1')
  t.equal(res.statusCode, 200)
  t.same(res.json(), {
    reader_id: 'tmr_1',
    action: {
      type: 'process_payment_intent',
      status: 'failed',
      failure_code: 'card_declined',
      failure_message: 'The card was declined.',
      payment_intent: 'pi_1',
      charge: null,
      setup_intent: null,
      inputs: null,
      updated_at: new Date(failedAt * 1000).toISOString()
    }
  })
  await send(event('terminal.reader.action_succeeded', { created: now() }, reader('succeeded')))
  t.equal((await get('tmr_1')).json().action.status, 'succeeded')
  await send(event('terminal.reader.action_failed', { created: now() - 50 }, reader('failed')))
  t.equal((await get('tmr_1')).json().action.status, 'succeeded', 'an older event does not overwrite')
  const unknown = await get('tmr_none')
  t.equal(unknown.statusCode, 404)
  t.equal(unknown.json().error.code, 'resource_missing')
  t.equal((await get('tmr_1', {})).statusCode, 401, 'needs the API key')
  t.equal((await app.inject({ method: 'GET', url: '/reader_action', headers: { 'x-api-key': key } })).statusCode, 400)
})

async function concurrentOnce (t: Test, apps: FastifyInstance[]): Promise<void> {
  let handled = 0
  for (const app of apps) {
    app.webhookEvents.on('test.counted', async () => {
      handled++
      await new Promise(resolve => setTimeout(resolve, 20))
    })
  }
  const payload = JSON.stringify(event('test.counted'))
  const header = sign(payload, SECRET)
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => deliver(apps[i % apps.length]!, payload, header)))
  t.ok(
    results.every(r => r.statusCode === 200),
    'every delivery answered 200'
  )
  t.equal(results.filter(r => r.json().duplicate !== true).length, 1, 'one delivery handled it')
  t.equal(handled, 1, 'the handler ran once')
  t.equal(await count(apps[0]!, 'webhook_events'), 1)
}

t.test('the same event 20 times concurrently → handled once (SQLite)', async t => {
  const { app } = await build(t, { env: { STRIPE_WEBHOOK_SECRET: SECRET } })
  await concurrentOnce(t, [app])
})

t.test('the same event 20 times concurrently → handled once (Postgres)', needs('TEST_DATABASE_URL', TEST_DATABASE_URL), async t => {
  const { app } = await build(t, { env: { STRIPE_WEBHOOK_SECRET: SECRET, DATABASE_URL: await pgUrl(t) } })
  await concurrentOnce(t, [app])
})

t.test(
  'two instances on one Postgres receiving the same event at once → handled once',
  needs('TEST_DATABASE_URL', TEST_DATABASE_URL),
  async t => {
    const url = await pgUrl(t)
    const a = await build(t, { env: { STRIPE_WEBHOOK_SECRET: SECRET, DATABASE_URL: url } })
    const b = await build(t, { env: { STRIPE_WEBHOOK_SECRET: SECRET, DATABASE_URL: url }, fake: a.fake })
    await concurrentOnce(t, [a.app, b.app])
  }
)
