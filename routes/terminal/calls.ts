import type { FastifyRequest } from 'fastify'
import type Stripe from 'stripe'
import { stripeIdempotencyKey } from './idempotency.js'
import { applicationFee } from '../../lib/merchant-keys.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** the caller's valid `Idempotency-Key` header, on Terminal POSTs */
    idempotencyKey: string | undefined
  }
}

/**
 * stripe-node's request options for one Stripe call of a Terminal request: a direct-charge
 * merchant key's account (`Stripe-Account`, from the key only: nothing the caller sends chooses
 * it); and with an `Idempotency-Key` from the till, a key derived from the caller, the route and
 * `call` (the name of this call within the route), so a till's retry replays Stripe's first answer.
 */
export function callOptions (request: FastifyRequest, call: string): Stripe.RequestOptions {
  const account = readOptions(request)
  const header = request.idempotencyKey
  if (header === undefined) return account
  const caller = request.server.credentials.bucket(request)
  return { ...account, idempotencyKey: stripeIdempotencyKey(caller, header, `${request.routeOptions.url ?? ''}:${call}`) }
}

/** The options of a read (a list): only the account, reads need no idempotency. */
export function readOptions (request: FastifyRequest): Stripe.RequestOptions {
  const merchant = request.merchant
  return merchant?.charge.type === 'direct' ? { stripeAccount: merchant.account } : {}
}

/**
 * What a merchant key adds to a PaymentIntent: destination charges run on the platform for the
 * merchant (`on_behalf_of`, `transfer_data[destination]`); either mode may take an application fee.
 */
export function chargeParams (request: FastifyRequest, amount: string | undefined): Record<string, unknown> {
  const merchant = request.merchant
  if (merchant === undefined) return {}
  const fee = applicationFee(merchant.charge, Number(amount))
  return {
    ...(merchant.charge.type === 'destination' ? { on_behalf_of: merchant.account, transfer_data: { destination: merchant.account } } : {}),
    ...(fee === undefined ? {} : { application_fee_amount: fee })
  }
}

/**
 * What a merchant key adds to a refund: for a destination charge, the transfer to the merchant is
 * reversed and the application fee refunded in proportion, so the merchant's share pays for its
 * refund (Stripe's default leaves it to the platform); a key with `refunds: 'platform'` keeps
 * Stripe's default, for platforms that absorb refunds.
 */
export function refundParams (request: FastifyRequest): { reverse_transfer?: true, refund_application_fee?: true } {
  const charge = request.merchant?.charge
  if (charge?.type !== 'destination' || charge.refunds === 'platform') return {}
  const fee = charge.application_fee_amount !== undefined || charge.application_fee_percent !== undefined
  return { reverse_transfer: true, ...(fee ? { refund_application_fee: true } : {}) }
}
