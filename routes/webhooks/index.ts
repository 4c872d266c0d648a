import type { FastifyBaseLogger, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type Stripe from 'stripe'
import { rawBody } from '../../plugins/app/bodies.js'
import { signatureHeader, signatureProblem, signatureTimestamp, TOLERANCE_SECONDS } from '../../lib/signature.js'
import { describeError, errorBody, fail, logOutcome, type HttpError } from '../../lib/errors.js'
import { FailureLimiter } from './failure-limiter.js'
import { eventProblem, handledType, isThin, type Thin } from '../../schemas/webhooks.js'
import { deliveryOf, snapshotType } from './events.js'
import { closeAtOnce } from '../../lib/linger.js'
import { errorFields, isRecord } from '../../lib/values.js'

/**
 * Stripe's events are small — lists inside objects are truncated to 10 items and metadata is
 * capped (50 keys × 500 characters) — so real events are a few KB, rarely over 100 KB. 512 KiB
 * leaves room for the largest and bounds what an unauthenticated caller can make us read and hash.
 */

export const WEBHOOK_BODY_LIMIT = 512 * 1024
/** failed signatures per IP per minute before that IP is refused unread */
export const FAILURES_PER_MINUTE = 20
const TARPIT_MS = 250

/**
 * Stripe webhooks at /webhooks and /webhook: raw body verified against every configured
 * STRIPE_WEBHOOK_SECRET (account endpoint, Connect endpoint, `stripe listen`), each event handled
 * exactly once. No CORS, no API key, no rate limit, hidden from the public docs.
 */
declare module 'fastify' {
  interface FastifyRequest {
    /** the verified event's type, for the metrics of a delivery whose handling fails */
    webhookType: string | undefined
  }
}

/** the codes of a delivery's own failures, which its metrics and flood guard count apart */
const BAD_SIGNATURE = 'signature_invalid'
const NOT_AN_EVENT = 'event_invalid'

const webhooks: FastifyPluginAsync = async (fastify) => {
  await fastify.register(rawBody, { bodyLimit: WEBHOOK_BODY_LIMIT })
  fastify.decorateRequest('webhookType', undefined)
  const secrets = fastify.config.webhookSecrets
  const failures = new FailureLimiter(60_000)
  /** this area's one rendering of a failure: Stripe's envelope, without a code (CONTRACT.md §4) */
  const render = (reply: FastifyReply, status: number, message: string): FastifyReply =>
    reply.code(status).send(errorBody({ type: status >= 500 ? 'api_error' : 'invalid_request_error', message }))

  // Before the body is read: a caller that keeps failing, no configured secret, a declared body
  // over the limit, or a signature header that is missing, malformed or outside the tolerance
  // cannot make us read or hash a body. As a deliberate flood defence (the one place that does not
  // close the way lib/linger.ts does), the socket stops being read and is closed once the answer is
  // out, so the rest of the body is never taken in: reading it would let a flood of 1 MB bodies
  // cost the tills their latency. Stripe never fails these checks: after an address's first failure
  // its refusals wait TARPIT_MS, which throttles a flood to a few requests a second per connection,
  // and past FAILURES_PER_MINUTE it is refused outright (429).
  fastify.addHook('onRequest', (request, reply, done) => {
    if (request.method !== 'POST') return done()
    const { failures: failed, resetInSeconds } = failures.count(request.ip)
    const refuse = (status: number, message: string): void => {
      if (status === 429) fastify.metrics.rateLimited(request)
      else fastify.metrics.webhook('', status === 400 ? 'bad_signature' : 'refused')
      // what counts is failing to authenticate; a signed event we cannot handle does not
      if (status !== 503 && status !== 429) failures.fail(request.ip)
      const socket = request.raw.socket
      closeAtOnce(request.raw)
      request.raw.pause()
      reply.raw.once('finish', () => { socket?.destroy() })
      reply.header('connection', 'close')
      // answered here, not by the error handler: on the tarpit's schedule, with the socket closed after
      if (failed === 0) render(reply, status, message)
      else setTimeout(() => { if (socket?.destroyed !== true) render(reply, status, message) }, TARPIT_MS).unref()
    }
    if (failed >= FAILURES_PER_MINUTE) {
      reply.header('retry-after', String(resetInSeconds))
      return refuse(429, `Too many failed webhook deliveries from this address; retry in ${resetInSeconds} s.`)
    }
    if (secrets.length === 0) return refuse(503, 'Webhooks are not configured: set STRIPE_WEBHOOK_SECRET.')
    if (Number(request.headers['content-length'] ?? 0) > WEBHOOK_BODY_LIMIT) {
      return refuse(413, `A webhook body is at most ${WEBHOOK_BODY_LIMIT} bytes.`)
    }
    const header = signatureHeader(request.headers['stripe-signature'])
    if (header === undefined) return refuse(400, 'Missing Stripe-Signature header: send exactly one.')
    // stripe-node's own first-line texts for the same faults
    const badSignature = (reason: string): void => { refuse(400, `Webhook signature verification failed: ${reason}`) }
    const t = signatureTimestamp(header)
    if (t === undefined) return badSignature('Unable to extract timestamp and signatures from header')
    if (!/(?:^|,)\s*v1=[0-9a-f]{64}(?:,|$)/.test(header)) return badSignature('No signatures found with expected scheme')
    if (Math.abs(Math.floor(Date.now() / 1000) - t) > TOLERANCE_SECONDS) return badSignature('Timestamp outside the tolerance zone')
    done()
  })

  /**
   * The snapshot a thin event stands for: the snapshot event Stripe names (`snapshot_event`), else
   * the related object's current state in an event of the snapshot type. On the event's account
   * (`context`). A fetch that fails is a 503, so Stripe redelivers: nothing is recorded meanwhile.
   */
  const fetchSnapshot = async (thin: Thin, type: string, log: FastifyBaseLogger): Promise<Stripe.Event> => {
    const options = typeof thin.context === 'string' ? { stripeAccount: thin.context } : {}
    try {
      const stripe = fastify.stripe.client()
      if (typeof thin.snapshot_event === 'string') return await stripe.events.retrieve(thin.snapshot_event, undefined, options)
      const related = thin.related_object?.id
      if (related !== undefined && type.startsWith('terminal.reader.')) {
        const reader = await stripe.terminal.readers.retrieve(related, undefined, options)
        return {
          id: thin.id,
          object: 'event',
          type,
          created: Math.floor(Date.parse(thin.created) / 1000),
          livemode: thin.livemode === true,
          ...(typeof thin.context === 'string' ? { account: thin.context } : {}),
          data: { object: reader }
        // cast: a snapshot made here lacks what only Stripe's own events carry (api_version, request)
        } as unknown as Stripe.Event
      }
    } catch (err) {
      const message = fastify.maskSecrets(errorFields(err).message)
      log.warn({ event: thin.id, type: thin.type, err: { message } }, 'thin event: fetch failed')
      throw fail.unavailable('The event could not be fetched from Stripe; Stripe will redeliver it.', 'event_fetch_failed')
    }
    throw fail.invalid(`A thin ${thin.type} event names neither its snapshot event nor its reader.`)
  }

  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    // checked present by the onRequest hook above
    const header = signatureHeader(request.headers['stripe-signature']) ?? ''
    const payload = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
    const reason = signatureProblem(payload, header, secrets)
    if (reason !== undefined) {
      request.log.warn({ reason }, 'webhook signature verification failed')
      throw fail.invalid(`Webhook signature verification failed: ${reason}`, BAD_SIGNATURE)
    }
    let event: unknown
    try {
      event = JSON.parse(payload.toString('utf8'))
    } catch {
      throw fail.invalid('The signed payload is not a Stripe event.', NOT_AN_EVENT)
    }
    const invalid = (problem: string): HttpError => {
      request.log.warn({ problem }, 'a well-signed event that does not fit')
      return fail.invalid(`The signed payload is not a Stripe event this service can handle (${problem}).`, NOT_AN_EVENT)
    }
    const problem = eventProblem(event)
    if (problem !== undefined || !isRecord(event)) throw invalid(problem ?? 'not an object')
    const delivery = deliveryOf(event)
    request.webhookType = delivery.type
    // a thin event of a type the service acts on: its snapshot is fetched (before anything is recorded)
    const thin = isThin(event) ? event : undefined
    // cast: the schema checked the fields the handlers read (schemas/webhooks.ts); the rest is Stripe's
    let snapshot = event.object === 'v2.core.event' ? undefined : event as unknown as Stripe.Event
    const type = snapshotType(delivery.type)
    if (thin !== undefined && type !== undefined && handledType(type)) {
      snapshot = await fetchSnapshot(thin, type, request.log)
      const snapshotProblem = eventProblem(snapshot)
      if (snapshotProblem !== undefined) throw invalid(`its snapshot: ${snapshotProblem}`)
    }
    const outcome = await fastify.webhookEvents.process(delivery, snapshot)
    fastify.metrics.webhook(delivery.type, outcome)
    request.log.info({ event: delivery.id, type: delivery.type, livemode: delivery.livemode, outcome }, 'webhook event')
    return reply.send(outcome === 'duplicate' ? { received: true, duplicate: true } : { received: true })
  }

  // not rate limited: this scope adds no limiter (the plugin is registered with global: false)
  const options = { schema: { hide: true } }
  fastify.post('/webhooks', options, handler)
  fastify.post('/webhook', options, handler)
  // A preflight gets no CORS header at all: these routes are for Stripe's servers, not browsers.
  const noCors = async (_request: FastifyRequest, reply: FastifyReply) =>
    render(reply.header('allow', 'POST'), 405, 'Webhooks accept POST from Stripe only.')
  fastify.options('/webhooks', options, noCors)
  fastify.options('/webhook', options, noCors)

  fastify.setErrorHandler(function webhookErrors (error: Error, request, reply) {
    const outcome = describeError(error)
    // a database that could not serve it is our failure, not the sender's (Stripe redelivers either way)
    const counted = outcome.code === BAD_SIGNATURE
      ? 'bad_signature'
      : outcome.code === NOT_AN_EVENT ? 'invalid' : outcome.internal || outcome.store === true ? 'failed' : 'refused'
    fastify.metrics.webhook(request.webhookType ?? '', counted)
    // A bad signature, or a body refused or lost before it was whole (chunked past the limit, too
    // slow, cut off), is a failure of its address: a chunked flood is throttled as a declared one.
    if (outcome.code === BAD_SIGNATURE || request.raw.complete === false) failures.fail(request.ip)
    if (!outcome.internal) {
      logOutcome(request.log, outcome, error)
      return render(reply.headers(outcome.headers), outcome.status, outcome.message)
    }
    // The transaction rolled back: nothing of this event was kept, so Stripe's redelivery is handled in full.
    request.log.error({ err: error }, 'webhook handling failed')
    return render(reply, 500, 'Webhook handling failed; Stripe will redeliver the event.')
  })
}

export default webhooks
