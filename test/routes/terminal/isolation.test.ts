// Merchant isolation, proven as a matrix generated from the routes the app registers: every
// Terminal route × every caller × every owner of the objects it names → the status, whether an
// acting call reached Stripe, and under which account. Then every other area × a merchant key.
// On SQLite and on Postgres. Stripe's objects come from its own fixtures (fixtures3.json).
import t, { type Test } from 'tap'
import type { RouteOptions } from 'fastify'
import { build, needs, pgUrl, sign, TEST_DATABASE_URL } from '../../support/helper.js'
import type { FakeStripe } from '../../support/fake-stripe.js'
import { fixture, fixturesAvailable } from '../../support/fixtures.js'
import { TestClock } from '../../support/clock.js'
import { Readable } from 'node:stream'

const PLATFORM_KEY = 'p'.repeat(32)
const ADMIN = 'admin-key-0123456789abcdef0123456789'
const METRICS_TOKEN = 'metrics-token-0123456789abcdef'
const WHSEC = 'whsec_isolation'
const A = 'acct_A'
const B = 'acct_B'

type Kind = 'payment_intent' | 'setup_intent' | 'charge' | 'reader' | 'location' | 'customer' | 'payment_method' | 'configuration'
/** Who an object is for, and so where it lives: a direct merchant's objects in its own account, the rest on the platform. */
type Owner = 'A-direct' | 'A-destination' | 'B-direct' | 'B-destination' | 'platform'
const OWNERS: Owner[] = ['A-direct', 'A-destination', 'B-direct', 'B-destination', 'platform']
/** each seeded object's `object` (from Stripe's fixtures): what Stripe's "No such …" text names */
const STRIPE_NAMES = new Map<string, string>()

const livesIn = (o: Owner): string | undefined => o === 'A-direct' ? A : o === 'B-direct' ? B : undefined
const merchantOf = (o: Owner): string | undefined => o.startsWith('A') ? A : o.startsWith('B') ? B : undefined
const PREFIXES: Record<Kind, string> = {
  payment_intent: 'pi',
  setup_intent: 'seti',
  charge: 'ch',
  reader: 'tmr',
  location: 'tml',
  customer: 'cus',
  payment_method: 'pm',
  configuration: 'tmc'
}
/** e.g. `pi_Adestination`: whose it is, readable in every failure */
const idOf = (o: Owner, kind: Kind): string => `${PREFIXES[kind]}_${o.replace('-', '')}`

/** Each owner's objects, built from Stripe's fixtures, stored in the fake where Stripe would keep them. */
function seed (fake: FakeStripe): void {
  for (const o of OWNERS) {
    const account = livesIn(o)
    const merchant = merchantOf(o)
    const forMerchant = o.endsWith('destination')
    const metadata = forMerchant ? { merchant_account: merchant } : {}
    const id = (kind: Kind): string => idOf(o, kind)
    const put = (object: { id: string, object: string }, on: string | undefined): void => {
      STRIPE_NAMES.set(object.id, object.object)
      fake.put(object, on)
    }
    put(fixture('terminal.location', { id: id('location'), metadata }), account)
    put(fixture('terminal.reader', { id: id('reader'), location: id('location'), metadata, action: null, status: 'online' }), account)
    put(fixture('customer', { id: id('customer'), metadata, email: `${o}@example.com` }), account)
    put(fixture('payment_method', { id: id('payment_method'), customer: id('customer') }), account)
    put(fixture('payment_intent', {
      id: id('payment_intent'),
      on_behalf_of: forMerchant ? merchant : null,
      transfer_data: forMerchant ? { destination: merchant } : null
    }), account)
    put(fixture('setup_intent', { id: id('setup_intent'), on_behalf_of: forMerchant ? merchant : null }), account)
    const charge = { id: id('charge'), payment_intent: id('payment_intent'), on_behalf_of: null, transfer_data: null }
    put(fixture('charge', charge), account)
    put(fixture('terminal.configuration', { id: id('configuration') }), account)
  }
}

interface Caller {
  name: string
  mode: 'none' | 'platform' | 'direct' | 'destination'
  headers: Record<string, string>
  /** the location a key is bound to */
  location?: string
}

