import type { FastifyPluginAsync } from 'fastify'
import { requireCredentials } from '../../plugins/app/credentials.js'

/**
 * GET /metrics in Prometheus's text format: with METRICS_TOKEN set, for `Authorization: Bearer
 * <token>` only; without it, for callers on this host only (the `metrics` credential). Never rate
 * limited (a scraper must not be refused by the limit it watches), no CORS, hidden from the docs.
 */
const metrics: FastifyPluginAsync = async (fastify) => {
  const { registry } = fastify.metrics
  await fastify.register(requireCredentials, { accepts: ['metrics'] })
  fastify.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    return reply.type(registry.contentType).send(await registry.metrics())
  })
}

export default metrics
