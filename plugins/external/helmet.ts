import fp from 'fastify-plugin'
import helmet from 'helmet'

/**
 * Security headers on every response, from helmet itself. helmet's middleware is built once here:
 * @fastify/helmet rebuilds it on every request, which cost more CPU per request than the rest of
 * this service's hooks together (bench/README.md).
 *
 * HSTS only in production (it would pin a developer's localhost to HTTPS). The API answers JSON
 * and text, never pages, so its CSP forbids everything; the docs scope sets its own
 * (plugins/external/swagger.ts).
 */
export default fp(async function helmetPlugin (fastify) {
  const headers = helmet({
    strictTransportSecurity: fastify.config.production ? { maxAge: 31536000, includeSubDomains: true } : false,
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } }
  })
  fastify.addHook('onRequest', (request, reply, done) => {
    headers(request.raw, reply.raw, err => { done(err as Error | undefined) })
  })
}, { name: 'helmet', dependencies: ['config'], fastify: '5.x' })
