import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'

/** The OpenAPI document comes from the route schemas; registered before any route. */
export default fp(async function swaggerPlugin (fastify) {
  await fastify.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Stripe Terminal backend',
        description: 'Terminal API (drop-in for Stripe\'s example backend), Stripe Apps API, webhooks and a Stripe API proxy.',
        version: '1.0.0'
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
    await fastify.register(swaggerUi, { routePrefix: '/docs', logLevel: 'warn' })
  }
}, { name: 'swagger', dependencies: ['config'], fastify: '5.x' })
