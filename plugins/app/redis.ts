import fp from 'fastify-plugin'
import type { Redis } from 'ioredis'

declare module 'fastify' {
  interface FastifyInstance {
    /** the shared Redis client when REDIS_URL is set */
    redis: Redis | null
  }
}

/**
 * One Redis client for the rate-limit store and the readiness check. Redis is an optimisation
 * here (shared buckets), never a dependency of a payment: while it is away, commands fail at once
 * instead of queueing through the reconnect backoff, the rate limiter counts in this process, and
 * one warn line says so per outage. ioredis reconnects by itself.
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
  let down = false
  let closing = false
  const outage = (err?: Error) => {
    if (down || closing) return
    down = true
    const message = err?.message ?? 'connection closed'
    fastify.log.warn({ err: { message } }, 'Redis unreachable: rate limits are counted per process until it is back')
  }
  client.on('error', outage)
  client.on('close', () => { outage() })
  client.on('ready', () => {
    if (!down) return
    down = false
    fastify.log.info('Redis reachable again: rate limits are shared again')
  })
  // give the first connection a moment, so buckets are shared from the first request; never block the boot on it
  await new Promise<void>(resolve => {
    const timer = setTimeout(resolve, 1000)
    const done = () => { clearTimeout(timer); client.off('ready', done); client.off('error', done); resolve() }
    client.once('ready', done).once('error', done)
  })
  fastify.decorate('redis', client)
  fastify.addHook('onClose', async () => {
    closing = true
    client.disconnect()
  })
}, { name: 'redis', dependencies: ['config'], fastify: '5.x' })
