import { randomUUID } from 'node:crypto'
import type { Server } from 'node:http'
import type { FastifyError, FastifyHttpOptions, FastifyInstance, FastifyReply } from 'fastify'
import type { DestinationStream } from 'pino'
import type { Config } from './lib/config.js'
import { commaList, configuredSecrets, loadConfig, readEnv } from './lib/config.js'
import { describeError, fail, logOutcome, sendErrorBody } from './lib/errors.js'
import { lingerOnClose } from './lib/linger.js'
import { lazySchemaCompilers } from './lib/lazy-schemas.js'
import { systemClock, type Clock } from './lib/clock.js'
import { AccessLog, loggerOptions } from './lib/logger.js'
import config from './plugins/app/config.js'
import tracing from './plugins/app/tracing.js'
import metrics from './plugins/app/metrics.js'
import connectionCap from './plugins/app/connection-cap.js'
import redis from './plugins/app/redis.js'
import store from './plugins/app/store.js'
import stripe from './plugins/app/stripe.js'
import merchantKeys from './plugins/app/merchant-keys.js'
import readerEvents from './plugins/app/reader-events.js'
import credentials from './plugins/app/credentials.js'
import webhookEvents from './routes/webhooks/processing.js'
import scheduler from './plugins/app/scheduler.js'
import appSignature from './plugins/app/app-signature.js'
import proxyAdapters from './routes/proxy/adapters.js'
import helmet from './plugins/external/helmet.js'
import rateLimit from './plugins/external/rate-limit.js'
import swagger from './plugins/external/swagger.js'
import health from './routes/health/index.js'
import terminal from './routes/terminal/index.js'
import webhooks from './routes/webhooks/index.js'
import apps from './routes/apps/index.js'
import proxy from './routes/proxy/index.js'
import admin from './routes/admin/index.js'
import metricsRoute from './routes/metrics/index.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** the time, for plugins whose behaviour depends on it (lib/clock.ts) */
    clock: Clock
  }
}