/** A variant of a route's request: the objects it names (each the owner's, or the caller's own with `mine`). */
interface Variant {
  label: string
  names: Array<{ param: string, kind: Kind, mine?: true }>
  extra?: Record<string, string>
  /** the route lists: for a destination key, exactly its merchant's objects of this kind */
  list?: Kind
  /** the route reads the service's own records (no Stripe call) */
  recorded?: true
  /** the route manages what an account owns outright (reader configurations): refused to destination keys */
  accountOnly?: true
  /**
   * the route streams (GET /reader_events): it opens for every valid key, calls no Stripe, and
   * filters by the key's merchant (which changes each key hears: reader-events.test.ts)
   */
  stream?: true
}

const PI = { param: 'payment_intent_id', kind: 'payment_intent' } as const
const READER = { param: 'reader_id', kind: 'reader' } as const
const MY_READER = { ...READER, mine: true } as const
const LOCATION_ID = { param: 'location_id', kind: 'location' } as const
const CONFIGURATION = { param: 'configuration_id', kind: 'configuration' } as const

/** Every Terminal route the matrix knows; a registered route missing here fails the test. */
const VARIANTS: Record<string, Variant[]> = {
  'POST /connection_token': [
    { label: 'no location', names: [] },
    { label: 'a location', names: [{ param: 'location', kind: 'location' }] }
  ],
  'POST /register_reader': [
    { label: 'into a location', names: [{ param: 'location', kind: 'location' }], extra: { registration_code: 'simulated-wpe' } }
  ],
  'POST /create_payment_intent': [
    { label: 'new', names: [], extra: { amount: '1000' } },
    { label: 'for a customer', names: [{ param: 'customer', kind: 'customer' }], extra: { amount: '1000' } }
  ],
  'POST /capture_payment_intent': [{ label: 'an intent', names: [PI] }],
  'POST /cancel_payment_intent': [{ label: 'an intent', names: [PI] }],
  'POST /update_payment_intent': [{ label: 'an intent', names: [PI], extra: { receipt_email: 'a@example.com' } }],
  'POST /create_setup_intent': [{ label: 'new', names: [] }, { label: 'for a customer', names: [{ param: 'customer', kind: 'customer' }] }],
  'POST /attach_payment_method_to_customer': [{ label: 'a method', names: [{ param: 'payment_method_id', kind: 'payment_method' }] }],
  'GET /list_locations': [{ label: 'all', names: [], list: 'location' }],
  'POST /create_location': [{ label: 'new', names: [], extra: { display_name: 'Shop', 'address[country]': 'US' } }],
  'GET /list_readers': [{ label: 'all', names: [], list: 'reader' }],
  'POST /process_payment_intent': [
    { label: 'reader and intent', names: [READER, PI] },
    { label: 'my reader, their intent', names: [MY_READER, PI] }
  ],
  'POST /process_setup_intent': [
    { label: 'reader and intent', names: [READER, { param: 'setup_intent_id', kind: 'setup_intent' }] },
    { label: 'my reader, their intent', names: [MY_READER, { param: 'setup_intent_id', kind: 'setup_intent' }] }
  ],
  'POST /cancel_reader_action': [{ label: 'a reader', names: [READER] }],
  'POST /simulate_payment': [{ label: 'a reader', names: [READER] }],
  'POST /refund_payment': [
    { label: 'an intent', names: [PI] },
    { label: 'a charge', names: [{ param: 'charge', kind: 'charge' }] },
    { label: 'on a reader', names: [PI, READER] },
    { label: 'their intent on my reader', names: [PI, MY_READER] }
  ],
  'GET /reader_action': [{ label: 'a reader', names: [READER], recorded: true }],
  'GET /retrieve_location': [{ label: 'a location', names: [LOCATION_ID] }],
  'GET /reader_events': [{ label: 'a reader', names: [READER], stream: true }],
  'POST /set_reader_display': [{
    label: 'a cart',
    names: [READER],
    extra: {
      'cart[currency]': 'usd',
      'cart[line_items][0][description]': 'Tea',
      'cart[line_items][0][amount]': '300',
      'cart[line_items][0][quantity]': '1',
      'cart[total]': '300'
    }
  }],
  'POST /collect_inputs': [{
    label: 'an email',
    names: [READER],
    extra: { 'inputs[0][type]': 'email', 'inputs[0][custom_text][title]': 'Your email' }
  }],
  'POST /collect_payment_method': [
    { label: 'reader and intent', names: [READER, PI] },
    { label: 'my reader, their intent', names: [MY_READER, PI] }
  ],
  'POST /confirm_payment_intent': [
    { label: 'reader and intent', names: [READER, PI] },
    { label: 'my reader, their intent', names: [MY_READER, PI] }
  ],
  'GET /retrieve_reader': [{ label: 'a reader', names: [READER] }],
  'GET /retrieve_payment_intent': [{ label: 'an intent', names: [PI] }],
  'POST /update_location': [{ label: 'a location', names: [LOCATION_ID], extra: { display_name: 'Renamed' } }],
  'POST /delete_location': [{ label: 'a location', names: [LOCATION_ID] }],
  'POST /update_reader': [{ label: 'a reader', names: [READER], extra: { label: 'Till 9' } }],
  'POST /delete_reader': [{ label: 'a reader', names: [READER] }],
  'GET /list_configurations': [{ label: 'all', names: [], accountOnly: true }],
  'POST /create_configuration': [{ label: 'new', names: [], extra: { 'offline[enabled]': 'true' }, accountOnly: true }],
  'POST /update_configuration': [{ label: 'a configuration', names: [CONFIGURATION], extra: { name: 'Tips' }, accountOnly: true }],
  'POST /delete_configuration': [{ label: 'a configuration', names: [CONFIGURATION], accountOnly: true }]
}

