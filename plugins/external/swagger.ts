import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { VERSION } from '../../lib/version.js'

/** The OpenAPI document comes from the route schemas; registered before any route. */
export default fp(async function swaggerPlugin (fastify) {
  await fastify.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Stripe Terminal backend',
        description: 'Terminal API (drop-in for Stripe\'s example backend), Stripe Apps API, webhooks and a Stripe API proxy.',
        version: VERSION
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
          bearer: { type: 'http', scheme: 'bearer' },
          stripeSignature: { type: 'apiKey', in: 'header', name: 'Stripe-Signature' }
        }
      }
    }
  })
  if (fastify.config.docsEnabled) {
    // Swagger UI is a page: it gets a CSP that lets it load its own scripts and styles, without
    // upgrade-insecure-requests, which blanks it over plain HTTP (fastify-swagger#690).
    const csp = [
      "default-src 'self'", "img-src 'self' data: validator.swagger.io", "style-src 'self' 'unsafe-inline'", "script-src 'self'",
      "frame-ancestors 'none'", "object-src 'none'", "base-uri 'self'"
    ].join('; ')
    await fastify.register(swaggerUi, {
      routePrefix: '/docs',
      logLevel: 'warn',
      uiHooks: { onRequest: async (_request, reply) => { reply.header('content-security-policy', csp) } }
    })
  }
}, { name: 'swagger', dependencies: ['config'], fastify: '5.x' })
