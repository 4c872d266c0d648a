import fp from 'fastify-plugin'
import type { FastifyRequest, onRequestHookHandler } from 'fastify'
import { KeySet, bearerToken, presentedKey } from '../../lib/api-key.js'
import { commaList } from '../../lib/config.js'
import { fail } from '../../lib/errors.js'
import { KEY_PREFIX, type MerchantKey } from '../../lib/merchant-keys.js'
import { errorFields } from '../../lib/values.js'
import { gateOf } from './gate.js'

/**
 * The credentials a route area can accept. `platform`: a key of API_KEY (acts on the platform);
 * `merchant`: a merchant key (`stbk_…`, acts for its connected account: a till credential);
 * `admin`: a key of ADMIN_API_KEY; `metrics`: METRICS_TOKEN, or this host itself when no token is
 * set; `app-signature`: a Stripe Apps `Stripe-Signature` over the body (plugins/app/app-signature.ts).
 * (Webhooks take Stripe's webhook signature, checked in their route beside the flood guard that
 * needs its outcome: routes/webhooks/index.ts.)
 */
export type Credential = 'platform' | 'merchant' | 'admin' | 'metrics' | 'app-signature'

export interface Gate {
  accepts: readonly Credential[]
  /**
   * With `platform` accepted and no API_KEY configured: `open` lets callers without a key through
   * (the Terminal API in development, as the original), `refuse` answers 503 (areas that spend a
   * secret).
   */
  unconfigured?: 'open' | 'refuse'
}

