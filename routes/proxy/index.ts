import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { Agent, request as upstream, errors } from 'undici'
import { allowed, safeUpstreamPath } from './config.js'
import { describeError, errorBody, fail, logOutcome, type HttpError } from '../../lib/errors.js'
import { drainCutOffMs } from '../../lib/config.js'
import { maskSecrets } from '../../lib/redact.js'
import { rawBody } from '../../plugins/app/bodies.js'
import { strictOrigins } from '../../plugins/app/cors.js'
import { requireCredentials } from '../../plugins/app/credentials.js'
import { errorFields, field, stringField } from '../../lib/values.js'
import { rateLimited } from '../../plugins/app/gate.js'

/** Request headers a caller may send upstream; everything else (Authorization, Cookie, X-API-Key, Host, hop-by-hop) stays here. */
const FORWARDED = ['idempotency-key', 'stripe-version', 'content-type', 'accept']
/**
 * Response headers passed back: what describes the answer (its body, caching, paging, retrying)
 * and Stripe's own. Nothing else, as on the way up: an upstream's CORS (Stripe sends
 * `Access-Control-Allow-Origin: *` with credentials), its HSTS, CSP or `Clear-Site-Data`, its rate
 * limit or request id would override this service's own for this service's origin; cookies and
 * hop-by-hop headers are the upstream's; the length is the stream's.
 */
const PASSED_BACK = new Set([
  'content-type', 'content-encoding', 'content-language', 'content-disposition',
  'cache-control', 'expires', 'etag', 'last-modified', 'link', 'location', 'retry-after',
  'request-id', 'stripe-version', 'stripe-should-retry', 'stripe-account', 'idempotency-key', 'original-request', 'idempotent-replayed'
])

/** type, code and message of a Stripe error envelope, masked (upstream texts may echo a key). */
function stripeErrorFields (text: string): { type?: string, code?: string, message?: string } {
  try {
    const error: unknown = field(JSON.parse(text), 'error')
    const str = (key: string): string | undefined => {
      const v = stringField(error, key)
      return v === undefined ? undefined : maskSecrets(v.slice(0, 500))
    }
    return { type: str('type'), code: str('code'), message: str('message') }
  } catch {
    return {}
  }
}

/** answers up to this many bytes are read whole before they go out (undici's stream buffers as much) */
const WHOLE_MAX = 64 * 1024

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT'])

/**
 * The Stripe API proxy, Atlas-compatible: `/v1/apis/http/{adapter}/<upstream path>` forwards to
 * the adapter's base URL with the adapter's credentials, for callers with an API key, within the
 * adapter's method/path allowlist. Responses stream back.
 */
