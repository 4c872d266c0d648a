import type { FastifyRequest } from 'fastify'
import Stripe from 'stripe'
import { HttpError } from '../../lib/errors.js'
import * as own from '../../lib/ownership.js'

/** An id the caller may not act on, or that does not exist: answered alike, with the route's prefix. */
export class UnknownObjectError extends HttpError {
  constructor (kind: own.Kind, id: string) {
    super(404, own.noSuch(kind, id), 'invalid_request_error', 'resource_missing')
    this.name = 'UnknownObjectError'
  }
}

/** One read on the platform per kind, and the rule that says whether the result is the key's merchant's. */
const CHECKS: { [K in own.Kind]: (stripe: Stripe, id: string, key: Parameters<typeof own.ownsReader>[0]) => Promise<boolean> } = {
  payment_intent: async (s, id, key) => own.ownsPaymentIntent(key, await s.paymentIntents.retrieve(id)),
  setup_intent: async (s, id, key) => own.ownsSetupIntent(key, await s.setupIntents.retrieve(id)),
  charge: async (s, id, key) => own.ownsCharge(key, await s.charges.retrieve(id, { expand: ['payment_intent'] })),
  reader: async (s, id, key) => own.ownsReader(key, await s.terminal.readers.retrieve(id)),
  location: async (s, id, key) => own.ownsLocation(key, await s.terminal.locations.retrieve(id)),
  customer: async (s, id, key) => own.ownsCustomer(key, await s.customers.retrieve(id)),
  payment_method: async (s, id, key) => own.ownsPaymentMethod(key, await s.paymentMethods.retrieve(id, { expand: ['customer'] }))
}

const missing = (err: unknown): boolean => err instanceof Stripe.errors.StripeError && err.statusCode === 404

/**
 * Before a destination-charge key acts on existing objects: each named object is read once on the
 * platform (all at once) and must be the key's merchant's (lib/ownership.ts); anything else,
 * unknown ids included, is an UnknownObjectError and nothing that acts reaches Stripe. Other
 * callers pass at no cost: the platform's keys act on the platform, direct keys on their own
 * account (Stripe-Account), where Stripe keeps accounts apart.
 */
export async function assertOwned (request: FastifyRequest, refs: Partial<Record<own.Kind, string | undefined>>): Promise<void> {
  const key = request.merchant
  if (key?.charge.type !== 'destination') return
  const stripe = request.server.stripe.client()
  const named = Object.entries(refs).filter((r): r is [own.Kind, string] => r[1] !== undefined)
  // read at once, judged in the order named: the same request always fails on the same id
  const results = await Promise.allSettled(named.map(async ([kind, id]) => await CHECKS[kind](stripe, id, key)))
  named.forEach(([kind, id], i) => {
    const result = results[i]
    if (result === undefined) return
    if (result.status === 'rejected' && !missing(result.reason)) throw result.reason
    if (result.status === 'rejected' || !result.value) throw new UnknownObjectError(kind, id)
  })
}

/** The list rule of each kind a Terminal route lists. */
const LISTED = {
  location: own.ownsLocation,
  reader: own.ownsReader,
  customer: own.ownsCustomer
} as const

/** How many objects a destination key's list reads through at most, to find up to `limit` of its own. */
export const SCAN_LIMIT = 1000

/**
 * A list as the caller may see it: for a destination key, only its merchant's objects (Stripe
 * lists the whole platform), read page by page until `limit` are found or SCAN_LIMIT were read;
 * for everyone else, the first page as Stripe answered it.
 */
export async function listOwned<T extends { id: string, metadata?: Stripe.Metadata | null }> (
  request: FastifyRequest, kind: keyof typeof LISTED, list: Stripe.ApiListPromise<T>, limit = 100
): Promise<T[]> {
  const key = request.merchant
  if (key?.charge.type !== 'destination') return (await list).data
  // cast: LISTED is indexed by kind, and T is that kind's object type
  const rule = LISTED[kind] as (key: NonNullable<FastifyRequest['merchant']>, o: T) => boolean
  const found: T[] = []
  let read = 0
  for await (const item of list) {
    if (rule(key, item)) found.push(item)
    if (found.length >= limit || ++read >= SCAN_LIMIT) break
  }
  return found
}