const mineOf = (c: Caller): Owner => c.mode === 'platform' ? 'platform' : c.mode === 'destination' ? 'A-destination' : 'A-direct'

interface Expected { status: number, account: string | undefined, acting: boolean }

/** The oracle: what each caller may do with each owner's objects. */
function expected (c: Caller, v: Variant, owners: Owner[], params: Record<string, string>): Expected {
  if (c.mode === 'none') return { status: 401, account: undefined, acting: false }
  const location = params.location ?? params.location_id
  if (c.location !== undefined && location !== undefined && location !== c.location) {
    return { status: 403, account: undefined, acting: false }
  }
  if (v.accountOnly === true && c.mode === 'destination') return { status: 403, account: undefined, acting: false }
  if (v.stream === true) return { status: 200, account: undefined, acting: false }
  const account = c.mode === 'direct' ? A : undefined
  if (v.recorded === true) {
    // the platform sees every reader's outcome; a merchant key its own merchant's
    const visible = owners.every(o => c.mode === 'platform' || merchantOf(o) === A)
    return { status: visible ? 200 : 404, account, acting: false }
  }
  if (c.mode === 'destination') {
    const owned = owners.every(o => o === 'A-destination')
    return owned ? { status: 200, account, acting: true } : { status: 404, account, acting: false }
  }
  // the platform's keys and direct keys: Stripe keeps accounts apart, and says "No such …" (a 402 here)
  const reachable = owners.every(o => livesIn(o) === account)
  return { status: reachable ? 200 : 402, account, acting: true }
}

const fill = (url: string): string =>
  url.replace(':adapter', 'stripe').replace(':id', 'mkey_0000000000000000').replace(/\*$/, 'v1/charges')

