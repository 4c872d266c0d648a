import { AsyncLocalStorage } from 'node:async_hooks'
import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import Stripe from 'stripe'
import { NoStripeKeyError } from '../../lib/errors.js'
import { ObservedHttpClient, type StripeAttempt } from '../../lib/stripe/observed-client.js'
import { stripeAgent } from '../../lib/stripe/agent.js'
import { withoutCallSiteStacks } from '../../lib/stripe/call-site.js'
import { drainCutOffMs } from '../../lib/config.js'
import { VERSION } from '../../lib/version.js'

declare module 'fastify' {
  interface FastifyInstance {
    stripe: StripeAccess
  }
  interface FastifyRequest {
    /** Stripe's `request-id` of each attempt this request made, for its access line */
    stripeRequestIds: string[] | undefined
  }
}

export interface StripeAccess {
  /** The client for the configured key; throws NoStripeKeyError when there is none. */
  client: () => Stripe
  /** the configured key ('' when unset), for the Terminal routes' original key checks */
  readonly key: string
  readonly mode: 'live' | 'test'
  /** the `livemode` of the objects and events this key sees, as stored (0/1) */
  readonly livemode: 0 | 1
}

/** stripe-node options from STRIPE_API_BASE (protocol, host, port). */
export function baseOptions (base: string): Pick<Stripe.StripeConfig, 'host' | 'port' | 'protocol'> {
  const url = new URL(base)
  const protocol = url.protocol === 'http:' ? 'http' : 'https'
  return { host: url.hostname, port: url.port === '' ? (protocol === 'http' ? 80 : 443) : Number(url.port), protocol }
}

/**
 * One Stripe client, built on first use so the service starts without a key (the Terminal routes
 * then answer the original backend's texts). API version pinned; timeout and retries from config.
 * Calls go through stripe-node's node client over a bounded keep-alive agent. Each attempt is
 * counted, timed and (when tracing) a span; its Stripe request id is kept on the request that
 * made it, found through the async context its handler runs in.
 */
export default fp(async function stripePlugin (fastify) {
  const { config } = fastify
  const base = baseOptions(config.STRIPE_API_BASE)
  const agent = stripeAgent(base.protocol === 'http' ? 'http' : 'https', {
    deadlineMs: config.STRIPE_TIMEOUT_MS,
    maxSockets: config.STRIPE_MAX_SOCKETS,
    pool: { waited: fastify.metrics.stripeSocketWait }
  })
  fastify.metrics.stripeQueue(agent.queued)
  let client: Stripe | undefined

  const current = new AsyncLocalStorage<FastifyRequest>()
  fastify.decorateRequest('stripeRequestIds', undefined)
  fastify.addHook('preHandler', (request, _reply, done) => { current.run(request, done) })
  const observe = (attempt: StripeAttempt): void => {
    fastify.metrics.stripeAttempt(attempt)
    const request = current.getStore()
    if (request === undefined) return
    if (attempt.requestId !== undefined) (request.stripeRequestIds ??= []).push(attempt.requestId)
    request.log.debug({ stripe: attempt }, 'stripe attempt')
  }
  // no caller's stack formatted per call: never logged, and the largest cost of a request (lib/stripe/call-site.ts)
  withoutCallSiteStacks()
  const httpClient = new ObservedHttpClient(Stripe.createNodeHttpClient(agent), config.STRIPE_MAX_RETRIES, observe, fastify.tracer)

  fastify.decorate('stripe', {
    key: config.stripeKey,
    mode: config.stripeMode,
    livemode: config.stripeMode === 'live' ? 1 : 0,
    client () {
      if (config.stripeKey === '') throw new NoStripeKeyError(config.stripeKeyVariable)
      client ??= new Stripe(config.stripeKey, {
        // cast: stripe-node types apiVersion as its own default only; any pinned version is valid on the wire
        apiVersion: config.apiVersion as Stripe.LatestApiVersion,
        ...base,
        timeout: config.STRIPE_TIMEOUT_MS,
        maxNetworkRetries: config.STRIPE_MAX_RETRIES,
        httpClient,
        appInfo: { name: 'stripe-terminal-backend', version: VERSION },
        // stripe-node's telemetry keeps the last 100 calls' timings for the next call's header and
        // emits a process warning (an Error and a synchronous stderr line) for each answer beyond
        // them: at a few hundred calls in flight, one per call (docs/performance.md). Each attempt is
        // timed here anyway (stripe_request_duration_seconds).
        telemetry: false
      })
      return client
    }
  })
  // SIGTERM: calls still in flight near the end of the grace are cut (504), not reset (lib/config.ts)
  fastify.addHook('preClose', (done) => { agent.cutOff(drainCutOffMs(config)); done() })
  fastify.addHook('onClose', async () => { agent.destroy() })
}, { name: 'stripe', dependencies: ['config', 'metrics', 'tracing'], fastify: '5.x' })
