import fp from 'fastify-plugin'
import helmet from '@fastify/helmet'

/**
 * Security headers on every response. HSTS only in production (it would pin a developer's
 * localhost to HTTPS). `upgrade-insecure-requests` is dropped: on plain HTTP it blanks Swagger UI
 * (fastify-swagger#690) and it means nothing to a JSON API.
 */
export default fp(async function helmetPlugin (fastify) {
  await fastify.register(helmet, {
    global: true,
    hsts: fastify.config.production ? { maxAge: 31536000, includeSubDomains: true } : false,
    contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } }
  })
}, { name: 'helmet', dependencies: ['config'], fastify: '5.x' })
