import type Stripe from 'stripe'
import type { MerchantKey } from './merchant-keys.js'
import { idOf } from './values.js'

/**
 * Which objects on the platform account are a destination-charge merchant's. A direct-charge key
 * needs none of this: every call it makes carries `Stripe-Account`, and Stripe itself keeps one
 * account's objects from another. A destination key acts on the platform, where every merchant's
 * objects sit side by side, so before it acts on an object the service establishes that the object
 * is the key's merchant's, by these rules only.
 */

/** The metadata key the service stamps on the locations, readers and customers a destination key's till creates. */
export const OWNER_METADATA = 'merchant_account'

/** The kinds of object a Terminal route can name, with the name Stripe's "No such …" text uses. */
export const KINDS = {
  payment_intent: 'payment_intent',
  setup_intent: 'setup_intent',
  charge: 'charge',
  reader: 'terminal.reader',
  location: 'terminal.location',
  customer: 'customer',
  payment_method: 'payment_method'
} as const
export type Kind = keyof typeof KINDS

/** The text Stripe answers for an unknown id; a foreign object gets the same, so its existence is not told. */
export const noSuch = (kind: Kind, id: string): string => `No such ${KINDS[kind]}: '${id}'`

/** What the rules read, structurally: Stripe's objects, their deleted forms and expanded fields alike. */
interface Stamped { metadata?: Stripe.Metadata | null, deleted?: unknown }
interface ForAccount { transfer_data?: { destination?: unknown } | null, on_behalf_of?: unknown }
const stamped = (o: Stamped, account: string): boolean => o.deleted !== true && o.metadata?.[OWNER_METADATA] === account

/** A PaymentIntent is the merchant's when its funds go to the merchant or it settles on the merchant's behalf. */
export function ownsPaymentIntent (key: MerchantKey, pi: ForAccount): boolean {
  return idOf(pi.transfer_data?.destination) === key.account || idOf(pi.on_behalf_of) === key.account
}

/** A charge through its PaymentIntent (expanded), else by its own destination and on_behalf_of. */
export function ownsCharge (key: MerchantKey, charge: ForAccount & { payment_intent?: unknown }): boolean {
  const pi = charge.payment_intent
  if (pi !== null && typeof pi === 'object') return ownsPaymentIntent(key, pi)
  return ownsPaymentIntent(key, charge)
}

export function ownsSetupIntent (key: MerchantKey, si: ForAccount): boolean {
  return idOf(si.on_behalf_of) === key.account
}

/** A reader the key's till registered (stamped), or one at the location the key is bound to. */
export function ownsReader (key: MerchantKey, reader: Stamped & { location?: unknown }): boolean {
  if (reader.deleted === true) return false
  return stamped(reader, key.account) || (key.location !== null && idOf(reader.location) === key.location)
}

/** A location the key's till created (stamped), or the one the key is bound to. */
export function ownsLocation (key: MerchantKey, location: Stamped & { id: string }): boolean {
  if (location.deleted === true) return false
  return stamped(location, key.account) || location.id === key.location
}

export function ownsCustomer (key: MerchantKey, customer: Stamped): boolean {
  return stamped(customer, key.account)
}

/** A PaymentMethod (customer expanded) that is not attached, or attached to one of the merchant's customers. */
export function ownsPaymentMethod (key: MerchantKey, pm: { customer?: unknown }): boolean {
  const customer = pm.customer
  if (customer === null || customer === undefined) return true
  return typeof customer === 'object' && ownsCustomer(key, customer)
}

/** The parameters that stamp a new object for a destination key's merchant (nothing for other callers). */
export function stamp (key: MerchantKey | undefined): { metadata?: Record<string, string> } {
  return key?.charge.type === 'destination' ? { metadata: { [OWNER_METADATA]: key.account } } : {}
}
