import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import Stripe from 'stripe'
import { stripeAgent } from '../../../lib/stripe/agent.js'
import { ObservedHttpClient } from '../../../lib/stripe/observed-client.js'
import { FakeStripe, stripeError } from '../../support/fake-stripe.js'

// The service's Stripe HTTP client as plugins/app/stripe.ts composes it (stripe-node's node client
// over lib/stripe/agent.ts, observed) under the real stripe package, against the fake Stripe over
// real sockets: each semantic it is relied on for.

const TOKEN = '/v1/terminal/connection_tokens'
const token = { object: 'terminal.connection_token', secret: 'pst_test_agent' }

/** `agent`: this agent instead of the service's */
async function setup (t: Test, { timeout = 2000, retries = 0, telemetry = true, agent = stripeAgent('http') as http.Agent } = {}) {
  const fake = await new FakeStripe().start()
  t.teardown(async () => {
    agent.destroy()
    await fake.stop()
  })
  const url = new URL(fake.url)
  const stripe = new Stripe('sk_test_agent', {
    host: url.hostname,
    port: Number(url.port),
    protocol: 'http',
    timeout,
    maxNetworkRetries: retries,
    httpClient: new ObservedHttpClient(Stripe.createNodeHttpClient(agent), retries, () => {}),
    telemetry
  })
  return { fake, stripe }
}

/** the error a promise rejects with */
async function failure (p: Promise<unknown>): Promise<{ err: Error & { type?: string; code?: string } }> {
  try {
    await p
  } catch (err) {
    return { err: err as Error }
  }
  throw new Error('expected a failure')
}

t.test('a call: form body, headers and the answer as stripe-node sends and reads them; one kept-alive socket', async t => {
  const { fake, stripe } = await setup(t)
  const pi = await stripe.paymentIntents.create(
    { amount: 1099, currency: 'usd', capture_method: 'manual', metadata: { till: 'é 7' } },
    { stripeAccount: 'acct_1', idempotencyKey: 'idem-1' }
  )
  t.equal(pi.amount, 1099)
  t.equal(pi.lastResponse.statusCode, 200)
  t.match(pi.lastResponse.requestId, /^req_/, "Stripe's request id is read from the headers")
  const [call] = fake.callsTo('POST', '/v1/payment_intents')
  t.match(call, { stripeAccount: 'acct_1', idempotencyKey: 'idem-1', authorization: 'Bearer sk_test_agent' })
  t.same(call!.params, { amount: '1099', currency: 'usd', capture_method: 'manual', metadata: { till: 'é 7' } })
  t.equal(call!.headers['content-length'], String(Buffer.byteLength(call!.rawBody)), 'Content-Length is the body in bytes')
  t.match(JSON.parse(String(call!.headers['x-stripe-client-user-agent'])), { httplib: 'node' })

  const listed = await stripe.customers.list({ limit: 2 })
  t.equal(listed.object, 'list', 'a GET, no body')
  for (let i = 0; i < 5; i++) await stripe.terminal.connectionTokens.create()
  t.equal(fake.connectionsAccepted, 1, 'seven calls in turn on one TCP connection: kept alive')
})

t.test('Stripe errors are stripe-node errors, with type, message and status', async t => {
  const { fake, stripe } = await setup(t)
  fake.on('POST', '/v1/payment_intents', stripeError(402, 'card_error', 'Your card was declined.', { code: 'card_declined' }))
  const { err } = await failure(stripe.paymentIntents.create({ amount: 1, currency: 'usd' }))
  t.ok(err instanceof Stripe.errors.StripeCardError)
  t.match(err, { message: 'Your card was declined.', code: 'card_declined', statusCode: 402 })
  fake.on('POST', TOKEN, { status: 502, raw: '<html>bad gateway</html>' })
  const bad = await failure(stripe.terminal.connectionTokens.create())
  t.ok(bad.err instanceof Stripe.errors.StripeAPIError, 'a body that is not JSON is an API error, as with the node client')
})

t.test('the timeout bounds each attempt to within 50 ms, sub-second too: waiting for headers, and for the body', async t => {
  for (const timeout of [150, 400, 1200]) {
    const { fake, stripe } = await setup(t, { timeout })
    fake.on('POST', TOKEN, { hang: true })
    const headers = await failure(stripe.terminal.connectionTokens.create())
    t.ok(headers.err instanceof Stripe.errors.StripeConnectionError, `${timeout} ms, no headers: a connection error`)
    // which timeout ended it, as stripe-node states it (how precisely it fires is a timing figure, not a test)
    t.match(headers.err.message, `timeout being reached (${timeout}ms)`, 'saying it timed out, at the configured timeout')

    fake.on('POST', TOKEN, { body: token, partial: 'stall' })
    const body = await failure(stripe.terminal.connectionTokens.create())
    t.ok(body.err instanceof Stripe.errors.StripeConnectionError, `${timeout} ms, half a body: a connection error`)
    t.match(body.err.message, `timeout being reached (${timeout}ms)`, 'saying it timed out, at the configured timeout')
  }
})

