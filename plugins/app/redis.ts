import fp from 'fastify-plugin'
import type { Redis } from 'ioredis'
import { CircuitBreaker } from '../../lib/circuit-breaker.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** the shared Redis client and its circuit breaker, when REDIS_URL is set */
    redis: SharedRedis | null
  }
}

export interface SharedRedis {
  client: Redis
  /** open while Redis fails or hangs: callers skip it at once (lib/circuit-breaker.ts) */
  breaker: CircuitBreaker
}

/**
 * One Redis client for the rate-limit store and the readiness check. Redis is an optimisation
 * here (shared buckets), never a dependency of a payment: while it is away — down, or hung with its
 * connection still open, where every command would wait out its timeout — the breaker is open,
 * nothing waits on it, the rate limiter counts in this process, and one warn line says so per
 * outage. ioredis reconnects by itself; a ping every second (started by a request) or the
 * reconnection closes the breaker.
 */
export default fp(async function redis (fastify) {
  const url = fastify.config.REDIS_URL
  if (url === undefined) {
    fastify.decorate('redis', null)
    return
  }
  // loaded only when configured: a single replica does not pay for the driver at start-up
  const { Redis } = await import('ioredis')
  const client = new Redis(url, {
    connectTimeout: 500,
    commandTimeout: 250,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    lazyConnect: false
  })
  let closing = false
  const breaker = new CircuitBreaker(() => client.ping(), {
    opened: err => {
      fastify.log.warn({ err: { message: err.message } }, 'Redis unreachable: rate limits are counted per process until it is back')
    },
    closed: () => { fastify.log.info('Redis reachable again: rate limits are shared again') }
  }, 1_000, () => fastify.clock.now())
  client.on('error', (err: Error) => { if (!closing) breaker.failed(err) })
  client.on('close', () => { if (!closing) breaker.failed(new Error('connection closed')) })
  client.on('ready', () => { breaker.close() })
  // give the first connection a moment, so buckets are shared from the first request; never block the boot on it
  await new Promise<void>(resolve => {
    const timer = setTimeout(resolve, 1000)
    const done = () => { clearTimeout(timer); client.off('ready', done); client.off('error', done); resolve() }
    client.once('ready', done).once('error', done)
  })
  fastify.decorate('redis', { client, breaker })
  fastify.addHook('onClose', async () => {
    closing = true
    client.disconnect()
  })
}, { name: 'redis', dependencies: ['config'], fastify: '5.x' })