async function suite (t: Test, databaseUrl: string): Promise<void> {
  const { app, fake, routes, rawLogs } = await build(t, {
    env: {
      DATABASE_URL: databaseUrl,
      API_KEY: PLATFORM_KEY,
      ADMIN_API_KEY: ADMIN,
      METRICS_TOKEN,
      STRIPE_PROXY_KEY: 'rk_test_proxy',
      STRIPE_WEBHOOK_SECRET: WHSEC,
      STRIPE_APP_SECRET: 'absec_isolation',
      RATE_LIMIT_MAX: '1000000'
    }
  })
  const key = async (body: Record<string, unknown>): Promise<string> => {
    const res = await app.inject({ method: 'POST', url: '/admin/keys', headers: { authorization: `Bearer ${ADMIN}` }, payload: body })
    if (res.statusCode !== 201) throw new Error(res.body)
    return res.json().key
  }
  const revoked = await app.inject({
    method: 'POST', url: '/admin/keys', headers: { authorization: `Bearer ${ADMIN}` }, payload: { account: A, label: 'revoked' }
  })
  await app.inject({ method: 'DELETE', url: `/admin/keys/${revoked.json().id as string}`, headers: { authorization: `Bearer ${ADMIN}` } })
  const destination = { type: 'destination', application_fee_percent: 1 }
  const callers: Caller[] = [
    { name: 'no key', mode: 'none', headers: {} },
    { name: 'platform key', mode: 'platform', headers: { 'x-api-key': PLATFORM_KEY } },
    { name: 'direct key', mode: 'direct', headers: { 'x-api-key': await key({ account: A, label: 'direct' }) } },
    {
      name: 'destination key',
      mode: 'destination',
      headers: { 'x-api-key': await key({ account: A, label: 'destination', charge: destination }) }
    },
    {
      name: 'location-bound direct key',
      mode: 'direct',
      location: idOf('A-direct', 'location'),
      headers: { 'x-api-key': await key({ account: A, label: 'bound', location: idOf('A-direct', 'location') }) }
    },
    {
      name: 'location-bound destination key',
      mode: 'destination',
      location: idOf('A-destination', 'location'),
      headers: {
        'x-api-key': await key({ account: A, label: 'bound', location: idOf('A-destination', 'location'), charge: destination })
      }
    },
    { name: 'revoked key', mode: 'none', headers: { 'x-api-key': revoked.json().key } },
    { name: 'unknown stbk_ key', mode: 'none', headers: { authorization: `Bearer stbk_${'0'.repeat(48)}` } }
  ]

  // the readers' last outcomes, recorded from Stripe's webhooks (a Connect event carries `account`)
  for (const o of OWNERS) {
    const reader = fixture('terminal.reader', {
      id: idOf(o, 'reader'),
      metadata: o.endsWith('destination') ? { merchant_account: merchantOf(o) } : {},
      action: { type: 'process_payment_intent', status: 'succeeded', failure_code: null, failure_message: null }
    })
    const event = fixture('event', {
      id: `evt_${o.replace('-', '')}`,
      type: 'terminal.reader.action_succeeded',
      livemode: false,
      created: 1_700_000_000,
      data: { object: reader }
    })
    // a Connect event names the connected account; the platform's own do not
    delete event.account
    if (livesIn(o) !== undefined) event.account = livesIn(o)
    const payload = JSON.stringify(event, null, 2)
    const res = await app.inject({
      method: 'POST', url: '/webhooks', payload, headers: { 'content-type': 'application/json', 'stripe-signature': sign(payload, WHSEC) }
    })
    if (res.statusCode !== 200) throw new Error(res.body)
  }

  // one entry per method (a route may be registered for several)
  const served = routes.flatMap(r => [r.method].flat().filter(m => m !== 'HEAD' && m !== 'OPTIONS').map(method => ({ ...r, method })))
  const terminal = served.filter(r => r.config?.area === 'terminal')
  const request = async (route: RouteOptions, caller: Caller, params: Record<string, string>) => {
    const query = new URLSearchParams(params).toString()
    if (route.config?.streams === true) {
      // an open stream never ends by itself: its status and headers are read, then it is closed
      const res = await app.inject({ method: 'GET', url: `${route.url}?${query}`, headers: caller.headers, payloadAsStream: true })
      const body = res.statusCode === 200 ? '' : await new Response(Readable.toWeb(res.stream()) as ReadableStream).text()
      res.stream().destroy()
      return { statusCode: res.statusCode, body, json: () => JSON.parse(body) as unknown }
    }
    return route.method === 'GET'
      ? await app.inject({ method: 'GET', url: `${route.url}?${query}`, headers: caller.headers })
      : await app.inject({
        method: 'POST', url: route.url, payload: query, headers: { ...caller.headers, 'content-type': 'application/x-www-form-urlencoded' }
      })
  }

  t.test('every Terminal route × every caller × every owner', async t => {
    let cases = 0
    t.ok(terminal.length >= 17, `${terminal.length} Terminal routes registered`)
    for (const route of terminal) {
      const name = `${route.method as string} ${route.url}`
      const variants = VARIANTS[name]
      if (variants === undefined) {
        t.fail(`${name} has no entry in the isolation matrix: add one (the objects it names)`)
        continue
      }
      for (const v of variants) {
        for (const caller of callers) {
          for (const owner of v.names.length === 0 ? ['platform' as Owner] : OWNERS) {
            const owners = v.names.map(n => n.mine === true ? mineOf(caller) : owner)
            const params: Record<string, string> = { ...v.extra }
            v.names.forEach((n, i) => { params[n.param] = idOf(owners[i]!, n.kind) })
            fake.reset()
            seed(fake)
            const res = await request(route, caller, params)
            const want = expected(caller, v, owners, params)
            const what = `${name} (${v.label}) by ${caller.name} on ${owners.join(' + ') || 'nothing'}`
            cases++
            t.equal(res.statusCode, want.status, `${what}: ${res.body.slice(0, 120)}`)
            if (want.status === 401 || want.status === 403 || v.recorded === true || v.stream === true) {
              t.equal(fake.calls.length, 0, `${what}: Stripe never called`)
              continue
            }
            const acting = fake.calls.filter(c => c.method !== 'GET')
            t.ok(fake.calls.every(c => c.stripeAccount === want.account), `${what}: every call under ${want.account ?? 'the platform'}`)
            if (!want.acting) t.same(acting.map(c => c.path), [], `${what}: nothing that acts reached Stripe`)
            if (v.list !== undefined && caller.mode === 'destination') {
              const listed = (res.json() as Array<{ id: string }>).map(o => o.id)
              t.same(listed, [idOf('A-destination', v.list)], `${what}: its own merchant's objects only`)
            }
            if (v.list === 'reader' && caller.location !== undefined) {
              t.equal(fake.calls[0]?.query.location, caller.location, `${what}: its location's readers`)
            }
            if (want.status === 404 && v.recorded !== true) {
              // as for an id that does not exist: nothing tells the caller the object is there
              const foreign = v.names.map((n, i) => ({ ...n, id: idOf(owners[i]!, n.kind) })).find((n, i) => owners[i] !== 'A-destination')!
              fake.reset()
              seed(fake)
              const unknown = await request(route, caller, { ...params, [foreign.param]: `${foreign.kind}_unknown` })
              t.equal(unknown.statusCode, 404, `${what}: an unknown id is a 404 too`)
              t.equal(res.body.replaceAll(foreign.id, '<id>'), unknown.body.replaceAll(`${foreign.kind}_unknown`, '<id>'),
                `${what}: the same text as an unknown id`)
              t.match(res.body, `No such ${STRIPE_NAMES.get(foreign.id) ?? '?'}: '${foreign.id}'`)
            }
          }
        }
      }
    }
    t.comment(`${cases} cases over ${terminal.length} routes`)
  })

  t.test('every other area × a merchant key: refused, even while the lookup cache holds the key', async t => {
    const merchantKeys = callers.filter(c => c.headers['x-api-key']?.startsWith('stbk_') === true && c.mode !== 'none')
    const others = served.filter(r => r.config?.area !== 'terminal')
    t.ok(others.length > 5, `${others.length} routes outside the Terminal API`)
    for (const caller of merchantKeys) {
      for (const route of others) {
        const method = route.method as 'GET' | 'POST' | 'DELETE'
        const url = fill(route.url)
        // a Terminal call first: the key's lookup is cached for this process
        t.equal((await app.inject({ method: 'POST', url: '/connection_token', headers: caller.headers })).statusCode, 200)
        fake.reset()
        const bare = await app.inject({ method, url })
        const withKey = await app.inject({ method, url, headers: caller.headers })
        const what = `${method} ${route.url} with a ${caller.name}`
        if (/^\/(v1\/apis|admin|metrics)/.test(route.url)) {
          t.equal(withKey.statusCode, 401, what)
          const needs = /needs (the platform API key|an admin key|the metrics token)/
          t.match(withKey.json().error.message, needs, `${what}: names what it needs`)
        } else {
          t.equal(withKey.statusCode, bare.statusCode, `${what}: the key grants nothing (${bare.statusCode} either way)`)
        }
        t.notOk(fake.calls.some(c => c.authorization === 'Bearer rk_test_proxy'), `${what}: the platform's proxy key never spent`)
      }
    }
  })

  t.notOk(rawLogs.join('').includes('stbk_'), 'no merchant key is ever logged')
}