// stripe-node's own (idle) timeout is a minute here, the test's limit 20 s: only the agent's deadlines end these calls
t.test("each attempt is cut at its own deadline, whichever attempts ended before it, and the drain's cut-off moves them all", {
  timeout: 20_000
}, async t => {
  const agent = stripeAgent('http', { deadlineMs: 300 })
  const { fake, stripe } = await setup(t, { timeout: 60_000, agent })
  const ended: string[] = []
  const call = (name: string): Promise<{ err: Error }> =>
    failure(stripe.terminal.connectionTokens.create()).finally(() => { ended.push(name) })

  // the first attempt answers at once; the deadlines of the two after it are still kept, in turn
  t.match((await stripe.terminal.connectionTokens.create()).secret, /^pst_/)
  fake.on('POST', TOKEN, { hang: true }, 2)
  fake.calls.length = 0
  const b = call('b')
  // c starts once b is on the wire: a later deadline
  await fake.nextCall('POST', TOKEN)
  const c = call('c')
  for (const { err } of [await b, await c]) {
    t.ok(err instanceof Stripe.errors.StripeConnectionError, 'a stalled attempt is a connection error')
    t.match(err.message, /timeout/, 'saying it timed out')
  }
  t.same(ended, ['b', 'c'], 'in the order they were made')

  // SIGTERM's cut-off: attempts in flight end by it, however long their own deadline
  const long = stripeAgent('http', { deadlineMs: 60_000 })
  const drained = await setup(t, { timeout: 60_000, agent: long })
  drained.fake.on('POST', TOKEN, { hang: true }, 2)
  const first = failure(drained.stripe.terminal.connectionTokens.create())
  const second = failure(drained.stripe.terminal.connectionTokens.create())
  await drained.fake.nextCall('POST', TOKEN)
  long.cutOff(50)
  for (const { err } of [await first, await second]) t.match(err.message, /timeout/, 'cut at the cut-off, not after a minute')
})

t.test('a timed-out attempt is retried while retries remain, with the same idempotency key', async t => {
  const { fake, stripe } = await setup(t, { timeout: 200, retries: 1 })
  fake.on('POST', TOKEN, { hang: true })
  const made = await stripe.terminal.connectionTokens.create()
  t.match(made.secret, /^pst_/, 'the second attempt answered')
  t.equal(fake.callsTo('POST', TOKEN).length, 2)
  const [first, second] = fake.callsTo('POST', TOKEN)
  t.ok(first!.idempotencyKey !== undefined && first!.idempotencyKey === second!.idempotencyKey, 'the retry re-sends the key')
})

t.test('a socket dropped before the answer is ECONNRESET: retried once even with retries off, like the node client', async t => {
  const { fake, stripe } = await setup(t, { retries: 0 })
  fake.on('POST', TOKEN, { reset: true })
  fake.on('POST', TOKEN, { body: token })
  t.equal((await stripe.terminal.connectionTokens.create()).secret, token.secret, 'the one retry succeeded')
  t.equal(fake.callsTo('POST', TOKEN).length, 2)

  fake.on('POST', TOKEN, { reset: true }, 2)
  const { err } = await failure(stripe.terminal.connectionTokens.create())
  t.ok(err instanceof Stripe.errors.StripeConnectionError, 'dropped twice: a connection error')
  t.equal(fake.callsTo('POST', TOKEN).length, 4, 'one retry only')
})

t.test('a body cut off mid-way is a connection error, not a parse error, and stripe-node does not retry it', async t => {
  const { fake, stripe } = await setup(t, { retries: 1 })
  fake.on('POST', TOKEN, { body: token, partial: 'cut' })
  const { err } = await failure(stripe.terminal.connectionTokens.create())
  t.ok(err instanceof Stripe.errors.StripeConnectionError, 'a connection error')
  t.equal(fake.callsTo('POST', TOKEN).length, 1, 'not retried')
})

t.test('a refused connection is a connection error at once', async t => {
  const { fake, stripe } = await setup(t)
  await fake.stop()
  const { err } = await failure(stripe.terminal.connectionTokens.create())
  t.ok(err instanceof Stripe.errors.StripeConnectionError)
  t.notMatch(err.message, /timeout/, 'refused, not timed out')
  t.equal((err as { detail?: { code?: string } }).detail?.code, 'ECONNREFUSED')
})

