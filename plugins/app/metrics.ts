import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { StripeAttempt } from '../../lib/stripe/observed-client.js'
import { droppedLogLines } from '../../lib/logger.js'

/** handled, duplicate; failed (handling broke: Stripe redelivers); bad_signature; invalid (signed, not an
 * event this service handles); refused (not configured, too large, a body that cannot be read) */
export type WebhookOutcome = 'handled' | 'duplicate' | 'failed' | 'bad_signature' | 'invalid' | 'refused'

export interface Metrics {
  registry: Registry
  /** a finished request (called once per response, by the access log) */
  request: (request: FastifyRequest, reply: FastifyReply) => void
  stripeAttempt: (attempt: StripeAttempt) => void
  /** a Stripe call that found every socket busy got one after `seconds` */
  stripeSocketWait: (seconds: number) => void
  /** where the number of Stripe calls waiting for a socket is read at each scrape */
  stripeQueue: (read: () => number) => void
  /** `type` only once the signature verified (else ''): Stripe's event types are a bounded set */
  webhook: (type: string, outcome: WebhookOutcome) => void
  appsSignatureFailure: (reason: string) => void
  rateLimited: (request: FastifyRequest) => void
  proxied: (adapter: string, status: number) => void
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics
  }
}

const STATUS_CLASS = ['1xx', '2xx', '3xx', '4xx', '5xx']
/** Stripe's event types (`payment_intent.succeeded`), or '' before the signature is verified */
const EVENT_TYPE = /^(?:[a-z_]{1,40}(?:\.[a-z_]{1,40}){0,4})?$/

/** The area a route belongs to (a bounded label), from its template. */
export function area (request: FastifyRequest): string {
  const route = request.routeOptions.url
  if (route === undefined) return 'not_found'
  if (route.startsWith('/apps/')) return 'apps'
  if (route.startsWith('/v1/apis/http/')) return 'proxy'
  if (route.startsWith('/admin/')) return 'admin'
  if (route.startsWith('/webhook')) return 'webhooks'
  return 'terminal'
}

/**
 * Prometheus metrics (prom-client), in a registry of this instance's own. Every label is bounded:
 * route templates, methods, status classes, operations, Stripe's error and event types, adapter
 * names from the configuration; never an id, a key, an account or a path as sent.
 */
export default fp(async function metrics (fastify) {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> =>
    new Counter({ name, help, labelNames, registers: [registry] })

  const requests = counter('http_requests_total', 'HTTP requests answered, by route template, method and status class',
    ['route', 'method', 'status_class'])
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'time to answer an HTTP request, by route template and method',
    labelNames: ['route', 'method'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry]
  })
  const stripeRequests = counter('stripe_requests_total',
    'HTTP attempts to the Stripe API, by operation and outcome (ok, stripe_error, connection_error, timeout) and Stripe error type',
    ['operation', 'outcome', 'error_type'])
  const stripeDuration = new Histogram({
    name: 'stripe_request_duration_seconds',
    help: 'time of each HTTP attempt to the Stripe API, body included, by operation',
    labelNames: ['operation'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    registers: [registry]
  })
  const stripeRetries = counter('stripe_retries_total', 'attempts that re-sent a failed Stripe call (stripe-node retries), by operation',
    ['operation'])
  const socketWait = new Histogram({
    name: 'stripe_socket_wait_seconds',
    help: 'time Stripe calls that found every socket busy (STRIPE_MAX_SOCKETS) waited for one',
    buckets: [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers: [registry]
  })
  let queued = (): number => 0
  // read at each scrape, not kept up to date per call
  const waiting: Gauge = new Gauge({
    name: 'stripe_calls_waiting_for_socket',
    help: 'Stripe calls waiting now for a socket (all STRIPE_MAX_SOCKETS busy)',
    registers: [registry],
    collect () { waiting.set(queued()) }
  })
  // a counter kept by the log stream itself (server.ts), read at each scrape
  const droppedLines: Counter = new Counter({
    name: 'log_lines_dropped_total',
    help: 'log lines dropped because stdout was not read (LOG_BUFFER_BYTES held already)',
    registers: [registry],
    collect () { droppedLines.reset(); droppedLines.inc(droppedLogLines()) }
  })
  const webhooks = counter('webhook_events_total',
    'webhook deliveries, by event type (once verified) and outcome (handled, duplicate, failed, bad_signature, invalid, refused)',
    ['type', 'outcome'])
  const appsFailures = counter('apps_signature_failures_total', 'Stripe Apps requests refused for their signature, by reason',
    ['reason'])
  const refusals = counter('rate_limit_refusals_total', 'requests refused with 429 by a rate limit, by area',
    ['area'])
  const proxy = counter('proxy_requests_total', 'proxied calls, by adapter and the status answered',
    ['adapter', 'status'])

  // A request costs two label lookups; prom-client hashes its labels each time, so the children
  // are kept by a key made without sorting.
  type Children = { count: Counter.Internal, time: Histogram.Internal<'route' | 'method'> }
  const children = new Map<string, Children>()
  const child = (route: string, method: string, cls: string): Children => {
    const key = `${method} ${cls} ${route}`
    let found = children.get(key)
    if (found === undefined) {
      found = { count: requests.labels(route, method, cls), time: duration.labels(route, method) }
      children.set(key, found)
    }
    return found
  }

  fastify.decorate('metrics', {
    registry,
    request (request, reply) {
      // Node's parser refuses unknown methods, so the method is a bounded label too
      const route = request.routeOptions.url ?? '(unmatched)'
      const { count, time } = child(route, request.method,
        STATUS_CLASS[Math.floor(reply.statusCode / 100) - 1] ?? 'other')
      count.inc()
      time.observe(reply.elapsedTime / 1000)
    },
    stripeAttempt (attempt) {
      stripeRequests.labels(attempt.operation, attempt.outcome, attempt.errorType).inc()
      stripeDuration.labels(attempt.operation).observe(attempt.seconds)
      if (attempt.retry) stripeRetries.labels(attempt.operation).inc()
    },
    stripeSocketWait (seconds) { socketWait.observe(seconds) },
    stripeQueue (read) { queued = read },
    webhook (type, outcome) { webhooks.labels(EVENT_TYPE.test(type) ? type : 'other', outcome).inc() },
    appsSignatureFailure (reason) { appsFailures.labels(reason).inc() },
    rateLimited (request) { refusals.labels(area(request)).inc() },
    proxied (adapter, status) { proxy.labels(adapter, String(status)).inc() }
  })
}, { name: 'metrics', fastify: '5.x' })
