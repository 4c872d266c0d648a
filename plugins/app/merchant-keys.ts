import fp from 'fastify-plugin'
import { hashKey, type MerchantKey } from '../../lib/merchant-keys.js'
import type { MerchantKeyStore } from '../../db/repos/merchant-keys.js'
import { errorFields } from '../../lib/values.js'

declare module 'fastify' {
  interface FastifyInstance {
    merchantKeys: MerchantKeyStore & {
      /** The live key presented, from a cache of at most CACHE_MS: no database read per request. */
      lookup: (key: string) => Promise<MerchantKey | undefined>
      /** The cached answer for a key, if any (for the rate limiter's bucket, which cannot wait). */
      peek: (key: string) => MerchantKey | undefined
    }
  }
}

/** A revoked key stops working on every replica within this (the promise is 5 s). */
const CACHE_MS = 2_000
/** `last_used_at` is written at most this often per key. */
const TOUCH_MS = 60_000

/**
 * Merchant keys (Connect platforms): each bound to one connected account. Looked up by hash,
 * through a short cache shared by the requests of this process, negative answers included.
 */
export default fp(async function merchantKeys (fastify) {
  const store = fastify.repos.merchantKeys
  const cache = new Map<string, { key: MerchantKey | undefined, until: number }>()
  const touched = new Map<string, number>()

  const lookup = async (presented: string): Promise<MerchantKey | undefined> => {
    const hash = hashKey(presented)
    const now = fastify.clock.now()
    const hit = cache.get(hash)
    let key = hit !== undefined && hit.until > now ? hit.key : undefined
    if (hit === undefined || hit.until <= now) {
      key = await store.find(hash)
      if (cache.size > 10_000) cache.clear()
      cache.set(hash, { key, until: now + CACHE_MS })
    }
    if (key !== undefined && now - (touched.get(key.id) ?? 0) > TOUCH_MS) {
      touched.set(key.id, now)
      store.touch(key.id).catch((err: unknown) => {
        fastify.log.warn({ err: { message: errorFields(err).message } }, 'could not record last_used_at')
      })
    }
    return key
  }

  fastify.decorate('merchantKeys', {
    ...store,
    lookup,
    peek (presented) {
      const hit = cache.get(hashKey(presented))
      return hit !== undefined && hit.until > fastify.clock.now() ? hit.key : undefined
    }
  })
}, { name: 'merchant-keys', dependencies: ['store'], fastify: '5.x' })
