import type { FastifyRequest } from 'fastify'
import Stripe from 'stripe'
import { LruMap } from 'toad-cache'
import { HttpError } from '../../lib/errors.js'
import { errorFields } from '../../lib/values.js'
import * as own from '../../lib/ownership.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** (kind, merchant, id) of objects known to be a destination merchant's for good: see `knownOwners` */
    knownOwners: LruMap<true>
  }
}

/**
 * The kinds whose owner Stripe never changes: a PaymentIntent's `on_behalf_of` and
 * `transfer_data[destination]` and a SetupIntent's `on_behalf_of` are set at creation (neither
 * update endpoint takes them), and a charge keeps its PaymentIntent. Once such an object is known
 * to be a merchant's, from Stripe's answer to a read or to the call that created it, it stays the
 * merchant's, and the next call on it (the till's process, then capture) needs no read: a Stripe
 * round trip less. Only what was found owned is kept, never a refusal: in this process (an LRU),
 * and in the database for the other replicas, which already decides whose a key is (never Redis,
 * which holds only counts: it must not be able to hand one merchant another's intent).
 */
const FIXED: ReadonlySet<own.Kind> = new Set(['payment_intent', 'setup_intent', 'charge'])

/** How many such facts a process keeps (about 100 bytes each), the least recently used dropped first. */
const KNOWN_OWNERS = 10_000
/** How long the database keeps one, only to bound its table: past a capture and most refunds. */
const KNOWN_OWNERS_DAYS = 30

export const knownOwners = (): LruMap<true> => new LruMap<true>(KNOWN_OWNERS)

const fact = (kind: own.Kind, account: string, id: string): string => `${kind} ${account} ${id}`

/** Whether the fact is known here or to another replica; a database that fails only costs the read. */
async function known (request: FastifyRequest, f: string): Promise<boolean> {
  if (request.server.knownOwners.get(f) === true) return true
  try {
    if (!await request.server.repos.ownedObjects.has(f, new Date(request.server.clock.now()))) return false
  } catch (err) {
    request.log.warn({ err: errorFields(err) }, 'ownership facts unreadable: reading the object from Stripe')
    return false
  }
  request.server.knownOwners.set(f, true)
  return true
}

/** Keeps facts here and for the other replicas; one the database cannot take is only kept here. */
async function keep (request: FastifyRequest, facts: string[]): Promise<void> {
  const until = new Date(request.server.clock.now() + KNOWN_OWNERS_DAYS * 86_400_000)
  for (const f of facts) {
    request.server.knownOwners.set(f, true)
    try {
      await request.server.repos.ownedObjects.add(f, until)
    } catch (err) {
      request.log.warn({ err: errorFields(err) }, 'ownership fact not recorded: other replicas will read the object')
    }
  }
}

/** After a destination key's till creates an intent: Stripe's answer, judged by the rule, is kept if it is the merchant's. */
export async function rememberOwned (
  request: FastifyRequest, kind: 'payment_intent' | 'setup_intent', object: Stripe.PaymentIntent | Stripe.SetupIntent
): Promise<void> {
  const key = request.merchant
  if (key?.charge.type !== 'destination') return
  const owned = kind === 'payment_intent' ? own.ownsPaymentIntent(key, object) : own.ownsSetupIntent(key, object)
  if (owned) await keep(request, [fact(kind, key.account, object.id)])
}

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
 * Before a destination-charge key acts on existing objects: each named object not already known to
 * be the merchant's (FIXED, above) is read on the platform (all at once) and must be the key's
 * merchant's (lib/ownership.ts); anything else,
 * unknown ids included, is an UnknownObjectError and nothing that acts reaches Stripe. Other
 * callers pass at no cost: the platform's keys act on the platform, direct keys on their own
 * account (Stripe-Account), where Stripe keeps accounts apart.
 */
