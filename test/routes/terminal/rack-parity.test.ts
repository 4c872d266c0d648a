// Rack parity on every Terminal route, not just where it was first seen: a bare key (`name` with no
// `=`) counts as absent, unknown parameters never reach Stripe (body or query string), and a list-
// or object-valued id or scalar is a 400 that names it, with no Stripe call.
import t from 'tap'
import { build } from '../../support/helper.js'
import { specAvailable } from '../../support/stripe-spec.js'

const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

/** Each route with the params that make it call Stripe, the scalars it reads, and its first Stripe call. */
const ROUTES: Array<{ url: string; method?: 'GET'; base: string; scalars: string[]; ids: string[]; stripe: [string, string] }> = [
  {
    url: '/register_reader',
    base: 'registration_code=x',
    scalars: ['label', 'location'],
    ids: [],
    stripe: ['POST', '/v1/terminal/readers']
  },
  { url: '/connection_token', base: '', scalars: ['location'], ids: [], stripe: ['POST', '/v1/terminal/connection_tokens'] },
  {
    url: '/create_payment_intent',
    base: 'amount=100',
    scalars: ['currency', 'description', 'capture_method', 'receipt_email', 'customer', 'statement_descriptor_suffix'],
    ids: [],
    stripe: ['POST', '/v1/payment_intents']
  },
  {
    url: '/capture_payment_intent',
    base: 'payment_intent_id=pi_1',
    scalars: ['amount_to_capture'],
    ids: ['payment_intent_id'],
    stripe: ['POST', '/v1/payment_intents/pi_1/capture']
  },
  {
    url: '/cancel_payment_intent',
    base: 'payment_intent_id=pi_1',
    scalars: [],
    ids: ['payment_intent_id'],
    stripe: ['POST', '/v1/payment_intents/pi_1/cancel']
  },
  {
    url: '/update_payment_intent',
    base: 'payment_intent_id=pi_1',
    scalars: ['receipt_email'],
    ids: ['payment_intent_id'],
    stripe: ['POST', '/v1/payment_intents/pi_1']
  },
  {
    url: '/create_setup_intent',
    base: '',
    scalars: ['customer', 'description', 'on_behalf_of'],
    ids: [],
    stripe: ['POST', '/v1/setup_intents']
  },
  {
    url: '/attach_payment_method_to_customer',
    base: 'payment_method_id=pm_1',
    scalars: [],
    ids: ['payment_method_id'],
    stripe: ['POST', '/v1/payment_methods/pm_1/attach']
  },
  {
    url: '/create_location',
    base: 'display_name=x&address[country]=US',
    scalars: ['display_name'],
    ids: [],
    stripe: ['POST', '/v1/terminal/locations']
  },
  { url: '/list_locations', method: 'GET', base: '', scalars: [], ids: [], stripe: ['GET', '/v1/terminal/locations'] },
  { url: '/list_readers', method: 'GET', base: '', scalars: ['location'], ids: [], stripe: ['GET', '/v1/terminal/readers'] },
  {
    url: '/process_payment_intent',
    base: 'reader_id=tmr_1&payment_intent_id=pi_1',
    scalars: [],
    ids: ['reader_id', 'payment_intent_id'],
    stripe: ['POST', '/v1/terminal/readers/tmr_1/process_payment_intent']
  },
  {
    url: '/process_setup_intent',
    base: 'reader_id=tmr_1&setup_intent_id=seti_1',
    scalars: [],
    ids: ['reader_id', 'setup_intent_id'],
    stripe: ['POST', '/v1/terminal/readers/tmr_1/process_setup_intent']
  },
  {
    url: '/cancel_reader_action',
    base: 'reader_id=tmr_1',
    scalars: [],
    ids: ['reader_id'],
    stripe: ['POST', '/v1/terminal/readers/tmr_1/cancel_action']
  },
  {
    url: '/simulate_payment',
    base: 'reader_id=tmr_1',
    scalars: ['card_number'],
    ids: ['reader_id'],
    stripe: ['POST', '/v1/test_helpers/terminal/readers/tmr_1/present_payment_method']
  },
  {
    url: '/refund_payment',
    base: 'payment_intent_id=pi_1',
    scalars: ['amount'],
    ids: ['payment_intent_id', 'charge', 'reader_id'],
    stripe: ['POST', '/v1/refunds']
  }
]

/** The original's defaults: a bare key gets them, as an absent one does. */
const DEFAULTS: Record<string, Record<string, string>> = {
  '/create_payment_intent': { currency: 'usd', description: 'Example PaymentIntent', capture_method: 'manual' }
}

const join = (...parts: string[]): string => parts.filter(Boolean).join('&')

