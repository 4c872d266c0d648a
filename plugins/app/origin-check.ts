import type { onRequestHookHandler } from 'fastify'
import { HttpError } from '../../lib/errors.js'

/**
 * An onRequest hook for an area with a CORS allowlist: a request whose `Origin` is present and not
 * listed is refused 403 before anything runs. CORS alone only hides the answer from the page; a
 * plain form POST needs no preflight and would still move money. Requests without `Origin`
 * (native apps, curl) are unaffected. Not a plugin: each area adds it after its CORS registration.
 */
export function refuseForeignOrigins (allowed: '*' | string[]): onRequestHookHandler | undefined {
  if (allowed === '*') return undefined
  const origins = new Set(allowed)
  return (request, _reply, done) => {
    const origin = request.headers.origin
    if (origin === undefined || origins.has(origin)) return done()
    const message = `Origin ${origin.slice(0, 100)} is not allowed to call this API (ALLOWED_ORIGINS).`
    done(new HttpError(403, message, 'invalid_request_error', 'origin_not_allowed'))
  }
}
