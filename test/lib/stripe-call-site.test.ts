import t from 'tap'
import Stripe from 'stripe'
import { withoutCallSiteStacks } from '../../lib/stripe/call-site.js'
import { FakeStripe, stripeError } from '../support/fake-stripe.js'

// The real stripe package against the fake Stripe: what stripe-node's per-call stack capture sees
// before and after lib/stripe/call-site.ts switches it off. (This file is its own process, so the
// first calls run on stripe-node as shipped.)

/** the frames of each stack formatted while `fn` runs, for errors made without a message (stripe-node's `new Error()`) */
async function capturedFrames (fn: () => Promise<unknown>): Promise<number[]> {
  const frames: number[] = []
  const previous = Error.prepareStackTrace
  Error.prepareStackTrace = (error, trace) => {
    if (error.message === '') frames.push(trace.length)
    return `${error.name}: ${error.message}${trace.map(site => `\n    at ${String(site)}`).join('')}`
  }
  try {
    await fn()
  } finally {
    Error.prepareStackTrace = previous
  }
  return frames
}

t.test("each call's caller stack is not formatted; everything else about the call is unchanged", async t => {
  const fake = await new FakeStripe().start()
  t.teardown(() => fake.stop())
  const url = new URL(fake.url)
  const stripe = new Stripe('sk_test_call_site', { host: url.hostname, port: Number(url.port), protocol: 'http', maxNetworkRetries: 0 })
  fake.on('POST', '/v1/payment_intents', stripeError(402, 'card_error', 'Your card was declined.', { code: 'card_declined' }), 2)
  const declined = async (): Promise<Error & { type?: string, code?: string }> => {
    try {
      await stripe.paymentIntents.create({ amount: 1099, currency: 'usd' })
    } catch (err) {
      return err as Error
    }
    throw new Error('expected a decline')
  }

  // stripe-node as shipped: one stack per call, of this caller's frames
  const shipped = await capturedFrames(() => stripe.terminal.connectionTokens.create())
  t.ok(shipped.length === 1 && shipped[0]! > 0, `stripe-node formats its caller's stack on each call (${shipped.join()} frames)`)
  const before = await declined()
  t.match(before.stack, /Originating from:\n[^]*stripe-call-site\.test/, "and appends it to a failed call's error")

  t.equal(withoutCallSiteStacks(), true, 'stripe-node still routes every call through StripeResource#_makeRequest')
  const wrapped = Stripe.StripeResource.prototype._makeRequest
  t.equal(withoutCallSiteStacks(), true)
  t.equal(Stripe.StripeResource.prototype._makeRequest, wrapped, 'applied once, however often it is called')

  Error.stackTraceLimit = 17
  const token = await stripe.terminal.connectionTokens.create()
  t.match(token, { object: 'terminal.connection_token', secret: /^pst_/ }, 'the call answers as before')
  t.equal(Error.stackTraceLimit, 17, 'the stack limit is back once the call has started')
  t.same(await capturedFrames(() => stripe.terminal.connectionTokens.create()), [0], 'no frame of the caller is taken')

  const after = await declined()
  t.equal(Error.stackTraceLimit, 17)
  t.match(after, { type: 'StripeCardError', code: 'card_declined', message: 'Your card was declined.' },
    "a failure reads as Stripe's error")
  t.match(after.stack, /^Error: Your card was declined\.\n {4}at /, 'with its own stack')
  t.notMatch(after.stack, /stripe-call-site\.test/, "but not its caller's")
})

t.test('the limit is restored when the call throws, and a stripe-node without the method is left alone', async t => {
  class Throws {
    _makeRequest (): Promise<unknown> { throw new Error(`limit ${Error.stackTraceLimit}`) }
  }
  // cast: a stand-in with StripeResource's one method this touches
  t.equal(withoutCallSiteStacks(Throws as unknown as typeof Stripe.StripeResource), true)
  Error.stackTraceLimit = 10
  t.throws(() => new Throws()._makeRequest(), { message: 'limit 0' })
  t.equal(Error.stackTraceLimit, 10)

  class Renamed {}
  // cast: a stripe-node whose resources no longer have _makeRequest
  t.equal(withoutCallSiteStacks(Renamed as unknown as typeof Stripe.StripeResource), false)
  t.same(Object.getOwnPropertyNames(Renamed.prototype), ['constructor'], 'nothing added')
})
