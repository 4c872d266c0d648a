import { hash } from 'node:crypto'

/** Merchant keys start with this, so secret scanners (and people) recognise a leaked one. */
export const KEY_PREFIX = 'stbk_'

export interface Charge {
  type: 'direct' | 'destination'
  application_fee_amount?: number
  application_fee_percent?: number
  /** destination charges: who pays for a refund, the merchant (default: the transfer is reversed) or the platform */
  refunds?: 'merchant' | 'platform'
}

export interface MerchantKey {
  id: string
  account: string
  label: string
  location: string | null
  charge: Charge
  created_at: string
  last_used_at: string | null
  revoked_at: string | null
}

// one-shot hash, as lib/api-key.ts: it runs on every merchant-key request
export const hashKey = (key: string): string => hash('sha256', key, 'hex')

/**
 * The application fee of a PaymentIntent of `amount` (minor units): the fixed amount, or the
 * percentage rounded down to the minor unit; undefined when there is none.
 */
export function applicationFee (charge: Charge, amount: number): number | undefined {
  if (charge.application_fee_amount !== undefined) return charge.application_fee_amount
  const percent = charge.application_fee_percent
  if (percent !== undefined && Number.isFinite(amount)) return Math.floor(amount * percent / 100)
  return undefined
}