t.test('on SQLite', { skip: fixturesAvailable ? false : 'Stripe fixtures (../shared/stripe-openapi/fixtures3.json) absent' }, async t => {
  await suite(t, `sqlite:${t.testdir({})}/isolation.db`)
})

t.test('on Postgres', fixturesAvailable ? needs('TEST_DATABASE_URL', TEST_DATABASE_URL) : { skip: 'Stripe fixtures absent' }, async t => {
  await suite(t, (await pgUrl(t))!)
})

// The observations of issue 21, each as it was seen.
t.test('the holes that were found', { skip: fixturesAvailable ? false : 'Stripe fixtures absent' }, async t => {
  const { app, fake } = await build(t, {
    env: { API_KEY: PLATFORM_KEY, ADMIN_API_KEY: ADMIN, STRIPE_PROXY_KEY: 'rk_test_proxy', RATE_LIMIT_MAX: '10000' }
  })
  const create = async (body: Record<string, unknown>): Promise<string> => (await app.inject({
    method: 'POST', url: '/admin/keys', headers: { authorization: `Bearer ${ADMIN}` }, payload: body
  })).json().key
  const direct = await create({ account: A, label: 'direct' })
  const destA = await create({ account: A, label: 'A', charge: { type: 'destination' } })
  const destB = await create({ account: B, label: 'B', charge: { type: 'destination', application_fee_amount: 10 } })

  t.test('a merchant key never spends the platform\'s proxy key, even after a Terminal call', async t => {
    for (const k of [direct, destA]) {
      t.equal((await app.inject({ method: 'POST', url: '/connection_token', headers: { 'x-api-key': k } })).statusCode, 200)
      fake.reset()
      const res = await app.inject({ method: 'GET', url: '/v1/apis/http/stripe/v1/charges', headers: { 'x-api-key': k } })
      t.equal(res.statusCode, 401)
      t.equal(res.json().error.code, 'merchant_key_not_allowed')
      t.same(fake.calls, [], 'nothing reached Stripe')
    }
  })

  t.test('a destination key cannot act on another merchant\'s PaymentIntent', async t => {
    fake.reset()
    const created = await app.inject({
      method: 'POST', url: '/create_payment_intent', headers: { 'x-api-key': destA }, payload: { amount: '1000' }
    })
    const pi = created.json().intent as string
    fake.put(fixture('terminal.reader', { id: 'tmr_of_B', metadata: { merchant_account: B } }))
    for (const [url, payload] of [
      ['/capture_payment_intent', { payment_intent_id: pi }],
      ['/cancel_payment_intent', { payment_intent_id: pi }],
      ['/update_payment_intent', { payment_intent_id: pi, receipt_email: 'x@example.com' }],
      ['/refund_payment', { payment_intent_id: pi }],
      ['/process_payment_intent', { payment_intent_id: pi, reader_id: 'tmr_of_B' }]
    ] as const) {
      fake.calls.length = 0
      const res = await app.inject({ method: 'POST', url, headers: { 'x-api-key': destB }, payload })
      t.equal(res.statusCode, 404, `${url}: ${res.body}`)
      t.same(fake.calls.filter(c => c.method === 'POST').map(c => c.path), [], `${url}: nothing acted`)
    }
    fake.calls.length = 0
    const own = await app.inject({
      method: 'POST', url: '/capture_payment_intent', headers: { 'x-api-key': destA }, payload: { payment_intent_id: pi }
    })
    t.equal(own.statusCode, 200, 'its own merchant captures it')
    t.same(fake.calls.map(c => `${c.method} ${c.path}`), [`POST /v1/payment_intents/${pi}/capture`],
      'no read first: Stripe\'s answer to the create said whose it is')
  })

  t.test('an intent found to be a merchant\'s is read once: Stripe never changes whose it is', async t => {
    fake.reset()
    const headers = (k: string): Record<string, string> => ({ 'x-api-key': k })
    const post = async (k: string, url: string, payload: Record<string, string>) =>
      await app.inject({ method: 'POST', url, headers: headers(k), payload })
    const seen = (): string[] => fake.calls.splice(0).map(c => `${c.method} ${c.path}`)
    // made for A on the platform outside this service (its dashboard, another replica)
    const ofA = fake.put(fixture('payment_intent', { id: 'pi_made_elsewhere', on_behalf_of: A, transfer_data: { destination: A } }))
    fake.put(fixture('payment_intent', { id: 'pi_platform_own', on_behalf_of: null, transfer_data: null }))
    fake.put(fixture('charge', { id: 'ch_of_A', payment_intent: ofA.id, on_behalf_of: null, transfer_data: null }))
    fake.put(fixture('terminal.reader', { id: 'tmr_of_A', metadata: { merchant_account: A } }))

    t.equal((await post(destA, '/update_payment_intent', { payment_intent_id: ofA.id, receipt_email: 'a@example.com' })).statusCode, 200)
    t.same(seen(), [`GET /v1/payment_intents/${ofA.id}`, `POST /v1/payment_intents/${ofA.id}`], 'read the first time')
    t.equal((await post(destA, '/capture_payment_intent', { payment_intent_id: ofA.id })).statusCode, 200)
    t.same(seen(), [`POST /v1/payment_intents/${ofA.id}/capture`], 'not the second')

    for (let i = 0; i < 2; i++) {
      const other = await post(destB, '/capture_payment_intent', { payment_intent_id: ofA.id })
      t.equal(other.statusCode, 404, 'what A is known to own is not B\'s')
      t.same(seen(), [`GET /v1/payment_intents/${ofA.id}`], 'B\'s refusal is read each time, never kept')
      t.equal((await post(destA, '/cancel_payment_intent', { payment_intent_id: 'pi_platform_own' })).statusCode, 404)
      t.same(seen(), ['GET /v1/payment_intents/pi_platform_own'], 'nor is A\'s')
    }

    // the fact is about one kind of object: the same id named as a charge is read as a charge
    await post(destA, '/refund_payment', { charge: ofA.id })
    t.equal(seen()[0], `GET /v1/charges/${ofA.id}`)
    t.equal((await post(destA, '/refund_payment', { charge: 'ch_of_A' })).statusCode, 200)
    t.equal((await post(destA, '/refund_payment', { charge: 'ch_of_A' })).statusCode, 200)
    t.same(seen().filter(c => c.startsWith('GET')), ['GET /v1/charges/ch_of_A'], 'a charge too is read once')

    // a SetupIntent created for A, then handed to A's reader: only the reader, whose stamp can change, is read
    const si = (await post(destA, '/create_setup_intent', {})).json().intent as string
    seen()
    const processed = await post(destA, '/process_setup_intent', { reader_id: 'tmr_of_A', setup_intent_id: si })
    t.equal(processed.statusCode, 200, processed.body)
    t.same(seen().filter(c => c.startsWith('GET')), ['GET /v1/terminal/readers/tmr_of_A'])
    t.equal((await post(destA, '/process_setup_intent', { reader_id: 'tmr_of_A', setup_intent_id: si })).statusCode, 200)
    t.same(seen().filter(c => c.startsWith('GET')), ['GET /v1/terminal/readers/tmr_of_A'], 'read every time')

    // a destination key's own SetupIntent is still refused to another merchant
    t.equal((await post(destB, '/process_setup_intent', { reader_id: 'tmr_of_A', setup_intent_id: si })).statusCode, 404)
    t.same(seen().filter(c => c.startsWith('POST')), [], 'nothing acted')
  })

  t.test('destination keys list their own locations and readers only', async t => {
    fake.reset()
    const loc = await app.inject({
      method: 'POST', url: '/create_location', headers: { 'x-api-key': destA }, payload: { display_name: 'A', address: { country: 'US' } }
    })
    t.equal(fake.calls[0]!.params.metadata && (fake.calls[0]!.params.metadata as Record<string, string>).merchant_account, A, 'stamped')
    await app.inject({
      method: 'POST',
      url: '/register_reader',
      headers: { 'x-api-key': destA },
      payload: { registration_code: 'simulated-wpe', location: loc.json().id }
    })
    const ofB = await app.inject({ method: 'GET', url: '/list_locations', headers: { 'x-api-key': destB } })
    t.same(ofB.json(), [], "B sees none of A's locations (nor the platform's)")
    t.same((await app.inject({ method: 'GET', url: '/list_readers', headers: { 'x-api-key': destB } })).json(), [])
    const ofA = await app.inject({ method: 'GET', url: '/list_readers', headers: { 'x-api-key': destA } })
    t.equal(ofA.json().length, 1, 'A sees its reader')
  })

  t.test('refunds of destination charges reverse the transfer and refund the fee, unless the platform pays', async t => {
    const platformPays = await create({
      account: B, label: 'B', charge: { type: 'destination', refunds: 'platform', application_fee_amount: 5 }
    })
    for (const [k, want] of [
      [destB, { reverse_transfer: 'true', refund_application_fee: 'true' }],
      [destA, { reverse_transfer: 'true' }],
      [platformPays, {}],
      [direct, {}],
      [PLATFORM_KEY, {}]
    ] as const) {
      fake.reset()
      const owner = k === destA ? A : B
      const pi = fixture('payment_intent', { id: 'pi_refund', transfer_data: { destination: owner }, on_behalf_of: owner })
      fake.put(pi, k === direct ? A : undefined)
      const res = await app.inject({
        method: 'POST', url: '/refund_payment', headers: { 'x-api-key': k }, payload: { payment_intent_id: 'pi_refund' }
      })
      t.equal(res.statusCode, 200, res.body)
      const refund = fake.callsTo('POST', '/v1/refunds')[0]!
      t.equal(refund.params.reverse_transfer, (want as Record<string, string>).reverse_transfer)
      t.equal(refund.params.refund_application_fee, (want as Record<string, string>).refund_application_fee)
    }
  })
})

