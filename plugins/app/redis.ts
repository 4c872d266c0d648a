import fp from 'fastify-plugin'
import { Redis } from 'ioredis'

declare module 'fastify' {
  interface FastifyInstance {
    /** the shared Redis client when REDIS_URL is set */
    redis: Redis | null
  }
}

/** One Redis client for the rate-limit store and the readiness check. */
export default fp(async function redis (fastify) {
  const url = fastify.config.REDIS_URL
  if (url === undefined) {
    fastify.decorate('redis', null)
    return
  }
  // Short timeouts and one retry per command: a rate limiter must not hang requests (see README).
  const client = new Redis(url, { connectTimeout: 500, maxRetriesPerRequest: 1, enableOfflineQueue: true, lazyConnect: false })
  client.on('error', err => { fastify.log.warn({ err: { message: err.message } }, 'redis error') })
  fastify.decorate('redis', client)
  fastify.addHook('onClose', async () => { client.disconnect() })
}, { name: 'redis', dependencies: ['config'], fastify: '5.x' })