declare module 'fastify' {
  interface FastifyInstance {
    credentials: {
      /** The onRequest hook of a key gate: 401 unless one of the keys it accepts is presented. */
      gate: (gate: Gate) => onRequestHookHandler
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

/** What an area that refuses merchant keys needs instead, in its 401. */
const NEEDS: Record<Credential, string> = {
  platform: 'the platform API key (API_KEY)',
  merchant: 'a merchant key',
  admin: 'an admin key (ADMIN_API_KEY)',
  metrics: 'the metrics token (METRICS_TOKEN)',
  'app-signature': 'a Stripe Apps signature (Stripe-Signature)'
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1'])

/** From this host itself, not relayed: a reverse proxy on the same host adds a forwarding header. */
const local = (request: FastifyRequest): boolean =>
  LOOPBACK.has(request.raw.socket.remoteAddress ?? '') &&
  request.headers['x-forwarded-for'] === undefined && request.headers.forwarded === undefined

/**
 * One mechanism for every area's credentials: each area declares what it accepts with
 * `register(requireCredentials, { accepts: [...] })`, and nothing else decides.
 * A merchant key is looked up only where merchant keys are accepted; elsewhere it is refused
 * before any cache is consulted.
 */
export default fp(async function credentials (fastify) {
  const platform = new KeySet(fastify.config.apiKeys)
  const admin = new KeySet(fastify.config.adminKeys)
  const metrics = new KeySet(commaList(fastify.config.METRICS_TOKEN))
  if (platform.size === 0) {
    fastify.log.warn('API_KEY is not set: the Terminal API is open to anyone who can reach it (development only)')
  }

  fastify.decorateRequest('apiKeyId', undefined)
  fastify.decorateRequest('merchant', undefined)

  /** the rate limiter asks before a merchant key is looked up: a cached answer, or the IP for now */
  const identify = (request: FastifyRequest): string | null => {
    if (request.apiKeyId !== undefined) return request.apiKeyId
    const key = presentedKey(request.headers)
    if (key?.startsWith(KEY_PREFIX) === true) {
      const merchant = request.merchant ?? fastify.merchantKeys.peek(key)
      return merchant === undefined ? null : `merchant:${merchant.id}`
    }
    const index = key === undefined ? -1 : platform.match(key)
    request.apiKeyId = platform.ids[index] ?? null
    return request.apiKeyId
  }

  const merchantKey = (key: string, request: FastifyRequest, done: (err?: Error) => void): void => {
    fastify.merchantKeys.lookup(key).then(merchant => {
      if (merchant === undefined) return done(fail.unauthenticated('Invalid API key.'))
      request.merchant = merchant
      request.apiKeyId = `merchant:${merchant.id}`
      done()
    }, err => {
      // the store cannot answer (a database outage): the till should retry, not see a 500
      request.log.warn({ err: { message: errorFields(err).message } }, 'merchant key lookup failed')
      done(fail.unavailable('Merchant keys cannot be checked right now; retry shortly.', 'merchant_keys_unavailable'))
    })
  }

  /** What an area that takes platform keys answers (the Terminal API's texts since the start). */
  const platformGate = (unconfigured: 'open' | 'refuse'): onRequestHookHandler => {
    // callback-style: no promise per request on the hot path
    return function platformKey (request, _reply, done) {
      const key = presentedKey(request.headers)
      if (key?.startsWith(KEY_PREFIX) === true) return merchantKey(key, request, done)
      if (platform.size === 0) {
        if (unconfigured === 'open') return done()
        return done(fail.unavailable('API_KEY is not configured: this area requires an API key in every mode.'))
      }
      if (identify(request) !== null) return done()
      done(fail.unauthenticated(key !== undefined
        ? 'Invalid API key.'
        : 'An API key is required: send it in the X-API-Key header or as Authorization: Bearer <key>.'))
    }
  }

  const adminGate: onRequestHookHandler = function adminKey (request, _reply, done) {
    if (admin.size === 0) {
      return done(fail.unavailable('The admin area is off: set ADMIN_API_KEY to enable it.', 'admin_disabled'))
    }
    const key = presentedKey(request.headers)
    if (key === undefined || admin.match(key) === -1) {
      const message = 'An admin key (ADMIN_API_KEY) is required: X-API-Key or Authorization: Bearer.'
      return done(fail.unauthenticated(message, 'admin_key_invalid'))
    }
    done()
  }

  const metricsGate: onRequestHookHandler = function metricsToken (request, _reply, done) {
    if (metrics.size > 0) {
      const token = bearerToken(request.headers)
      if (token === undefined || metrics.match(token) === -1) {
        return done(fail.unauthenticated('GET /metrics needs Authorization: Bearer <METRICS_TOKEN>.', null, 'metrics'))
      }
      return done()
    }
    if (local(request)) return done()
    done(fail.forbidden('GET /metrics answers this host only: set METRICS_TOKEN to scrape it from elsewhere.'))
  }

  const gateOf = (accepts: readonly Credential[], unconfigured: 'open' | 'refuse'): onRequestHookHandler => {
    if (accepts.includes('platform')) return platformGate(unconfigured)
    if (accepts.length === 1 && accepts[0] === 'admin') return adminGate
    if (accepts.length === 1 && accepts[0] === 'metrics') return metricsGate
    // a combination nothing uses yet: say so at boot rather than guess
    throw new Error(`credentials.gate: no gate accepts ${accepts.join(' and ')}`)
  }

  fastify.decorate('credentials', {
    gate ({ accepts, unconfigured = 'refuse' }) {
      const gate = gateOf(accepts, unconfigured)
      if (accepts.includes('merchant')) return gate
      // A merchant key is a till's: refused here whatever any cache holds, naming what this area needs.
      const message = `This area needs ${NEEDS[accepts[0] ?? 'platform']}: a merchant key works on the Terminal API only.`
      return function noMerchantKeys (request, reply, done) {
        if (presentedKey(request.headers)?.startsWith(KEY_PREFIX) === true) {
          return done(fail.unauthenticated(message, 'merchant_key_not_allowed'))
        }
        gate.call(this, request, reply, done)
      }
    },
    bucket (request) {
      const id = identify(request)
      return id === null ? `ip:${request.ip}` : `key:${id}`
    }
  })
}, { name: 'credentials', dependencies: ['config', 'merchant-keys'], fastify: '5.x' })

/**
 * An area's declaration of the credentials it accepts, registered inside the area (it applies to
 * that area only): keys are checked in the area's onRequest gate (plugins/app/gate.ts), before the
 * body is read; a Stripe Apps signature at preValidation, over the body it signs.
 */
export const requireCredentials = fp<Gate>(async function requireCredentials (fastify, gate) {
  if (gate.accepts.includes('app-signature')) {
    if (gate.accepts.length > 1) throw new Error('requireCredentials: a signed area accepts the signature alone')
    fastify.addHook('preValidation', fastify.appSignature.verify)
    return
  }
  const check = fastify.credentials.gate(gate)
  ;(await gateOf(fastify)).onRequest.push((request, reply, done) => { check.call(fastify, request, reply, done) })
}, { name: 'require-credentials', dependencies: ['credentials'], fastify: '5.x' })
