import type { FastifyRequest } from 'fastify'
import type Stripe from 'stripe'
import { stripeIdempotencyKey } from '../../lib/idempotency.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** the caller's valid `Idempotency-Key` header, on Terminal POSTs */
    idempotencyKey: string | undefined
  }
}

/**
 * stripe-node's request options for one Stripe call of a Terminal request: with an
 * `Idempotency-Key` from the till, a key derived from the caller, the route and `call` (the name
 * of this call within the route), so a till's retry replays Stripe's first answer.
 */
export function callOptions (request: FastifyRequest, call: string): Stripe.RequestOptions {
  const header = request.idempotencyKey
  if (header === undefined) return {}
  const caller = request.server.apiKeys.bucket(request)
  return { idempotencyKey: stripeIdempotencyKey(caller, header, `${request.routeOptions.url ?? ''}:${call}`) }
}
