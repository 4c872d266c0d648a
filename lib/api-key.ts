import { hash, timingSafeEqual } from 'node:crypto'

/**
 * Configured keys, compared with a presented one in constant time without hashing it: each key
 * is kept as a zero-padded copy of one fixed width, the presented key is written into a scratch
 * buffer of that width, and every copy is compared (no early exit, so the time does not tell
 * which matched) along with the byte length. A key longer than the longest configured one is
 * refused at once: that tells only what the key's own length already does. The SHA-256 runs once
 * per key, at boot, for the ids that logs and rate limits use.
 */
export class KeySet {
  /** a fingerprint per key (hex, 16 characters), in configuration order */
  readonly ids: readonly string[]
  private readonly width: number
  private readonly copies: Buffer[]
  private readonly lengths: number[]
  private readonly scratch: Buffer

  constructor (keys: readonly string[]) {
    this.ids = keys.map(k => hash('sha256', k, 'hex').slice(0, 16))
    this.lengths = keys.map(k => Buffer.byteLength(k))
    this.width = Math.max(0, ...this.lengths)
    this.copies = keys.map(k => { const b = Buffer.alloc(this.width); b.write(k); return b })
    this.scratch = Buffer.alloc(this.width)
  }

  get size (): number {
    return this.copies.length
  }

  /** the index of the configured key presented, or -1 */
  match (presented: string): number {
    const length = Buffer.byteLength(presented)
    if (length > this.width || this.copies.length === 0) return -1
    // synchronous from write to compare: no other request can use the scratch buffer meanwhile
    this.scratch.fill(0, this.scratch.write(presented))
    let found = -1
    this.copies.forEach((copy, i) => {
      const same = timingSafeEqual(this.scratch, copy)
      if (same && length === this.lengths[i] && found === -1) found = i
    })
    return found
  }
}

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
