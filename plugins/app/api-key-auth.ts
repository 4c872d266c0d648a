import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify'
import { KeySet, presentedKey } from '../../lib/api-key.js'
import { HttpError, errorBody } from '../../lib/errors.js'
import { KEY_PREFIX, type MerchantKey } from '../../lib/merchant-keys.js'

declare module 'fastify' {
  interface FastifyInstance {
    apiKeys: {
      /**
       * onRequest hook: 401 unless a configured key or a live merchant key is presented (open when
       * no key is configured and none is presented); a merchant key sets `request.merchant`
       */
      require: onRequestHookHandler
      /** onRequest hook: like `require`, but 503 when no key is configured (areas that spend a secret) */
      requireConfigured: onRequestHookHandler
      /** the rate-limit bucket of a request: its valid key's fingerprint, else its IP */
      bucket: (request: FastifyRequest) => string
    }
  }
  interface FastifyRequest {
    /** fingerprint of the valid API key presented, null when none (computed once per request) */
    apiKeyId: string | null | undefined
    /** the merchant key presented: every Stripe call acts for its account */
    merchant: MerchantKey | undefined
  }
}

function unauthorized (reply: FastifyReply, message: string): FastifyReply {
  return reply.code(401)
    .header('www-authenticate', 'Bearer realm="api", charset="UTF-8"')
    .send(errorBody({ type: 'authentication_error', message }))
}

/** API-key authentication that a route area opts into with `addHook('onRequest', fastify.apiKeys.require)`. */
export default fp(async function apiKeyAuth (fastify) {
  const keys = new KeySet(fastify.config.apiKeys)
  const configured = keys.size > 0
  if (!configured) {
    fastify.log.warn('API_KEY is not set: the Terminal API is open to anyone who can reach it (development only)')
  }

  fastify.decorateRequest('apiKeyId', undefined)
  fastify.decorateRequest('merchant', undefined)

  const identify = (request: FastifyRequest): string | null => {
    if (request.apiKeyId !== undefined) return request.apiKeyId
    const key = presentedKey(request.headers)
    if (key?.startsWith(KEY_PREFIX) === true) {
      // the rate limiter asks before the key is looked up: a cached answer, or the IP for now
      const merchant = request.merchant ?? fastify.merchantKeys.peek(key)
      return merchant === undefined ? null : (request.apiKeyId = `merchant:${merchant.id}`)
    }
    const index = key === undefined ? -1 : keys.match(key)
    request.apiKeyId = index === -1 ? null : keys.ids[index]!
    return request.apiKeyId
  }

  // Callback-style hooks (no promise per request): `done()` lets the request through; after a
  // reply has been sent, `done` is not called.
  const check = (request: FastifyRequest, reply: FastifyReply, done: () => void): void => {
    if (identify(request) !== null) return done()
    const present = presentedKey(request.headers) !== undefined
    unauthorized(reply, present
      ? 'Invalid API key.'
      : 'An API key is required: send it in the X-API-Key header or as Authorization: Bearer <key>.')
  }

  fastify.decorate('apiKeys', {
    require (request, reply, done) {
      const key = presentedKey(request.headers)
      if (key?.startsWith(KEY_PREFIX) === true) {
        fastify.merchantKeys.lookup(key).then(merchant => {
          if (merchant === undefined) return unauthorized(reply, 'Invalid API key.')
          request.merchant = merchant
          request.apiKeyId = `merchant:${merchant.id}`
          done()
        }, err => {
          // the store cannot answer (a database outage): the till should retry, not see a 500
          request.log.warn({ err: { message: (err as Error).message } }, 'merchant key lookup failed')
          done(new HttpError(503, 'Merchant keys cannot be checked right now; retry shortly.', 'api_error', 'merchant_keys_unavailable'))
        })
        return
      }
      if (!configured) return done()
      check(request, reply, done)
    },
    requireConfigured (request, reply, done) {
      if (!configured) {
        const message = 'API_KEY is not configured: this area requires an API key in every mode.'
        reply.code(503).send(errorBody({ type: 'api_error', message }))
        return
      }
      check(request, reply, done)
    },
    bucket (request) {
      const id = identify(request)
      return id === null ? `ip:${request.ip}` : `key:${id}`
    }
  })
}, { name: 'api-key-auth', dependencies: ['config', 'merchant-keys'], fastify: '5.x' })