t.test('bodies are always consumed: a 500 dropped before its retry frees its socket, on a pool of one', async t => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  const { fake, stripe } = await setup(t, { timeout: 1000, retries: 2, agent })
  fake.on('POST', TOKEN, { ...stripeError(500, 'api_error', 'Something went wrong.'), headers: { 'stripe-should-retry': 'true' } }, 2)
  t.equal((await stripe.terminal.connectionTokens.create()).secret !== undefined, true, 'the third attempt answered')
  t.equal(fake.callsTo('POST', TOKEN).length, 3)
  t.equal(fake.connectionsAccepted, 1, 'all three on the one socket: each dropped body was read')
})

t.test('the pool is bounded: 3× its size of concurrent calls share its sockets', async t => {
  const SOCKETS = 16
  const waits: number[] = []
  const agent = stripeAgent('http', { maxSockets: SOCKETS, pool: { waited: s => waits.push(s) } })
  // telemetry off: stripe-node warns when more answers arrive at once than it buffers timings for
  const { fake, stripe } = await setup(t, { telemetry: false, agent })
  let release = (): void => {}
  const held = new Promise<void>(resolve => { release = resolve })
  fake.on('POST', TOKEN, { body: token, until: held }, SOCKETS * 3)
  const all = Promise.all(Array.from({ length: SOCKETS * 3 }, () => stripe.terminal.connectionTokens.create()))
  for (let i = 0; i < 1000 && agent.queued() < SOCKETS * 2; i++) await new Promise(resolve => setImmediate(resolve))
  t.equal(agent.queued(), SOCKETS * 2, 'the calls beyond the pool wait in it')
  release()
  t.equal((await all).length, SOCKETS * 3)
  t.ok(fake.connectionsAccepted <= SOCKETS, `${fake.connectionsAccepted} connections for ${SOCKETS * 3} calls`)
  t.equal(waits.length, SOCKETS * 2, 'each wait was reported once')
  t.equal(agent.queued(), 0)
})

const openssl = spawnSync('openssl', ['version']).status === 0
t.test('TLS is verified: an unvouched certificate is refused before anything is sent', { skip: !openssl && 'needs openssl' }, async t => {
  const dir = mkdtempSync(join(tmpdir(), 'tls-'))
  const made = spawnSync('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
    '-keyout',
    join(dir, 'key.pem'),
    '-out',
    join(dir, 'cert.pem')
  ])
  t.equal(made.status, 0, 'a self-signed certificate made')
  const cert = readFileSync(join(dir, 'cert.pem'))
  let served = 0
  const server = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert }, (_req, res) => {
    served++
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(token))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const trusting = new https.Agent({ ca: cert })
  const agent = stripeAgent('https')
  t.teardown(() => {
    agent.destroy()
    trusting.destroy()
    server.close()
  })
  const port = (server.address() as AddressInfo).port
  const client = (via: http.Agent) =>
    new Stripe('sk_test_agent', {
      host: '127.0.0.1',
      port,
      protocol: 'https',
      maxNetworkRetries: 0,
      httpClient: Stripe.createNodeHttpClient(via)
    })
  const { err } = await failure(client(agent).terminal.connectionTokens.create())
  t.ok(err instanceof Stripe.errors.StripeConnectionError, 'refused')
  t.equal(served, 0, 'nothing was sent')
  t.equal((await client(trusting).terminal.connectionTokens.create()).secret, token.secret, 'the same server, once its CA is trusted')
})

t.test('the service under a burst: no stripe-node telemetry warning per call, no telemetry header', async t => {
  const { build } = await import('../../support/helper.js')
  const { app, fake } = await build(t, { env: { RATE_LIMIT_MAX: '1000' } })
  const warnings: string[] = []
  const onWarning = (w: Error): void => { warnings.push(w.message) }
  process.on('warning', onWarning)
  t.teardown(() => { process.off('warning', onWarning) })
  // more answers at once than stripe-node's telemetry buffer (100) holds
  let release = (): void => {}
  const held = new Promise<void>(resolve => { release = resolve })
  fake.on('POST', TOKEN, { body: token, until: held }, 150)
  const answers = Array.from({ length: 150 }, async () => await app.inject({ method: 'POST', url: '/connection_token' }))
  for (let i = 0; i < 1000 && fake.callsTo('POST', TOKEN).length < 150; i++) await new Promise(resolve => setImmediate(resolve))
  release()
  t.same(new Set((await Promise.all(answers)).map(r => r.statusCode)), new Set([200]))
  // a second burst: with telemetry on, each of its calls would carry the first burst's timings
  const more = await Promise.all(Array.from({ length: 20 }, async () => await app.inject({ method: 'POST', url: '/connection_token' })))
  t.same(new Set(more.map(r => r.statusCode)), new Set([200]))
  await new Promise(resolve => setImmediate(resolve))
  t.same(warnings.filter(w => w.includes('telemetry')), [], 'no process warning')
  t.notOk(fake.calls.some(c => c.headers['x-stripe-client-telemetry'] !== undefined), 'no telemetry header sent')
})