export async function assertOwned (request: FastifyRequest, refs: Partial<Record<own.Kind, string | undefined>>): Promise<void> {
  const key = request.merchant
  if (key?.charge.type !== 'destination') return
  const named: Array<[own.Kind, string]> = []
  for (const [kind, id] of Object.entries(refs).filter((r): r is [own.Kind, string] => r[1] !== undefined)) {
    if (!(FIXED.has(kind) && await known(request, fact(kind, key.account, id)))) named.push([kind, id])
  }
  if (named.length === 0) return
  const stripe = request.server.stripe.client()
  // read at once, judged in the order named: the same request always fails on the same id
  const results = await Promise.allSettled(named.map(async ([kind, id]) => await CHECKS[kind](stripe, id, key)))
  named.forEach(([kind, id], i) => {
    const result = results[i]
    if (result === undefined) return
    if (result.status === 'rejected' && !missing(result.reason)) throw result.reason
    if (result.status === 'rejected' || !result.value) throw new UnknownObjectError(kind, id)
  })
  await keep(request, named.filter(([kind]) => FIXED.has(kind)).map(([kind, id]) => fact(kind, key.account, id)))
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

/** What a list route asks of one page: Stripe's cursor parameters. */
export interface PageRequest { limit: number, starting_after?: string, ending_before?: string }

/** One page as the caller may see it, and where the pages around it start. */
export interface Page<T> {
  data: T[]
  /** more objects in the direction asked (after the page, or before it with `ending_before`) */
  hasMore: boolean
  /** the cursors that continue: `starting_after` for the next page, `ending_before` for the previous */
  next?: string
  previous?: string
}

type Lister<T> = (page: { limit: number, starting_after?: string, ending_before?: string }) => Promise<Stripe.ApiList<T>>

/**
 * One page of a list. For a destination key, only its merchant's objects: Stripe's pages are read
 * until `limit` of them are found or SCAN_LIMIT objects were read, and the cursors continue from the
 * last object *read*, so a page shortened by the scan limit says `hasMore` instead of ending the
 * list early. For everyone else, Stripe's page as it is.
 */
export async function pageOwned<T extends { id: string, metadata?: Stripe.Metadata | null }> (
  request: FastifyRequest, kind: keyof typeof LISTED, list: Lister<T>, want: PageRequest
): Promise<Page<T>> {
  const key = request.merchant
  const backwards = want.ending_before !== undefined
  const cursor = backwards
    ? { ending_before: want.ending_before }
    : want.starting_after === undefined ? {} : { starting_after: want.starting_after }
  if (key?.charge.type !== 'destination') {
    const page = await list({ limit: want.limit, ...cursor })
    return bounds(page.data, page.has_more, backwards, want)
  }
  // cast: LISTED is indexed by kind, and T is that kind's object type
  const rule = LISTED[kind] as (key: NonNullable<FastifyRequest['merchant']>, o: T) => boolean
  const found: T[] = []
  let read = 0
  let at = backwards ? want.ending_before : want.starting_after
  let scanned: T | undefined
  for (;;) {
    const page = await list({ limit: 100, ...(at === undefined ? {} : backwards ? { ending_before: at } : { starting_after: at }) })
    // backwards, the objects nearest the cursor are at the end of Stripe's page
    const items = backwards ? [...page.data].reverse() : page.data
    for (const [i, item] of items.entries()) {
      scanned = item
      read++
      if (rule(key, item)) found.push(item)
      if (found.length >= want.limit || read >= SCAN_LIMIT) {
        const more = i < items.length - 1 || page.has_more
        return scanPage(found, more, backwards, scanned.id, want)
      }
    }
    if (!page.has_more || scanned === undefined) return scanPage(found, false, backwards, scanned?.id, want)
    at = scanned.id
  }
}

/** The cursors of an unfiltered page: its first and last objects. */
export function bounds<T extends { id: string }> (data: T[], hasMore: boolean, backwards: boolean, want: PageRequest): Page<T> {
  const first = data[0]?.id
  const last = data.at(-1)?.id
  const cursored = want.starting_after !== undefined || want.ending_before !== undefined
  return {
    data,
    hasMore,
    ...(last !== undefined && (backwards ? cursored : hasMore) ? { next: last } : {}),
    ...(first !== undefined && (backwards ? hasMore : cursored) ? { previous: first } : {})
  }
}

/** The cursors of a filtered page: from the last object read, which may lie beyond the last one shown. */
function scanPage<T extends { id: string }> (
  found: T[], hasMore: boolean, backwards: boolean, lastRead: string | undefined, want: PageRequest
): Page<T> {
  const data = backwards ? found.reverse() : found
  const cursored = want.starting_after !== undefined || want.ending_before !== undefined
  if (backwards) {
    const last = data.at(-1)?.id
    const previous = hasMore && lastRead !== undefined ? { previous: lastRead } : {}
    return { data, hasMore, ...previous, ...(last !== undefined ? { next: last } : {}) }
  }
  const first = data[0]?.id
  const next = hasMore && lastRead !== undefined ? { next: lastRead } : {}
  return { data, hasMore, ...next, ...(cursored && first !== undefined ? { previous: first } : {}) }
}
