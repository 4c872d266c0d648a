import fp from 'fastify-plugin'
import rateLimit, { type FastifyRateLimitStore } from '@fastify/rate-limit'
import type { SharedRedis } from '../app/redis.js'
import LocalStore from '@fastify/rate-limit/store/LocalStore.js'
import RedisStore from '@fastify/rate-limit/store/RedisStore.js'
import type { RateLimitResult } from '@fastify/rate-limit/store/LocalStore.js'

type Callback = (err: Error | null, res?: RateLimitResult) => void

/**
 * Buckets in Redis while it answers, in this process's memory the moment it does not: a Redis
 * outage must not stall tills (ioredis would queue each command through its reconnect backoff, and
 * a hung Redis makes each wait its timeout) nor lift the limits. The first failed command opens the
 * breaker; each replica then limits on its own until Redis is back.
 */
function failoverStore ({ client, breaker }: SharedRedis) {
  interface Pair { shared: RedisStore, local: LocalStore }
  return class FailoverStore {
    readonly stores: Pair
    constructor (options: { continueExceeding?: boolean, exponentialBackoff?: boolean }, stores?: Pair) {
      const { continueExceeding = false, exponentialBackoff = false } = options
      this.stores = stores ?? {
        shared: new RedisStore(continueExceeding, exponentialBackoff, client, 'stb-rl-'),
        local: new LocalStore(continueExceeding, exponentialBackoff, 5000)
      }
    }

    incr (key: string, cb: Callback, timeWindow: number, max: number): void {
      const { shared, local } = this.stores
      if (client.status !== 'ready' || !breaker.usable()) return local.incr(key, cb, timeWindow, max)
      shared.incr(key, (err, res) => {
        if (err === null) return cb(null, res)
        breaker.failed(err)
        local.incr(key, cb, timeWindow, max)
      }, timeWindow, max)
    }

    child (routeOptions: Parameters<FastifyRateLimitStore['child']>[0]): FailoverStore {
      return new FailoverStore({}, { shared: this.stores.shared.child(routeOptions), local: this.stores.local.child(routeOptions) })
    }
  }
}

/**
 * Registered once with `global: false`: each area adds `fastify.rateLimit()` to its own hooks, so
 * webhooks, health and preflights stay unlimited. Buckets live in Redis when REDIS_URL is set, so
 * replicas share them.
 */
export default fp(async function rateLimitPlugin (fastify) {
  const { redis } = fastify
  await fastify.register(rateLimit, {
    global: false,
    max: fastify.config.RATE_LIMIT_MAX,
    timeWindow: fastify.config.RATE_LIMIT_WINDOW,
    ...(redis === null ? {} : { store: failoverStore(redis) }),
    keyGenerator: request => fastify.credentials.bucket(request),
    onExceeded: request => { fastify.metrics.rateLimited(request) },
    errorResponseBuilder: (_request, context) => ({
      statusCode: 429,
      error: { type: 'rate_limit_error', message: `Too many requests: at most ${context.max} per ${context.after}. Retry later.` }
    })
  })
}, { name: 'rate-limit', dependencies: ['config', 'redis', 'credentials', 'metrics'], fastify: '5.x' })
