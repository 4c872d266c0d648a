/**
 * The Stripe-Signature header as one string, or undefined. Node joins repeated headers with ", ",
 * so a header that carries two timestamps was sent twice (or forged): refused, as an array would be.
 */
export function signatureHeader (value: string | string[] | undefined): string | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined
  if ((value.match(/(^|,)\s*t=/g) ?? []).length > 1) return undefined
  return value
}