t.test('a bare key counts as absent on every route: defaults apply, nothing empty is sent', async t => {
  const { app, fake } = await build(t)
  for (const r of ROUTES) {
    fake.reset()
    // a name of the base sent again bare: the last one wins, so it is absent (Stripe then says so)
    const names = r.scalars.filter(n => !r.base.split('&').some(p => p.startsWith(`${n}=`)))
    const bare = names.join('&')
    const res =
      r.method === 'GET'
        ? await app.inject({ method: 'GET', url: `${r.url}?${bare}` })
        : await app.inject({ method: 'POST', url: r.url, headers: FORM, payload: join(r.base, bare) })
    t.equal(res.statusCode, 200, `${r.url}: ${res.body.slice(0, 120)}`)
    const call = fake.callsTo(r.stripe[0], r.stripe[1])[0]
    const sent = r.stripe[0] === 'GET' ? call?.query : call?.params
    for (const name of names) t.equal(sent?.[name], DEFAULTS[r.url]?.[name], `${r.url}: bare ${name} is absent`)
  }
  fake.reset()
  await app.inject({
    method: 'POST',
    url: '/create_payment_intent',
    headers: FORM,
    payload: 'amount=100&currency&description&capture_method'
  })
  t.match(fake.calls[0]?.params, DEFAULTS['/create_payment_intent'], 'the defaults apply to bare keys')
  fake.reset()
  const located = await app.inject({
    method: 'POST',
    url: '/create_location',
    headers: FORM,
    payload: 'display_name=x&address[country]=US&display_name'
  })
  t.equal(located.body, 'Error creating Location! Missing required param: display_name.', 'the last duplicate, bare, wins: absent')
  t.match(
    fake.takeSpecViolations(),
    specAvailable ? [/missing required parameter 'display_name'/] : [],
    'a call Stripe refuses, as the original made it'
  )
  fake.reset()
  await app.inject({
    method: 'POST',
    url: '/create_payment_intent',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ amount: 100, currency: null, receipt_email: null })
  })
  t.match(fake.calls[0]?.params, { currency: 'usd', amount: '100' }, 'a JSON null is absent too')
  t.equal(fake.calls[0]?.params.receipt_email, undefined)
})

t.test('unknown parameters never reach Stripe, in the body or the query string', async t => {
  const { app, fake } = await build(t)
  for (const r of ROUTES) {
    fake.reset()
    const res =
      r.method === 'GET'
        ? await app.inject({ method: 'GET', url: `${r.url}?limit=3&expand[]=data.x&starting_after=tmr_0&evil=1` })
        : await app.inject({
          method: 'POST',
          url: `${r.url}?evil_q=1&expand[]=x`,
          headers: FORM,
          payload: join(r.base, 'evil=1&metadata[a]=b')
        })
    t.equal(res.statusCode, 200, `${r.url}: ${res.body.slice(0, 120)}`)
    // the lists page with Stripe's cursor parameters (issue "Manage the fleet"); nothing else passes
    const paged = r.url === '/list_locations' || r.url === '/list_readers'
    for (const call of fake.calls) {
      const sent = { ...call.query, ...call.params }
      // metadata is a parameter of /create_payment_intent (issue "Today's server-driven readers"), of no other route here
      const unknown = r.url === '/create_payment_intent' ? ['evil', 'evil_q'] : ['evil', 'evil_q', 'metadata']
      for (const name of unknown) t.equal(sent[name], undefined, `${r.url}: ${name} not forwarded`)
      if (r.url === '/create_payment_intent' && call.method === 'POST') t.same(sent.metadata, { a: 'b' }, `${r.url}: metadata forwarded`)
      t.equal(sent.starting_after, paged ? 'tmr_0' : undefined, `${r.url}: starting_after ${paged ? 'is its cursor' : 'not forwarded'}`)
      if (r.url !== '/attach_payment_method_to_customer') t.equal(sent.expand, undefined, `${r.url}: expand not forwarded`)
      if (call.method === 'GET') {
        const limit = paged ? '3' : r.url === '/attach_payment_method_to_customer' ? '1' : '100'
        t.equal(sent.limit, limit, `${r.url}: ${paged ? 'the limit asked' : 'the route\'s own limit'}`)
      }
    }
  }
})

t.test('a list- or object-valued id or scalar is a 400 naming it, with no Stripe call', async t => {
  const { app, fake } = await build(t)
  for (const r of ROUTES) {
    for (const name of [...r.ids, ...r.scalars]) {
      for (const [shape, value] of [
        ['list', `${name}[]=x`],
        ['object', `${name}[a]=x`]
      ] as const) {
        fake.reset()
        const others = r.base
          .split('&')
          .filter(p => p !== '' && !p.startsWith(`${name}=`))
          .join('&')
        const res =
          r.method === 'GET'
            ? await app.inject({ method: 'GET', url: `${r.url}?${value}` })
            : await app.inject({ method: 'POST', url: r.url, headers: FORM, payload: join(others, value) })
        t.equal(res.statusCode, 400, `${r.url}: ${shape} ${name} → 400 (${res.body.slice(0, 100)})`)
        t.match(res.body, `'${name}'`, `${r.url}: the text names ${name}`)
        t.equal(fake.calls.length, 0, `${r.url}: ${shape} ${name}: no Stripe call`)
      }
    }
  }
  const one = await app.inject({ method: 'POST', url: '/capture_payment_intent', headers: FORM, payload: 'payment_intent_id[]=pi_1' })
  t.equal(one.body, "Invalid parameter 'payment_intent_id': must be string", 'a one-element list is not taken for the scalar')
})
