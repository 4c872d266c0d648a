import { createHash } from 'node:crypto'

/** 1 to 255 printable ASCII characters, as Stripe accepts them. */
const VALID = /^[\x20-\x7e]{1,255}$/

/** The caller's `Idempotency-Key`: undefined when absent, null when malformed. */
export function idempotencyHeader (value: string | string[] | undefined): string | undefined | null {
  if (value === undefined) return undefined
  return typeof value === 'string' && VALID.test(value) ? value : null
}

/**
 * The key a Stripe call carries, derived from who is calling, the key they sent and which call
 * of which route this is: the same caller repeating the same key gets the same Stripe key (Stripe
 * replays its first answer: no second PaymentIntent), two callers' equal keys never meet, and a
 * route that makes two calls gives each its own.
 */
export function stripeIdempotencyKey (caller: string, header: string, call: string): string {
  return `stb-${createHash('sha256').update(`${caller}\n${call}\n${header}`).digest('hex')}`
}
