/**
 * The processes of a benchmark run, one role each (argv[2]):
 *   fake     the fake Stripe (test/support/fake-stripe.ts), answering after BENCH_UPSTREAM_MS (0)
 *   service  this service, as in production: API key, CORS allowlist, helmet, rate limit, validation,
 *            the log (LOG_LEVEL, default info) through the buffered stdout server.ts uses, to a pipe;
 *            it also prints two merchant keys it made (direct, destination), for the merchant scenarios
 *            (BENCH_METRICS=off: the same service with its metrics not recorded)
 *   bare     a bare Fastify + stripe-node server making the same Stripe calls (the baseline),
 *            stripe-node and Fastify with their defaults (no logger)
 *   express  the same server on bare Express 5 (express.urlencoded), stripe-node with its defaults
 * Each prints `READY <port>` when listening, on BENCH_PORT when set (the cold-start measure).
 * Each role imports only what it runs, so the bare server's start-up is a bare server's.
 */
import { serviceEnv } from './key.js'

const role = process.argv[2]
// exit normally on a signal, so `node --cpu-prof` can write its profile
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0))
const stripeBase = process.env.STRIPE_API_BASE ?? ''
const port = Number(process.env.BENCH_PORT ?? 0)

if (role === 'fake') {
  const { FakeStripe } = await import('../test/support/fake-stripe.js')
  // Stripe's latency, and no spec check per call: the fake shares a core with the load generator
  const fake = await new FakeStripe({ latencyMs: Number(process.env.BENCH_UPSTREAM_MS ?? 0), checkSpec: false }).start()
  // the PaymentIntent the destination-key scenario captures: the bench merchant's, on the platform
  const bench = (): void => {
    fake.put({ id: 'pi_bench', object: 'payment_intent', transfer_data: { destination: 'acct_bench' }, on_behalf_of: 'acct_bench' })
  }
  bench()
  // keep memory flat: the recorder and the store are for tests
  setInterval(() => {
    fake.calls.length = 0
    fake.objects.clear()
    bench()
  }, 1000).unref()
  console.log(`READY ${new URL(fake.url).port}`)
} else if (role === 'service') {
  const [{ default: Fastify }, { default: fp }, { default: app, serverOptions }, { loadConfig }, { bufferedStdout }] = await Promise.all([
    import('fastify'), import('fastify-plugin'), import('../app.js'), import('../lib/config.js'), import('../lib/logger.js')
  ])
  const env = serviceEnv(stripeBase)
  const config = loadConfig(env)
  const server = Fastify(serverOptions(config, bufferedStdout()))
  await server.register(fp(app), { config, env })
  if (process.env.BENCH_METRICS === 'off') {
    // the same service with nothing recorded: what the metrics cost is the difference
    const off = (): void => {}
    const recorders = ['request', 'stripeAttempt', 'webhook', 'appsSignatureFailure', 'rateLimited', 'proxied'] as const
    for (const name of recorders) server.metrics[name] = off
  }
  await server.listen({ port, host: '127.0.0.1' })
  // merchant keys for the merchant scenarios: direct charges on a connected account, destination charges on the platform
  const direct = await server.merchantKeys.create({ account: 'acct_bench', label: 'bench' })
  const destination = await server.merchantKeys.create({ account: 'acct_bench', label: 'bench', charge: { type: 'destination' } })
  console.log(`READY ${(server.server.address() as { port: number }).port} ${direct.key} ${destination.key}`)
} else if (role === 'bare' || role === 'express') {
  const calls = await bareCalls()
  if (role === 'bare') {
    const [{ default: Fastify }, { default: formbody }] = await Promise.all([import('fastify'), import('@fastify/formbody')])
    const server = Fastify({ logger: false })
    await server.register(formbody)
    server.post('/connection_token', async () => await calls.connectionToken())
    server.post('/create_payment_intent', async req => await calls.createPaymentIntent(req.body as Record<string, string>))
    server.post('/capture_payment_intent', async req => await calls.capture(req.body as Record<string, string>))
    server.get('/v1/apis/http/stripe/*', async (req, reply) => {
      const res = await calls.proxied(req.url)
      return reply.code(res.statusCode).header('content-type', 'application/json').send(res.body)
    })
    await server.listen({ port, host: '127.0.0.1' })
    console.log(`READY ${(server.server.address() as { port: number }).port}`)
  } else {
    const { default: express } = await import('express')
    const server = express()
    server.use(express.urlencoded({ extended: true }))
    // Express 5 passes a rejected promise to its error handler
    server.post('/connection_token', async (_req, res) => { res.json(await calls.connectionToken()) })
    server.post('/create_payment_intent', async (req, res) => {
      res.json(await calls.createPaymentIntent(req.body as Record<string, string>))
    })
    server.post('/capture_payment_intent', async (req, res) => { res.json(await calls.capture(req.body as Record<string, string>)) })
    server.get('/v1/apis/http/stripe/*path', async (req, res) => {
      const upstream = await calls.proxied(req.url)
      res.status(upstream.statusCode).type('application/json').send(Buffer.from(await upstream.body.arrayBuffer()))
    })
    const listening = server.listen(port, '127.0.0.1', () => {
      console.log(`READY ${(listening.address() as { port: number }).port}`)
    })
  }
} else {
  console.error('usage: servers.ts fake|service|bare|express')
  process.exit(2)
}

/** The Stripe calls both bare servers make, with stripe-node's defaults (and undici for the proxy line). */
async function bareCalls () {
  const [{ default: Stripe }, { request }] = await Promise.all([import('stripe'), import('undici')])
  const base = new URL(stripeBase)
  const stripe = new Stripe('sk_test_bench', { host: base.hostname, port: Number(base.port), protocol: 'http', maxNetworkRetries: 0 })
  const intentSecret = (pi: { id: string, client_secret: string | null }) => ({ intent: pi.id, secret: pi.client_secret })
  return {
    connectionToken: async () => ({ secret: (await stripe.terminal.connectionTokens.create()).secret }),
    createPaymentIntent: async (b: Record<string, string>) => intentSecret(await stripe.paymentIntents.create({
      amount: Number(b.amount),
      currency: b.currency ?? 'usd',
      payment_method_types: ['card_present'],
      capture_method: 'manual',
      description: 'Example PaymentIntent'
    } as Parameters<typeof stripe.paymentIntents.create>[0])),
    capture: async (b: Record<string, string>) => intentSecret(await stripe.paymentIntents.capture(b.payment_intent_id!)),
    proxied: async (url: string) => await request(`${stripeBase}${url.slice('/v1/apis/http/stripe'.length)}`, {
      headers: { authorization: 'Bearer rk_test_bench' }
    })
  }
}