const REQUEST_ID = /^[\x20-\x7e]{1,128}$/
/** `type/subtype` in RFC 9110's token characters, then anything (parameters) */
const MEDIA_TYPE = /^\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+\/[!#$%&'*+.^_`|~0-9A-Za-z-]+\s*(;.*)?$/

/** the default for areas that set none (the proxy); the Terminal and Apps areas set 64 KiB */
const BODY_LIMIT = 1024 * 1024

export interface AppOptions {
  /** the validated configuration; default: validated here from `env` */
  config?: Config
  /** raw variables (proxy adapters read `${{ VAR }}` from them); default: the process environment over `.env` */
  env?: Record<string, string | undefined>
  /** where time-dependent plugins read the time (tests advance one); default: the system clock */
  clock?: Clock
}

/** Fastify factory options; server.ts and the tests build the server with the same ones. */
export function serverOptions (cfg: Config, logStream?: DestinationStream): FastifyHttpOptions<Server> {
  const trust = commaList(cfg.TRUST_PROXY)
  return {
    logger: loggerOptions(cfg.LOG_LEVEL, logStream, configuredSecrets(cfg)),
    // one access line per request (and its metrics), not Fastify's two
    logController: new AccessLog(),
    trustProxy: trust.length === 0 ? false : (trust.length === 1 && trust[0] === 'true' ? true : trust),
    // the JS demo sends `//connection_token` when its backend URL ends in '/'
    routerOptions: { ignoreDuplicateSlashes: true },
    // a caller's X-Request-Id is used when it is printable and at most 128 characters, else one is made
    requestIdHeader: false,
    genReqId: request => {
      const id = request.headers['x-request-id']
      return typeof id === 'string' && REQUEST_ID.test(id) ? id : randomUUID()
    },
    // Coerce scalars ("100" → 100) but never a list into a scalar: `payment_intent_id[]=pi_1` is a
    // 400 naming the parameter, not a call with pi_1 (Fastify's default is coerceTypes: 'array').
    // Route schemas are not checked against the meta-schema at each start (about 35 ms of the cold
    // start): test/project/schemas.test.ts checks them all.
    ajv: { customOptions: { coerceTypes: true, validateSchema: false } },
    // each route's schemas compiled on its first request, not at start (lib/lazy-schemas.ts)
    schemaController: { compilersFactory: lazySchemaCompilers() },
    bodyLimit: BODY_LIMIT,
    connectionTimeout: 120_000,
    // A slow client (headers trickled a byte a second) holds its socket 10 s at most, checked every
    // second; a whole request, body included, 30 s. Tills send a few hundred bytes.
    http: { headersTimeout: 10_000, connectionsCheckingInterval: 1_000 },
    requestTimeout: 30_000,
    // longer than common load balancers' idle timeout (60 s), or they see intermittent 502s
    keepAliveTimeout: 72_000,
    return503OnClosing: true,
    // a URL that cannot be decoded (`%zz`): said without echoing it, which may hold a key
    frameworkErrors: (error, _request, reply) => {
      const message = error.code === 'FST_ERR_BAD_URL' ? 'The request URL is not valid (a bad %-encoding).' : 'Bad request.'
      // cast: Fastify types this reply by a route generic it never resolves here
      return sendErrorBody(reply as FastifyReply, describeError(fail.invalid(message, 'url_invalid')))
    }
  }
}

/** The whole wiring, in load order: config → shared plugins → external plugins → route areas → handlers. */
export default async function app (fastify: FastifyInstance, opts: AppOptions): Promise<void> {
  const env = opts.env ?? readEnv()
  await fastify.register(config, { config: opts.config ?? loadConfig(env) })
  fastify.decorate('clock', opts.clock ?? systemClock)

  // first: the request spans must wrap every hook and route registered after them
  await fastify.register(tracing)
  await fastify.register(metrics)
  await fastify.register(connectionCap)
  await fastify.register(redis)
  await fastify.register(store)
  await fastify.register(stripe)
  await fastify.register(merchantKeys)
  await fastify.register(readerEvents)
  await fastify.register(credentials)
  await fastify.register(webhookEvents)
  await fastify.register(scheduler)
  await fastify.register(appSignature)
  await fastify.register(proxyAdapters, { env })

  await fastify.register(helmet)
  await fastify.register(rateLimit)
  await fastify.register(swagger)

  // A request is never refused for its content type (Fastify would answer 415): an empty one is
  // none, and one that is no media type at all (`;;;`, `x`) is read as unknown bytes, which every
  // area's catch-all parser takes (the Terminal API ignores them, as the original did).
  fastify.addHook('onRequest', (request, _reply, done) => {
    const type = request.headers['content-type']
    if (type === '') delete request.raw.headers['content-type']
    else if (type !== undefined && !MEDIA_TYPE.test(type)) request.raw.headers['content-type'] = 'application/octet-stream'
    done()
  })

  // Every answer names its request (the id every log line of it carries). While closing, answer
  // in-flight requests with `Connection: close` so their keep-alive sockets do not hold the
  // shutdown open until the keep-alive timeout.
  let closing = false
  fastify.addHook('preClose', async () => { closing = true })
  fastify.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id)
    if (closing) reply.header('connection', 'close')
    // answered before its body arrived (413, or refused before reading it): the connection closes,
    // but only once the client could read this answer (lib/linger.ts)
    if (request.raw.complete === false) {
      reply.header('connection', 'close')
      lingerOnClose(request.raw)
    }
    done(null, payload)
  })

  // Set before the areas: a scope keeps the error handler it had when it was registered.
  fastify.setErrorHandler(function errorHandler (error: FastifyError, request, reply) {
    const outcome = describeError(error, { bodyLimit: BODY_LIMIT })
    logOutcome(request.log, outcome, error)
    return sendErrorBody(reply, outcome)
  })

  // Route areas: each owns its CORS policy, body parsers and auth.
  await fastify.register(health)
  await fastify.register(terminal)
  await fastify.register(apps, { prefix: '/apps' })
  await fastify.register(webhooks)
  await fastify.register(proxy, { prefix: '/v1/apis/http' })
  await fastify.register(admin, { prefix: '/admin' })
  await fastify.register(metricsRoute)

  // A 404 costs a scanner its rate limit too, from the same bucket as its other requests. The path
  // is echoed, but never a key put in it.
  fastify.setNotFoundHandler({ preHandler: fastify.rateLimit() }, async function notFound (request) {
    const path = fastify.maskSecrets(request.url.split('?', 1)[0] ?? '').slice(0, 200)
    throw fail.notFound(`Unknown route: ${request.method} ${path}`)
  })
}
