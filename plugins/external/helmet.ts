import type { IncomingMessage, ServerResponse } from 'node:http'
import fp from 'fastify-plugin'
import helmet, { type HelmetOptions } from 'helmet'

/**
 * The headers helmet would set, computed once. They depend only on the options (no per-request
 * nonces here), so each response gets the same object through `reply.headers`, which Fastify
 * writes with the rest in one go. @fastify/helmet instead rebuilds helmet's middleware on every
 * request: the largest avoidable cost the benchmark found (bench/README.md).
 */
export function helmetHeaders (options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {}
  const res = {
    setHeader (name: string, value: string | number) { headers[name.toLowerCase()] = String(value) },
    removeHeader () {}
  }
  // casts: helmet only calls setHeader on the response; `res` records what it sets
  helmet(options)({} as IncomingMessage, res as unknown as ServerResponse, () => {})
  return headers
}

/**
 * Security headers on every response. HSTS only in production (it would pin a developer's
 * localhost to HTTPS). The API answers JSON and text, never pages, so its CSP forbids everything;
 * the docs scope sets its own (plugins/external/swagger.ts).
 */
export default fp(async function helmetPlugin (fastify) {
  const headers = helmetHeaders({
    strictTransportSecurity: fastify.config.production ? { maxAge: 31536000, includeSubDomains: true } : false,
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } }
  })
  fastify.addHook('onRequest', (_request, reply, done) => {
    reply.headers(headers)
    done()
  })
}, { name: 'helmet', dependencies: ['config'], fastify: '5.x' })
