import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { KeySet, bearerToken } from '../../lib/api-key.js'
import { commaList } from '../../lib/config.js'
import { errorBody } from '../../lib/errors.js'

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1'])

/** From this host itself, not relayed: a reverse proxy on the same host adds a forwarding header. */
const direct = (request: FastifyRequest): boolean =>
  LOOPBACK.has(request.raw.socket.remoteAddress ?? '') &&
  request.headers['x-forwarded-for'] === undefined && request.headers.forwarded === undefined

/**
 * GET /metrics in Prometheus's text format: with METRICS_TOKEN set, for `Authorization: Bearer
 * <token>` only; without it, for callers on this host only. Never rate limited (a scraper must not
 * be refused by the limit it watches), no CORS, hidden from the public docs.
 */
const metrics: FastifyPluginAsync = async (fastify) => {
  const tokens = new KeySet(commaList(fastify.config.METRICS_TOKEN))
  const { registry } = fastify.metrics

  fastify.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
    if (tokens.size > 0) {
      const token = bearerToken(request.headers)
      if (token === undefined || tokens.match(token) === -1) {
        return reply.code(401).header('www-authenticate', 'Bearer realm="metrics"')
          .send(errorBody({ type: 'authentication_error', message: 'GET /metrics needs Authorization: Bearer <METRICS_TOKEN>.' }))
      }
    } else if (!direct(request)) {
      return reply.code(403).send(errorBody({
        type: 'permission_error',
        message: 'GET /metrics answers this host only: set METRICS_TOKEN to scrape it from elsewhere.'
      }))
    }
    return reply.type(registry.contentType).send(await registry.metrics())
  })
}

export default metrics
