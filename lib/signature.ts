import Stripe from 'stripe'
import { errorFields } from './values.js'

/** Stripe's tolerance for a signature's timestamp, for webhooks and Apps requests alike. */
export const TOLERANCE_SECONDS = 300

/**
 * The Stripe-Signature header as one string, or undefined. Node joins repeated headers with ", ",
 * so a header that carries two timestamps was sent twice (or forged): refused, as an array would be.
 */
export function signatureHeader (value: string | string[] | undefined): string | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined
  if ((value.match(/(^|,)\s*t=/g) ?? []).length > 1) return undefined
  return value
}

/** The header's `t=` (Unix seconds), or undefined when it has none. */
export function signatureTimestamp (header: string): number | undefined {
  const t = Number(/(?:^|,)\s*t=(\d{1,12})(?:,|$)/.exec(header)?.[1])
  return Number.isFinite(t) ? t : undefined
}

/**
 * Verifies `header` over the exact `payload` with stripe-node's own check, against each secret in
 * turn (during a rotation Stripe signs with both). Undefined when one matches; else the first line
 * of stripe-node's reason (never a secret).
 */
export function signatureProblem (payload: string | Buffer, header: string, secrets: readonly string[]): string | undefined {
  let reason = 'no secret matched'
  for (const secret of secrets) {
    try {
      // non-null: stripe-node always defines webhooks.signature; its types mark it optional
      if (Stripe.webhooks.signature!.verifyHeader(payload, header, secret, TOLERANCE_SECONDS)) return undefined
    } catch (err) {
      reason = errorFields(err).message.split('\n', 1)[0] ?? ''
    }
  }
  return reason
}
