// Today's server-driven readers (issue "Today's server-driven readers"), items 1–6: process
// options, the cart on the reader's screen, collected inputs, collect-then-confirm, reads for
// polling and what a till needs to reconcile — each route's exact Stripe call, answer, errors and
// hostile input. Which key may act on whose reader is the isolation matrix's (isolation.test.ts).
import t from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { build } from '../../support/helper.js'
import { decoded } from '../../support/terminal.js'

const FORM = { 'content-type': 'application/x-www-form-urlencoded' }
const KEY = 'k'.repeat(32)
const headers = { ...FORM, 'x-api-key': KEY }

t.test('process options, the cart, inputs, collect then confirm, reads: the exact calls', async t => {
  const { app, fake } = await build(t, { env: { API_KEY: KEY } })
  const post = async (url: string, payload: string) => await app.inject({ method: 'POST', url, headers, payload })
  const json = async (url: string, payload: unknown) =>
    await app.inject({
      method: 'POST', url, headers: { 'content-type': 'application/json', 'x-api-key': KEY }, payload: JSON.stringify(payload)
    })

  const processed = await post('/process_payment_intent', 'reader_id=tmr_1&payment_intent_id=pi_1&process_config[skip_tipping]=true' +
    '&process_config[enable_customer_cancellation]=true&process_config[return_url]=https://pos.example.com/done&process_config[x]=1')
  t.equal(processed.statusCode, 200, processed.body)
  t.equal(decoded(fake.callsTo('POST', '/v1/terminal/readers/tmr_1/process_payment_intent')[0]),
    'payment_intent=pi_1&process_config[skip_tipping]=true&process_config[enable_customer_cancellation]=true' +
    '&process_config[return_url]=https://pos.example.com/done', 'an unknown process_config field is not forwarded')
  const options = await post('/process_payment_intent', 'reader_id=tmr_1&payment_intent_id=pi_1&process_config[skip_tipping]=false' +
    '&process_config[tipping][amount_eligible]=1500&process_config[enable_customer_cancellation]=true' +
    '&process_config[return_url]=https://pos.example.com/done&process_config[allow_redisplay]=limited')
  t.equal(options.statusCode, 200, options.body)
  t.equal(decoded(fake.callsTo('POST', '/v1/terminal/readers/tmr_1/process_payment_intent')[1]),
    'payment_intent=pi_1&process_config[skip_tipping]=false&process_config[tipping][amount_eligible]=1500' +
    '&process_config[enable_customer_cancellation]=true&process_config[return_url]=https://pos.example.com/done' +
    '&process_config[allow_redisplay]=limited')

  const setup = await post('/process_setup_intent',
    'reader_id=tmr_1&setup_intent_id=seti_1&process_config[enable_customer_cancellation]=true')
  t.equal(setup.statusCode, 200)
  t.match(decoded(fake.callsTo('POST', '/v1/terminal/readers/tmr_1/process_setup_intent')[0]),
    /^setup_intent=seti_1&allow_redisplay=always&process_config\[enable_customer_cancellation\]=true$/)

  const cart = await post('/set_reader_display', 'reader_id=tmr_1&cart[currency]=usd&cart[line_items][0][description]=Latte' +
    '&cart[line_items][0][amount]=450&cart[line_items][0][quantity]=2&cart[line_items][1][description]=Scone' +
    '&cart[line_items][1][amount]=300&cart[line_items][1][quantity]=1&cart[tax]=120&cart[total]=1320')
  t.equal(cart.statusCode, 200, cart.body)
  t.match(cart.json(), { id: 'tmr_1', action: { type: 'set_reader_display', status: 'in_progress' } })
  t.equal(decoded(fake.callsTo('POST', '/v1/terminal/readers/tmr_1/set_reader_display')[0]),
    'type=cart&cart[currency]=usd&cart[line_items][0][description]=Latte&cart[line_items][0][amount]=450' +
    '&cart[line_items][0][quantity]=2&cart[line_items][1][description]=Scone&cart[line_items][1][amount]=300' +
    '&cart[line_items][1][quantity]=1&cart[tax]=120&cart[total]=1320')
  const jsonCart = await json('/set_reader_display', {
    reader_id: 'tmr_1', cart: { currency: 'eur', line_items: [{ description: 'Tea', amount: 300, quantity: 1 }], total: 300 }
  })
  t.equal(jsonCart.statusCode, 200, 'a JSON array of line items too')
  t.equal((await post('/cancel_reader_action', 'reader_id=tmr_1')).statusCode, 200, 'cancel_reader_action clears it')

  const inputs = await json('/collect_inputs', {
    reader_id: 'tmr_1',
    inputs: [
      { type: 'signature', custom_text: { title: 'Sign here', submit_button: 'Done' }, required: true },
      {
        type: 'selection',
        custom_text: { title: 'Receipt?' },
        selection: { choices: [{ id: 'yes', text: 'Yes', style: 'primary' }, { id: 'no', text: 'No' }] }
      }
    ],
    metadata: { order: '42' }
  })
  t.equal(inputs.statusCode, 200, inputs.body)
  t.match(inputs.json(), { action: { type: 'collect_inputs' } })
  t.equal(decoded(fake.callsTo('POST', '/v1/terminal/readers/tmr_1/collect_inputs')[0]),
    'inputs[0][type]=signature&inputs[0][custom_text][title]=Sign here&inputs[0][custom_text][submit_button]=Done' +
    '&inputs[0][required]=true&inputs[1][type]=selection&inputs[1][custom_text][title]=Receipt?' +
    '&inputs[1][selection][choices][0][id]=yes&inputs[1][selection][choices][0][text]=Yes' +
    '&inputs[1][selection][choices][0][style]=primary&inputs[1][selection][choices][1][id]=no' +
    '&inputs[1][selection][choices][1][text]=No&metadata[order]=42')

  const collected = await post('/collect_payment_method', 'reader_id=tmr_1&payment_intent_id=pi_1&collect_config[skip_tipping]=true' +
    '&collect_config[allow_redisplay]=always')
  t.equal(collected.statusCode, 200, collected.body)
  t.match(collected.json(), { action: { type: 'collect_payment_method', status: 'in_progress' } })
  t.equal(decoded(fake.callsTo('POST', '/v1/terminal/readers/tmr_1/collect_payment_method')[0]),
    'payment_intent=pi_1&collect_config[skip_tipping]=true&collect_config[allow_redisplay]=always')
  const confirmed = await post('/confirm_payment_intent',
    'reader_id=tmr_1&payment_intent_id=pi_1&confirm_config[return_url]=https://pos.example.com/r')
  t.equal(confirmed.statusCode, 200, confirmed.body)
  t.equal(decoded(fake.callsTo('POST', '/v1/terminal/readers/tmr_1/confirm_payment_intent')[0]),
    'payment_intent=pi_1&confirm_config[return_url]=https://pos.example.com/r')

  const reader = await app.inject({ method: 'GET', url: '/retrieve_reader?reader_id=tmr_1&expand[]=x', headers })
  t.equal(reader.statusCode, 200)
  t.match(reader.json(), { id: 'tmr_1', object: 'terminal.reader' })
  t.same(fake.callsTo('GET', '/v1/terminal/readers/tmr_1')[0]?.query, {}, 'nothing of the query string but the id')
  const intent = await app.inject({ method: 'GET', url: '/retrieve_payment_intent?payment_intent_id=pi_7', headers })
  t.equal(intent.statusCode, 200)
  t.match(intent.json(), { id: 'pi_7' })

  const created = await post('/create_payment_intent', 'amount=1500&metadata[order]=42&metadata[till]=3&customer=cus_1' +
    '&statement_descriptor_suffix=STORE 12&receipt_email=a@example.com')
  t.equal(created.statusCode, 200, created.body)
  t.match(decoded(fake.callsTo('POST', '/v1/payment_intents')[0]),
    /receipt_email=a@example.com&metadata\[order\]=42&metadata\[till\]=3&customer=cus_1&statement_descriptor_suffix=STORE 12$/)
  t.same(fake.takeSpecViolations(), [], 'every call is one Stripe\'s API (or the pinned package) takes')
})

