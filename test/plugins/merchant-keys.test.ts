// Connect platforms: merchant keys made in /admin (or `npm run keys`), each acting on its own
// connected account and no other — on SQLite and on Postgres, with two replicas for revocation.
import { spawnSync } from 'node:child_process'
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { TestClock } from '../support/clock.js'
import { build, childEnv, needs, pgUrl, sign, TEST_DATABASE_URL } from '../support/helper.js'

const ADMIN = 'admin-key-0123456789abcdef0123456789'
const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

const admin = (app: FastifyInstance, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown) =>
  app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${ADMIN}` },
    ...(payload === undefined ? {} : { payload: payload as object })
  })

async function createKey (app: FastifyInstance, body: Record<string, unknown>): Promise<{ id: string; key: string }> {
  const res = await admin(app, 'POST', '/admin/keys', body)
  if (res.statusCode !== 201) throw new Error(res.body)
  return res.json()
}

/** Every Terminal route with params that make it call Stripe, the Stripe calls it makes. */
const ROUTES: Array<{ url: string; method?: 'GET'; payload?: string }> = [
  { url: '/connection_token' },
  { url: '/register_reader', payload: 'registration_code=x' },
  { url: '/create_payment_intent', payload: 'amount=1000' },
  { url: '/capture_payment_intent', payload: 'payment_intent_id=pi_1' },
  { url: '/cancel_payment_intent', payload: 'payment_intent_id=pi_1' },
  { url: '/update_payment_intent', payload: 'payment_intent_id=pi_1' },
  { url: '/create_setup_intent' },
  { url: '/attach_payment_method_to_customer', payload: 'payment_method_id=pm_1' },
  { url: '/list_locations', method: 'GET' },
  { url: '/create_location', payload: 'display_name=x&address[country]=US' },
  { url: '/list_readers', method: 'GET' },
  { url: '/process_payment_intent', payload: 'reader_id=tmr_1&payment_intent_id=pi_1' },
  { url: '/process_setup_intent', payload: 'reader_id=tmr_1&setup_intent_id=seti_1' },
  { url: '/cancel_reader_action', payload: 'reader_id=tmr_1' },
  { url: '/simulate_payment', payload: 'reader_id=tmr_1' },
  { url: '/refund_payment', payload: 'payment_intent_id=pi_1' }
]

async function suite (t: Test, databaseUrl: string): Promise<void> {
  const clock = new TestClock()
  const { app, fake, rawLogs } = await build(t, {
    env: { DATABASE_URL: databaseUrl, ADMIN_API_KEY: ADMIN, API_KEY: 'p'.repeat(32), STRIPE_WEBHOOK_SECRET: 'whsec_p' },
    clock
  })

  t.test('the admin area: its key only; created keys are shown once, listed without secrets, revoked', async t => {
    t.equal((await app.inject({ method: 'GET', url: '/admin/keys' })).statusCode, 401)
    t.equal(
      (await app.inject({ method: 'GET', url: '/admin/keys', headers: { 'x-api-key': 'p'.repeat(32) } })).statusCode,
      401,
      'not a till key'
    )
    const created = await admin(app, 'POST', '/admin/keys', { account: 'acct_A1', label: 'Till 1', location: 'tml_A' })
    t.equal(created.statusCode, 201)
    t.match(created.json(), {
      id: /^mkey_/,
      key: /^stbk_[0-9a-f]{48}$/,
      account: 'acct_A1',
      label: 'Till 1',
      location: 'tml_A',
      charge: { type: 'direct' }
    })
    const listed = (await admin(app, 'GET', '/admin/keys?account=acct_A1')).json()
    t.equal(listed.data.length, 1)
    t.equal(listed.data[0].key, undefined, 'no key in a list')
    t.match(listed.data[0], { last_used_at: null, revoked_at: null })
    for (const bad of [
      { account: 'acct_A1' },
      { account: 'nope', label: 'x' },
      { account: 'acct_A1', label: 'x', charge: { type: 'split' } },
      { account: 'acct_A1', label: 'x', charge: { type: 'direct', application_fee_percent: 101 } },
      { account: 'acct_A1', label: 'x', charge: { type: 'direct', application_fee_amount: 1, application_fee_percent: 1 } }
    ]) {
      t.equal((await admin(app, 'POST', '/admin/keys', bad)).statusCode, 400, JSON.stringify(bad))
    }
    t.equal((await admin(app, 'DELETE', '/admin/keys/mkey_0000000000000000')).statusCode, 404)
    const key = created.json().key as string
    t.equal((await app.inject({ method: 'POST', url: '/connection_token', headers: { 'x-api-key': key } })).statusCode, 200)
    const revoked = await admin(app, 'DELETE', `/admin/keys/${created.json().id as string}`)
    t.match(revoked.json(), { revoked_at: /Z$/ })
    // the lookup cache still answers for the key until its entry ages out: the clock moves, no sleep
    t.equal((await app.inject({ method: 'POST', url: '/connection_token', headers: { 'x-api-key': key } })).statusCode, 200, 'cached')
    clock.advance(2_001)
    t.equal((await app.inject({ method: 'POST', url: '/connection_token', headers: { 'x-api-key': key } })).statusCode, 401, 'revoked')
    t.notOk(rawLogs.join('').includes(key), 'the key is never logged')
    t.ok(
      rawLogs.some(l => l.includes('merchant key created') && l.includes('acct_A1')),
      'creation logged with id and account'
    )
  })

  t.test('a direct key: every Stripe call of every Terminal route carries Stripe-Account', async t => {
    const { key } = await createKey(app, { account: 'acct_D1', label: 'direct' })
    for (const r of ROUTES) {
      fake.reset()
      const res = await app.inject({
        method: r.method ?? 'POST',
        url: r.url,
        headers: { ...FORM, 'x-api-key': key, 'stripe-account': 'acct_evil' },
        payload: r.payload ?? ''
      })
      t.equal(res.statusCode, 200, `${r.url}: ${res.body.slice(0, 100)}`)
      t.ok(fake.calls.length > 0, `${r.url}: called Stripe`)
      for (const c of fake.calls) {
        t.equal(c.stripeAccount, 'acct_D1', `${r.url}: ${c.method} ${c.path} on the key's account, whatever header was sent`)
      }
    }
    fake.reset()
    await app.inject({ method: 'POST', url: '/connection_token', headers: { 'x-api-key': 'p'.repeat(32) } })
    t.equal(fake.calls[0]!.stripeAccount, undefined, 'a platform key acts on the platform, as before')
  })

  t.test('a destination key: on_behalf_of, transfer_data[destination] and the fee, on the platform', async t => {
    const percent = await createKey(app, {
      account: 'acct_X1',
      label: 'dest',
      charge: { type: 'destination', application_fee_percent: 2.5 }
    })
    const fixed = await createKey(app, { account: 'acct_X2', label: 'dest', charge: { type: 'destination', application_fee_amount: 30 } })
    fake.reset()
    await app.inject({
      method: 'POST',
      url: '/create_payment_intent',
      headers: { ...FORM, 'x-api-key': percent.key },
      payload: 'amount=1999'
    })
    await app.inject({
      method: 'POST',
      url: '/create_payment_intent',
      headers: { ...FORM, 'x-api-key': fixed.key },
      payload: 'amount=1999'
    })
    const [a, b] = fake.callsTo('POST', '/v1/payment_intents')
    t.equal(a!.stripeAccount, undefined, 'on the platform')
    t.match(
      a!.params,
      { on_behalf_of: 'acct_X1', transfer_data: { destination: 'acct_X1' }, application_fee_amount: '49' },
      '2.5 % of 1999, rounded down'
    )
    t.match(b!.params, { on_behalf_of: 'acct_X2', transfer_data: { destination: 'acct_X2' }, application_fee_amount: '30' })
  })

  t.test('nothing a caller sends reaches another account or location', async t => {
    const { key } = await createKey(app, { account: 'acct_M1', label: 'scoped', location: 'tml_M1' })
    fake.reset()
    const token = await app.inject({ method: 'POST', url: '/connection_token', headers: { 'x-api-key': key } })
    t.equal(token.statusCode, 200)
    t.equal(fake.calls[0]!.params.location, 'tml_M1', "a connection token scoped to the key's location")
    const asTill = async (url: string, payload: string) =>
      await app.inject({ method: 'POST', url, headers: { ...FORM, 'x-api-key': key }, payload })
    t.equal((await asTill('/connection_token', 'location=tml_OTHER')).statusCode, 403)
    t.equal((await asTill('/create_setup_intent', 'on_behalf_of=acct_OTHER')).statusCode, 403)
    t.equal(fake.calls.length, 1, 'neither reached Stripe')

    const deliver = async (account: string, reader: string) => {
      const body = JSON.stringify({
        id: `evt_${reader}`,
        object: 'event',
        type: 'terminal.reader.action_succeeded',
        account,
        livemode: false,
        created: 1_700_000_000,
        data: { object: { id: reader, action: { type: 'process_payment_intent', status: 'succeeded' } } }
      })
      return await app.inject({
        method: 'POST',
        url: '/webhooks',
        payload: body,
        headers: { 'content-type': 'application/json', 'stripe-signature': sign(body, 'whsec_p') }
      })
    }
    await deliver('acct_M1', 'tmr_mine')
    await deliver('acct_OTHER', 'tmr_theirs')
    const mine = await app.inject({ method: 'GET', url: '/reader_action?reader_id=tmr_mine', headers: { 'x-api-key': key } })
    t.equal(mine.json().action.status, 'succeeded', "its own account's reader")
    const theirs = await app.inject({ method: 'GET', url: '/reader_action?reader_id=tmr_theirs', headers: { 'x-api-key': key } })
    t.equal(theirs.statusCode, 404, "another account's reader is not found")
  })

  t.test(
    'npm run keys creates, lists and revokes on the same store',
    { skip: databaseUrl.includes(':memory:') ? 'an in-memory database is not shared with a child process' : false },
    async t => {
      const run = (...args: string[]) =>
        spawnSync(process.execPath, ['--import', 'tsx', 'scripts/keys.ts', ...args], {
          encoding: 'utf8',
          env: childEnv({ DATABASE_URL: databaseUrl })
        })
      const created = run('create', '--account', 'acct_CLI', '--label', 'From the shell', '--fee-amount', '10')
      t.equal(created.status, 0, created.stderr)
      const key = JSON.parse(created.stdout) as { id: string; key: string }
      t.equal(
        (await app.inject({ method: 'POST', url: '/connection_token', headers: { 'x-api-key': key.key } })).statusCode,
        200,
        'the service accepts it'
      )
      t.match(JSON.parse(run('list', '--account', 'acct_CLI').stdout), { data: [{ id: key.id, charge: { application_fee_amount: 10 } }] })
      t.equal(run('revoke', key.id).status, 0)
      t.equal(run('create', '--label', 'x').status, 1, 'a usage error')
    }
  )
}

