/**
 * Reading values whose type nothing vouches for — parsed JSON, thrown errors, Stripe's expandable
 * fields — by checking them, so the code that uses them needs no cast.
 */

/** A plain object (not null, not an array) */
export const isRecord = (v: unknown): v is Record<string, unknown> =>
  (typeof v === 'object' || typeof v === 'function') && v !== null && !Array.isArray(v)

/** The field `key` of `v` when `v` is an object, else undefined */
export const field = (v: unknown, key: string): unknown => isRecord(v) ? v[key] : undefined

/** The field `key` of `v` when it is a string */
export const stringField = (v: unknown, key: string): string | undefined => {
  const f = field(v, key)
  return typeof f === 'string' ? f : undefined
}

/** An id, or an expanded object's id (Stripe's expandable fields) */
export const idOf = (v: unknown): string | null => typeof v === 'string' ? v : stringField(v, 'id') ?? null

/** What a thrown value says about itself: its message and code when it has them (anything can be thrown). */
export function errorFields (err: unknown): { message: string, code: string | undefined, statusCode: number | undefined } {
  const message = err instanceof Error ? err.message : stringField(err, 'message') ?? String(err)
  const status = field(err, 'statusCode')
  return { message, code: stringField(err, 'code'), statusCode: typeof status === 'number' ? status : undefined }
}
