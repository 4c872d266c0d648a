import cors, { type FastifyCorsOptions } from '@fastify/cors'
import fp from 'fastify-plugin'
import { fail } from '../../lib/errors.js'
import { gateOf } from './gate.js'

/** What an area lets a browser send and read; the origin is the policy's, not the area's. */
export type OriginsOptions = Pick<FastifyCorsOptions, 'methods' | 'allowedHeaders' | 'exposedHeaders' | 'optionsSuccessStatus'>

/**
 * The CORS policy of an area that browsers on listed origins may call (ALLOWED_ORIGINS, or `*`):
 * `@fastify/cors` with that list, and a request whose `Origin` is present and not listed refused
 * 403 before anything runs. CORS alone only hides the answer from the page; a plain form POST needs
 * no preflight and would still move money. Requests without `Origin` (native apps, curl) are
 * unaffected. Registered inside an area, it applies to that area only.
 */
export const strictOrigins = fp<OriginsOptions>(async function strictOrigins (fastify, opts) {
  const allowed = fastify.config.allowedOrigins
  await fastify.register(cors, { ...opts, origin: allowed, maxAge: 600 })
  if (allowed === '*') return
  const origins = new Set(allowed)
  ;(await gateOf(fastify)).onRequest.push((request, _reply, done) => {
    const origin = request.headers.origin
    if (origin === undefined || origins.has(origin)) return done()
    const message = `Origin ${origin.slice(0, 100)} is not allowed to call this API (ALLOWED_ORIGINS).`
    done(fail.forbidden(message, 'origin_not_allowed', 'invalid_request_error'))
  })
}, { name: 'strict-origins', dependencies: ['config'], fastify: '5.x' })

/**
 * The CORS policy of the Stripe Apps area: UI extensions run sandboxed, so their origin is `null`.
 * `*` without credentials is the only policy that works there; the signature, not the origin,
 * authenticates.
 */
export const extensionOrigins = fp<OriginsOptions>(async function extensionOrigins (fastify, opts) {
  await fastify.register(cors, { ...opts, origin: '*', credentials: false, maxAge: 600 })
}, { name: 'extension-origins', fastify: '5.x' })
