import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'

/**
 * Registered once with `global: false`: each area adds `fastify.rateLimit()` to its own hooks, so
 * webhooks, health and preflights stay unlimited. Buckets live in Redis when REDIS_URL is set, so
 * replicas share them.
 */
export default fp(async function rateLimitPlugin (fastify) {
  await fastify.register(rateLimit, {
    global: false,
    max: fastify.config.RATE_LIMIT_MAX,
    timeWindow: fastify.config.RATE_LIMIT_WINDOW,
    ...(fastify.redis === null ? {} : { redis: fastify.redis, nameSpace: 'stb-rl-' }),
    // Fail open when Redis is down: a till must still take payments.
    skipOnError: true,
    keyGenerator: request => fastify.apiKeys.bucket(request),
    errorResponseBuilder: (_request, context) => ({
      statusCode: 429,
      error: { type: 'rate_limit_error', message: `Too many requests: at most ${context.max} per ${context.after}. Retry later.` }
    })
  })
}, { name: 'rate-limit', dependencies: ['config', 'redis', 'api-key-auth'], fastify: '5.x' })