t.test('bad input: a 400 naming the parameter, and nothing reaches Stripe', async t => {
  const { app, fake } = await build(t, { env: { API_KEY: KEY } })
  const line = 'cart[currency]=usd&cart[total]=100'
  const many = (n: number, f: (i: number) => string): string => Array.from({ length: n }, (_, i) => f(i)).join('&')
  const cases: Array<[string, string, string, RegExp]> = [
    ['POST', '/set_reader_display', 'reader_id=tmr_1', /'cart' is a required parameter/],
    ['POST', '/set_reader_display', `reader_id=tmr_1&${line}`, /cart/],
    ['POST', '/set_reader_display', `reader_id=tmr_1&${line}&cart[line_items][0][description]=x&cart[line_items][0][amount]=1`, /cart/],
    ['POST', '/set_reader_display', `reader_id=tmr_1&${line}&${many(101, i => `cart[line_items][${i}][description]=x` +
      `&cart[line_items][${i}][amount]=1&cart[line_items][${i}][quantity]=1`)}`, /./],
    ['POST', '/set_reader_display', `reader_id=&${line}`, /'reader_id' is a required parameter/],
    ['POST', '/collect_inputs', 'reader_id=tmr_1', /'inputs' is a required parameter/],
    ['POST', '/collect_inputs', 'reader_id=tmr_1&inputs[0][type]=fingerprint&inputs[0][custom_text][title]=x', /inputs/],
    ['POST', '/collect_inputs', 'reader_id=tmr_1&inputs[0][type]=email', /inputs/],
    ['POST', '/collect_inputs', `reader_id=tmr_1&inputs[0][type]=email&inputs[0][custom_text][title]=${'x'.repeat(41)}`, /inputs/],
    ['POST', '/collect_inputs', `reader_id=tmr_1&${many(6, i => `inputs[${i}][type]=email&inputs[${i}][custom_text][title]=x`)}`, /inputs/],
    ['POST', '/collect_payment_method', 'reader_id=tmr_1', /'payment_intent_id' is a required parameter/],
    ['POST', '/collect_payment_method', 'reader_id=tmr_1&payment_intent_id=pi_1&collect_config[tipping][amount_eligible]=-1',
      /collect_config/],
    ['POST', '/collect_payment_method', 'reader_id=tmr_1&payment_intent_id=pi_1&collect_config[allow_redisplay]=sometimes',
      /collect_config/],
    ['POST', '/confirm_payment_intent', 'payment_intent_id=pi_1', /'reader_id' is a required parameter/],
    ['POST', '/confirm_payment_intent', 'reader_id=tmr_1&payment_intent_id=pi_1&confirm_config[return_url]=not a url', /confirm_config/],
    ['POST', '/process_payment_intent', 'reader_id=tmr_1&payment_intent_id=pi_1&process_config[skip_tipping]=maybe', /process_config/],
    ['POST', '/process_setup_intent', 'reader_id=tmr_1&setup_intent_id=seti_1&process_config[enable_customer_cancellation]=perhaps',
      /process_config/],
    ['GET', '/retrieve_reader', '', /'reader_id' is a required parameter/],
    ['GET', '/retrieve_payment_intent', 'payment_intent_id[]=pi_1', /payment_intent_id/],
    ['POST', '/create_payment_intent', `amount=100&${many(51, i => `metadata[k${i}]=v`)}`, /metadata/],
    ['POST', '/create_payment_intent', `amount=100&metadata[${'k'.repeat(41)}]=v`, /metadata/],
    ['POST', '/create_payment_intent', `amount=100&metadata[k]=${'v'.repeat(501)}`, /metadata/],
    ['POST', '/create_payment_intent', `amount=100&statement_descriptor_suffix=${'S'.repeat(23)}`, /statement_descriptor_suffix/]
  ]
  for (const [method, url, payload, text] of cases) {
    fake.reset()
    const res: LightMyRequestResponse = method === 'GET'
      ? await app.inject({ method: 'GET', url: `${url}?${payload}`, headers })
      : await app.inject({ method: 'POST', url, headers, payload })
    t.equal(res.statusCode, 400, `${method} ${url} ${payload.slice(0, 80)}: ${res.body.slice(0, 100)}`)
    t.match(res.body, text, `${url}: names what is wrong`)
    t.equal(fake.calls.length, 0, `${url}: Stripe not called`)
  }
})

t.test('Stripe\'s refusal reads as the route\'s text', async t => {
  const { app } = await build(t, { env: { API_KEY: KEY } })
  const payload = 'reader_id=tmr_missing&payment_intent_id=pi_1'
  const res = await app.inject({ method: 'POST', url: '/collect_payment_method', headers, payload })
  t.equal(res.statusCode, 402)
  t.equal(res.body, "Error collecting payment method! No such terminal.reader: 'tmr_missing'")
  const json = await app.inject({
    method: 'GET', url: '/retrieve_reader?reader_id=tmr_missing', headers: { 'x-api-key': KEY, accept: 'application/json' }
  })
  t.match(json.json(), { error: { message: "Error retrieving Reader! No such terminal.reader: 'tmr_missing'", code: 'resource_missing' } })
})