/** Replicas share what they found a merchant to own through the store, so a capture on another replica makes no read either. */
async function replicas (t: Test, databaseUrl: string): Promise<void> {
  const clock = new TestClock()
  const env = { DATABASE_URL: databaseUrl, API_KEY: PLATFORM_KEY, ADMIN_API_KEY: ADMIN, RATE_LIMIT_MAX: '10000', LOG_LEVEL: 'warn' }
  const one = await build(t, { env, clock })
  const two = await build(t, { env, clock, fake: one.fake })
  const fake = one.fake
  const create = async (body: Record<string, unknown>): Promise<string> => (await one.app.inject({
    method: 'POST', url: '/admin/keys', headers: { authorization: `Bearer ${ADMIN}` }, payload: body
  })).json().key
  const destA = await create({ account: A, label: 'A', charge: { type: 'destination' } })
  const destB = await create({ account: B, label: 'B', charge: { type: 'destination' } })
  const post = async (app: typeof one.app, k: string, url: string, payload: Record<string, string>) =>
    await app.inject({ method: 'POST', url, headers: { 'x-api-key': k }, payload })
  const seen = (): string[] => fake.calls.splice(0).map(c => `${c.method} ${c.path}`)

  // created through replica one, captured through replica two
  const pi = (await post(one.app, destA, '/create_payment_intent', { amount: '1000' })).json().intent as string
  seen()
  t.equal((await post(two.app, destA, '/capture_payment_intent', { payment_intent_id: pi })).statusCode, 200)
  t.same(seen(), [`POST /v1/payment_intents/${pi}/capture`], 'no read on the other replica')
  t.equal((await post(two.app, destB, '/cancel_payment_intent', { payment_intent_id: pi })).statusCode, 404, 'still not B\'s')
  t.same(seen(), [`GET /v1/payment_intents/${pi}`])

  // read once by replica two, then known to replica one
  fake.put(fixture('payment_intent', { id: 'pi_shared', on_behalf_of: A, transfer_data: { destination: A } }))
  t.equal((await post(two.app, destA, '/cancel_payment_intent', { payment_intent_id: 'pi_shared' })).statusCode, 200)
  t.same(seen(), ['GET /v1/payment_intents/pi_shared', 'POST /v1/payment_intents/pi_shared/cancel'])
  const update = { payment_intent_id: 'pi_shared', receipt_email: 'a@example.com' }
  t.equal((await post(one.app, destA, '/update_payment_intent', update)).statusCode, 200)
  t.same(seen(), ['POST /v1/payment_intents/pi_shared'])

  // the store keeps a fact 30 days, only to bound its table: a replica that has not seen it reads again after
  clock.advance(31 * 24 * 3600_000)
  t.equal(await two.app.scheduler.run('prune-owned-objects'), 'ran')
  const three = await build(t, { env, clock, fake })
  t.equal((await post(three.app, destA, '/capture_payment_intent', { payment_intent_id: pi })).statusCode, 200)
  t.same(seen(), [`GET /v1/payment_intents/${pi}`, `POST /v1/payment_intents/${pi}/capture`], 'expired: read again')

  // a store that fails costs only the read: the call goes on, and the operator is told
  await three.app.store.db.schema.dropTable('owned_objects').execute()
  fake.put(fixture('payment_intent', { id: 'pi_no_store', on_behalf_of: A, transfer_data: { destination: A } }))
  const four = await build(t, { env, clock, fake })
  t.equal((await post(four.app, destA, '/cancel_payment_intent', { payment_intent_id: 'pi_no_store' })).statusCode, 200)
  t.same(seen(), ['GET /v1/payment_intents/pi_no_store', 'POST /v1/payment_intents/pi_no_store/cancel'])
  t.equal((await post(four.app, destB, '/capture_payment_intent', { payment_intent_id: 'pi_no_store' })).statusCode, 404, 'still not B\'s')
  t.same(seen(), ['GET /v1/payment_intents/pi_no_store'])
  t.ok(four.logs.some(l => l.level === 40 && /ownership facts unreadable/.test(l.msg)), 'the unreadable store is logged')
  t.ok(four.logs.some(l => l.level === 40 && /ownership fact not recorded/.test(l.msg)), 'the unrecorded fact is logged')
}

t.test('replicas share what a merchant owns, on SQLite', { skip: fixturesAvailable ? false : 'Stripe fixtures absent' }, async t => {
  await replicas(t, `sqlite:${t.testdir({})}/replicas.db`)
})

const onPostgres = fixturesAvailable ? needs('TEST_DATABASE_URL', TEST_DATABASE_URL) : { skip: 'Stripe fixtures absent' }
t.test('replicas share what a merchant owns, on Postgres', onPostgres, async t => {
  await replicas(t, (await pgUrl(t))!)
})