const proxy: FastifyPluginAsync = async (fastify) => {
  await fastify.register(strictOrigins, {
    methods: ['GET', 'POST', 'DELETE'],
    allowedHeaders: ['Authorization', 'X-API-Key', 'Content-Type', 'Idempotency-Key', 'Stripe-Version', 'Stripe-Account'],
    exposedHeaders: ['Request-Id']
  })
  await fastify.register(rateLimited)
  // the proxy spends the adapters' keys: the platform's API key, required in every mode; never a
  // merchant key (a till's key must not reach the platform's secrets)
  await fastify.register(requireCredentials, { accepts: ['platform'], unconfigured: 'refuse' })
  // bodies travel upstream as the bytes received
  await fastify.register(rawBody)

  // TLS verified (undici's default); no retries; keep-alive to each upstream.
  const agent = new Agent({ keepAliveTimeout: 10_000, connect: { timeout: 5_000 } })
  fastify.addHook('onClose', async () => { await agent.close() })
  // on SIGTERM, calls still upstream are cut in time for their 504 to go out within the grace
  const draining = new AbortController()
  fastify.addHook('preClose', (done) => {
    setTimeout(() => { draining.abort() }, drainCutOffMs(fastify.config)).unref()
    done()
  })

  // every text the caller reads: the configured secrets, the adapters' credentials, anything key-shaped
  const mask = fastify.maskSecrets
  // this area's failures: Stripe's envelope, its code only when there is one (CONTRACT.md §5)
  fastify.setErrorHandler(function proxyErrors (error: FastifyError, request, reply) {
    const outcome = describeError(error)
    logOutcome(request.log, outcome, error)
    const { type, message, code } = outcome
    return reply.code(outcome.status).headers(outcome.headers).send(errorBody(code === null ? { type, message } : { type, message, code }))
  })

  const handler = async (request: FastifyRequest<{ Params: { adapter: string } }>, reply: FastifyReply): Promise<FastifyReply> => {
    const adapter = fastify.proxyAdapters.get(request.params.adapter)
    if (adapter === undefined) throw fail.notFound(`Unknown adapter: ${mask(request.params.adapter).slice(0, 64)}`, null)
    // counted by adapter (a configured name) and the status answered, once the adapter is known
    reply.raw.once('close', () => { fastify.metrics.proxied(adapter.name, reply.statusCode) })
    const raw = request.raw.url ?? ''
    const q = raw.indexOf('?')
    const rawPath = q === -1 ? raw : raw.slice(0, q)
    const prefix = `/v1/apis/http/${encodeURIComponent(adapter.name)}`
    const path = rawPath.startsWith(prefix) ? safeUpstreamPath(rawPath.slice(prefix.length)) : undefined
    if (path === undefined) throw fail.invalid('Invalid upstream path: no "..", ".", empty segments or encoded dots and slashes.')
    const rule = allowed(adapter, request.method, path)
    const refused = (message: string): HttpError => fail.forbidden(message, null, 'invalid_request_error')
    if (rule === undefined) throw refused(`${request.method} ${mask(path)} is not allowed for adapter ${adapter.name}.`)

    const headers: Record<string, string> = {}
    for (const h of FORWARDED) {
      const v = request.headers[h]
      if (typeof v === 'string') headers[h] = v
    }
    const account = request.headers['stripe-account']
    if (typeof account === 'string') {
      if (!adapter.allowStripeAccount) throw refused(`Stripe-Account is not allowed for adapter ${adapter.name}.`)
      headers['stripe-account'] = account
    }
    Object.assign(headers, adapter.headers)

    const base = adapter.baseUrl.pathname.replace(/\/$/, '')
    const url = new URL(adapter.baseUrl.origin + base + path + (q === -1 ? '' : raw.slice(q)))
    const sendsBody = request.method !== 'GET' && request.method !== 'HEAD'
    const body = sendsBody && Buffer.isBuffer(request.body) && request.body.length > 0 ? request.body : undefined
    const started = Date.now()
    const log = { adapter: adapter.name, method: request.method, path: rule.template }
    // A deadline on the whole call, headers and body (undici's own timeouts restart with each
    // byte), or the drain's cut-off. Not AbortSignal.timeout/any: each call's signals were kept
    // until its timeout fired (30 s), ~130 MB at a few thousand calls a second (bench); this timer
    // and listener go when the answer has gone out (or, for a caller that left before it, when
    // the deadline cuts the upstream call).
    const call = new AbortController()
    const deadline = call.signal
    const release = (): void => {
      clearTimeout(timer)
      draining.signal.removeEventListener('abort', cut)
    }
    const cut = (): void => {
      release()
      call.abort()
    }
    const timer = setTimeout(cut, adapter.timeoutMs)
    draining.signal.addEventListener('abort', cut)
    reply.raw.once('close', () => { if (reply.raw.writableFinished) release() })
    try {
      const res = await upstream(url, {
        method: request.method,
        headers,
        body,
        dispatcher: agent,
        signal: deadline
      })
      const out: Record<string, string | string[]> = {}
      for (const k in res.headers) {
        const v = res.headers[k]
        if (v !== undefined && PASSED_BACK.has(k)) out[k] = v
      }
      // the upstream's request id goes on the request's one access line, as a Stripe call's does
      const requestId = res.headers['request-id']
      if (typeof requestId === 'string') (request.stripeRequestIds ??= []).push(requestId)
      const done = { ...log, status: res.statusCode, ms: Date.now() - started, request_id: requestId }
      if (res.statusCode < 400) {
        request.log.debug(done, 'proxied')
        // An answer of known, small length (a Stripe object, a page of a list) goes out whole: one
        // write with its Content-Length, none of a pipe's listeners and chunked framing, and an
        // answer cut upstream is a 502, not a truncated 200. No more than undici's stream would hold.
        const length = Number(res.headers['content-length'])
        if (length <= WHOLE_MAX && request.method !== 'HEAD') {
          return reply.code(res.statusCode).headers(out).send(Buffer.from(await res.body.arrayBuffer()))
        }
        return reply.code(res.statusCode).headers(out).send(res.body)
      }
      // An error answer is small: read it, so the operator sees Stripe's type, code and message.
      const text = await res.body.text()
      request.log.warn({ ...done, stripe: stripeErrorFields(text) }, 'proxied call failed')
      // an upstream 401 may echo the credential the adapter sent (stripe-mock's does, whole)
      return reply.code(res.statusCode).headers(out).send(mask(text))
    } catch (err) {
      const code = errorFields(err).code ?? ''
      const timeout = deadline.aborted || TIMEOUT_CODES.has(code) || err instanceof errors.HeadersTimeoutError
      request.log.warn({ ...log, status: timeout ? 504 : 502, ms: Date.now() - started, code }, 'proxy upstream failed')
      const message = timeout
        ? `Upstream ${adapter.name} timed out after ${adapter.timeoutMs} ms.`
        : `Upstream ${adapter.name} is unreachable.`
      throw fail.upstream(timeout ? 504 : 502, message)
    }
  }

  fastify.route({
    method: ['GET', 'POST', 'DELETE', 'PUT', 'PATCH', 'HEAD'],
    url: '/:adapter/*',
    schema: { hide: true },
    exposeHeadRoute: false,
    handler
  })
}

export default proxy
