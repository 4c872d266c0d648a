import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import Stripe from 'stripe'
import { useRawBody } from '../../plugins/app/raw-body.js'
import { signatureHeader } from '../../lib/signature.js'
import { describeError } from '../../lib/errors.js'
import { eventProblem } from '../../schemas/webhooks.js'

const TOLERANCE_SECONDS = 300

/**
 * Stripe webhooks at /webhooks and /webhook: raw body verified against every configured
 * STRIPE_WEBHOOK_SECRET (account endpoint, Connect endpoint, `stripe listen`), each event handled
 * exactly once. No CORS, no API key, no rate limit, hidden from the public docs.
 */
const webhooks: FastifyPluginAsync = async (fastify) => {
  useRawBody(fastify, 1024 * 1024)
  const secrets = fastify.config.webhookSecrets
  const fail = (reply: FastifyReply, status: number, message: string): FastifyReply =>
    reply.code(status).send({ error: { type: status === 503 ? 'api_error' : 'invalid_request_error', message } })

  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    if (secrets.length === 0) return fail(reply, 503, 'Webhooks are not configured: set STRIPE_WEBHOOK_SECRET.')
    const header = signatureHeader(request.headers['stripe-signature'])
    if (header === undefined) return fail(reply, 400, 'Missing Stripe-Signature header: send exactly one.')
    const payload = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
    let event: Stripe.Event | undefined
    let reason = 'no secret matched'
    for (const secret of secrets) {
      try {
        event = Stripe.webhooks.constructEvent(payload, header, secret, TOLERANCE_SECONDS)
        break
      } catch (err) {
        // verified, but not JSON: no other secret will make it an event
        if (err instanceof SyntaxError) return fail(reply, 400, 'The signed payload is not a Stripe event.')
        reason = (err as Error).message.split('\n')[0]!
      }
    }
    if (event === undefined) {
      request.log.warn({ reason }, 'webhook signature verification failed')
      return fail(reply, 400, `Webhook signature verification failed: ${reason}`)
    }
    const problem = eventProblem(event)
    if (problem !== undefined) {
      request.log.warn({ problem }, 'a well-signed event that does not fit')
      return fail(reply, 400, `The signed payload is not a Stripe event this service can handle (${problem}).`)
    }
    const outcome = await fastify.webhookEvents.process(event)
    request.log.info({ event: event.id, type: event.type, livemode: event.livemode, outcome }, 'webhook event')
    return reply.send(outcome === 'duplicate' ? { received: true, duplicate: true } : { received: true })
  }

  // not rate limited: this scope adds no limiter (the plugin is registered with global: false)
  const options = { schema: { hide: true }, logLevel: 'info' as const }
  fastify.post('/webhooks', options, handler)
  fastify.post('/webhook', options, handler)
  // A preflight gets no CORS header at all: these routes are for Stripe's servers, not browsers.
  const noCors = async (_request: FastifyRequest, reply: FastifyReply) => reply.code(405).header('allow', 'POST').send({ error: { type: 'invalid_request_error', message: 'Webhooks accept POST from Stripe only.' } })
  fastify.options('/webhooks', options, noCors)
  fastify.options('/webhook', options, noCors)

  fastify.setErrorHandler(function webhookErrors (error: Error, request, reply) {
    const e = describeError(error)
    if (!e.internal) return fail(reply, e.status, e.message)
    // The transaction rolled back: nothing of this event was kept, so Stripe's redelivery is handled in full.
    request.log.error({ err: error }, 'webhook handling failed')
    return fail(reply, 500, 'Webhook handling failed; Stripe will redeliver the event.')
  })
}

export default webhooks
