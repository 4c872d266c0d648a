import { hash, timingSafeEqual } from 'node:crypto'

// one-shot hash (Node ≥ 20.12): cheaper than createHash().update().digest() on every request
const digest = (value: string): Buffer => hash('sha256', value, 'buffer')

/**
 * Compares a presented key with every configured key in constant time. Comparing SHA-256 digests
 * keeps the time independent of both keys' lengths; every configured key is checked (no early
 * exit) so the time does not tell which one matched. Returns the index of the match, or -1.
 */
export function matchKey (presented: string, keys: readonly Buffer[]): number {
  const candidate = digest(presented)
  let found = -1
  for (let i = 0; i < keys.length; i++) {
    if (timingSafeEqual(candidate, keys[i]!) && found === -1) found = i
  }
  return found
}

export const digestKeys = (keys: readonly string[]): Buffer[] => keys.map(digest)

type Headers = Record<string, string | string[] | undefined>

/** The token of `Authorization: Bearer …`, if that is what the header holds. */
export function bearerToken (headers: Headers): string | undefined {
  const auth = headers.authorization
  return typeof auth === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(auth)?.[1] : undefined
}

/** Reads the key from `X-API-Key` or `Authorization: Bearer …`; never from the query string. */
export function presentedKey (headers: Headers): string | undefined {
  const x = headers['x-api-key']
  if (typeof x === 'string' && x !== '') return x
  return bearerToken(headers)
}