t.test('on SQLite', async t => {
  const dir = t.testdir({})
  await suite(t, `sqlite:${dir}/platform.db`)
})

t.test('on Postgres', needs('TEST_DATABASE_URL', TEST_DATABASE_URL), async t => {
  await suite(t, (await pgUrl(t))!)
})

t.test('a revocation on one replica is seen by another within 5 s (Postgres)', needs('TEST_DATABASE_URL', TEST_DATABASE_URL), async t => {
  const url = (await pgUrl(t))!
  const env = { DATABASE_URL: url, ADMIN_API_KEY: ADMIN }
  const clock = new TestClock()
  const a = await build(t, { env, clock })
  const b = await build(t, { env, fake: a.fake, clock })
  const { id, key } = await createKey(a.app, { account: 'acct_R1', label: 'two replicas' })
  t.equal(
    (await b.app.inject({ method: 'POST', url: '/connection_token', headers: { 'x-api-key': key } })).statusCode,
    200,
    'replica b knows the key'
  )
  await admin(a.app, 'DELETE', `/admin/keys/${id}`)
  const till = async (): Promise<number> =>
    (await b.app.inject({ method: 'POST', url: '/connection_token', headers: { 'x-api-key': key } })).statusCode
  // replica b's cache answers until its entry is older than 2 s: within the 5 s promised
  t.equal(await till(), 200, 'replica b still has it cached')
  clock.advance(2_001)
  t.equal(await till(), 401, 'replica b refuses it 2 s after its last lookup')
})

t.test('without ADMIN_API_KEY the admin area answers 503, saying so', async t => {
  const { app } = await build(t)
  const res = await app.inject({ method: 'GET', url: '/admin/keys' })
  t.equal(res.statusCode, 503)
  t.match(res.json().error.message, /set ADMIN_API_KEY/)
})

t.test('a merchant key while the database cannot answer: 503 to retry, not a 500', async t => {
  const { app } = await build(t, { env: { ADMIN_API_KEY: ADMIN } })
  const { key } = await createKey(app, { account: 'acct_DOWN', label: 'db down' })
  await app.store.db.destroy()
  const res = await app.inject({ method: 'POST', url: '/connection_token', headers: { 'x-api-key': key } })
  t.equal(res.statusCode, 503)
  t.equal(res.body, 'Merchant keys cannot be checked right now; retry shortly.')
})
