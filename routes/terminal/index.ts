import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import cors from '@fastify/cors'
import Stripe from 'stripe'
import { HttpError, NoStripeKeyError, PrefixedError, describeError, errorBody, logOutcome } from '../../lib/errors.js'
import { dropAbsent, parseNestedQuery, present, type RackParams, type RackValue } from '../../lib/rack-query.js'
import { keyProblem, validationText } from '../../lib/terminal.js'
import { versioned } from '../../lib/stripe-version.js'
import { checkInput } from '../../lib/input.js'
import { refuseForeignOrigins } from '../../plugins/app/origin-check.js'
import * as S from '../../schemas/terminal.js'
import { ErrorBody } from '../../schemas/common.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** the original backend's error prefix, e.g. `Error creating PaymentIntent!` */
    errorPrefix?: string | ((params: Record<string, unknown>) => string)
    /** the route is one of the six the original checked the Stripe key on */
    checkKey?: boolean
  }
}

type Params = Record<string, RackValue | undefined>

/**
 * What a till ever sends is a few hundred bytes of a dozen parameters at most three levels deep;
 * these bounds keep hostile bodies from reaching the validator or stripe-node's encoder.
 */
const BODY_LIMIT = 64 * 1024
const LIMITS = { maxDepth: 8, maxKeys: 200 }

/** Keeps only the parameters that were sent (a bare `key` or JSON null counts as absent). */
function pick (params: Params, names: string[]): Record<string, Exclude<RackValue, null>> {
  const out: Record<string, Exclude<RackValue, null>> = {}
  for (const n of names) {
    const v = params[n]
    if (present(v)) out[n] = v
  }
  return out
}

const wantsJson = (request: FastifyRequest): boolean => /application\/json/i.test(request.headers.accept ?? '')

/** Clients show the body text to the person at the till: text/plain, or JSON when asked for. */
function sendError (request: FastifyRequest, reply: FastifyReply, status: number, text: string, type: string, code: string | null): FastifyReply {
  // an id the caller sent is echoed in some texts: never a configured secret
  const message = request.server.maskSecrets(text)
  reply.code(status)
  if (wantsJson(request)) return reply.type('application/json; charset=utf-8').send(errorBody({ type, message, code }))
  return reply.type('text/plain; charset=utf-8').send(message)
}

/**
 * The Terminal API: a drop-in for Stripe's example Terminal backend (same routes, params, defaults,
 * bodies and error texts) plus the server-driven reader flow, behind API key, CORS allowlist and
 * rate limit.
 */
const terminal: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config } = fastify

  await fastify.register(cors, {
    origin: config.allowedOrigins,
    methods: ['GET', 'POST'],
    allowedHeaders: ['Authorization', 'X-API-Key', 'Content-Type', 'Accept'],
    maxAge: 600,
    // the original answered preflights with 200
    optionsSuccessStatus: 200
  })
  const foreign = refuseForeignOrigins(config.allowedOrigins)
  if (foreign !== undefined) fastify.addHook('onRequest', foreign)
  fastify.addHook('onRequest', fastify.rateLimit())
  fastify.addHook('onRequest', fastify.apiKeys.require)

  // Bodies as Rack read them; a request is never refused for its content type. The two usual
  // types are named beside the catch-all because Fastify caches lookups only for named types.
  fastify.removeAllContentTypeParsers()
  fastify.addContentTypeParser(['application/x-www-form-urlencoded', 'application/json', '*'], { parseAs: 'string', bodyLimit: BODY_LIMIT }, (request, body, done) => {
    const text = body as string
    const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
    if (text.trim() === '') return done(null, {})
    try {
      if (type === 'application/x-www-form-urlencoded') return done(null, parseNestedQuery(text))
      if (type === 'application/json' || type.endsWith('+json')) {
        const parsed: unknown = JSON.parse(text)
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
          return done(new HttpError(400, 'A JSON body must be an object of parameters.'), undefined)
        }
        return done(null, parsed)
      }
    } catch (err) {
      if (err instanceof SyntaxError) return done(new HttpError(400, 'The JSON body is not valid JSON.'), undefined)
      return done(err as Error, undefined)
    }
    // text/plain, multipart and anything else: ignored, as the original did
    return done(null, {})
  })

  // Sinatra's params: the query string merged with the body, the body winning.
  // (Callback-style hooks here: no promise per request on the hot path.)
  // A bare key (`currency` with no `=`) or a JSON null is "not sent", as stripe-ruby dropped nils:
  // removed before validation, which would otherwise coerce it to "" and skip the default.
  fastify.addHook('preValidation', (request, _reply, done) => {
    if (request.method === 'POST') {
      const q = request.url.indexOf('?')
      const body = request.body as RackParams | undefined
      if (q !== -1) request.body = { ...parseNestedQuery(request.url.slice(q + 1)), ...body }
      else if (body === undefined || body === null) request.body = {}
      checkInput(request.body, LIMITS)
      dropAbsent(request.body as RackParams)
    } else {
      // GET parameters are read as Rack reads them too (`location[]=x` is a list, not a new name)
      const q = request.url.indexOf('?')
      const query = q === -1 ? {} : parseNestedQuery(request.url.slice(q + 1))
      checkInput(query, LIMITS)
      dropAbsent(query)
      request.query = query
    }
    done()
  })

  // The original backend's three key checks, on the six routes it ran them, before any Stripe call.
  // The key is fixed at boot, so the check is too.
  const problem = keyProblem(fastify.stripe.key, fastify.stripe.mode)
  if (problem !== undefined) {
    fastify.addHook('preHandler', (request, _reply, done) => {
      done(request.routeOptions.config.checkKey === true ? new HttpError(400, problem) : undefined)
    })
  }

  fastify.setErrorHandler(function terminalErrors (error: FastifyError, request, reply) {
    if (error.validation !== undefined) {
      return sendError(request, reply, 400, validationText(error.validation, error.validationContext), 'invalid_request_error', 'parameter_invalid')
    }
    const p = request.routeOptions.config.errorPrefix
    // an error with its own prefix (the attach route's customer lookup) carries it in its message
    const prefix = error instanceof PrefixedError ? undefined : typeof p === 'function' ? p((request.body ?? {}) as Record<string, unknown>) : p
    const withPrefix = (message: string): string => prefix === undefined ? message : `${prefix} ${message}`
    const e = describeError(error, { bodyLimit: BODY_LIMIT })
    logOutcome(request.log, e, error)
    // No key for a route the original did not check: its prefix and a 402, as a Stripe error would be
    if (error instanceof NoStripeKeyError) return sendError(request, reply, 402, withPrefix(e.message), 'invalid_request_error', e.code)
    if (e.stripeAnswered !== undefined) {
      // Stripe answered (any status, after stripe-node's retries): 402 with Stripe's message
      return sendError(request, reply, e.stripeAnswered ? 402 : e.status, withPrefix(e.message), e.type, e.code)
    }
    reply.headers(e.headers)
    return sendError(request, reply, e.status, e.message, e.type, e.code)
  })

  const stripe = (): Stripe => fastify.stripe.client()
  const security: Array<Record<string, string[]>> = [{ apiKey: [] }, { bearer: [] }]
  const consumes = ['application/x-www-form-urlencoded', 'application/json']
  const tags = ['terminal']
  const intentSecret = (o: { id: string, client_secret: string | null }): { intent: string, secret: string } =>
    ({ intent: o.id, secret: o.client_secret ?? '' })

  fastify.post('/register_reader', {
    config: { errorPrefix: 'Error registering reader!', checkKey: true },
    schema: { tags, security, consumes, summary: 'Register a reader (returns the Reader)', body: S.RegisterReaderBody, response: { 200: S.StripeObject } }
  }, async (request) => {
    const reader = await stripe().terminal.readers.create(pick(request.body as Params, ['registration_code', 'label', 'location']) as unknown as Stripe.Terminal.ReaderCreateParams)
    request.log.info({ reader: reader.id }, 'Reader registered')
    return reader
  })

  fastify.post('/connection_token', {
    config: { errorPrefix: 'Error creating ConnectionToken!', checkKey: true },
    schema: { tags, security, consumes, summary: 'Create a connection token (optionally for one Location)', body: S.ConnectionTokenBody, response: { 200: S.Secret } }
  }, async (request) => {
    const token = await stripe().terminal.connectionTokens.create(pick(request.body as Params, ['location']) as Stripe.Terminal.ConnectionTokenCreateParams)
    return { secret: token.secret }
  })

  fastify.post('/create_payment_intent', {
    config: { errorPrefix: 'Error creating PaymentIntent!', checkKey: true },
    schema: { tags, security, consumes, summary: 'Create a PaymentIntent (card_present, manual capture, usd by default)', body: S.CreatePaymentIntentBody, response: { 200: S.IntentSecret } }
  }, async (request) => {
    const b = request.body as Params
    // The original's defaults, applied only when a parameter is absent; its key order.
    const params = {
      payment_method_types: b.payment_method_types ?? ['card_present'],
      capture_method: b.capture_method ?? 'manual',
      ...pick(b, ['amount']),
      currency: b.currency ?? 'usd',
      description: b.description ?? 'Example PaymentIntent',
      ...pick(b, ['payment_method_options', 'receipt_email'])
    } as unknown as Stripe.PaymentIntentCreateParams
    const intent = await stripe().paymentIntents.create(params)
    request.log.info({ payment_intent: intent.id }, 'PaymentIntent successfully created')
    return intentSecret(intent)
  })

  fastify.post('/capture_payment_intent', {
    config: { errorPrefix: 'Error capturing PaymentIntent!' },
    schema: { tags, security, consumes, summary: 'Capture a PaymentIntent', body: S.CaptureBody, response: { 200: S.IntentSecret } }
  }, async (request) => {
    const b = request.body as Params
    const id = b.payment_intent_id as string
    const params = pick(b, ['amount_to_capture']) as Stripe.PaymentIntentCaptureParams
    const intent = Object.keys(params).length > 0
      ? await stripe().paymentIntents.capture(id, params)
      : await stripe().paymentIntents.capture(id)
    request.log.info({ payment_intent: intent.id }, 'PaymentIntent successfully captured')
    return intentSecret(intent)
  })

  fastify.post('/cancel_payment_intent', {
    config: { errorPrefix: 'Error canceling PaymentIntent!' },
    schema: { tags, security, consumes, summary: 'Cancel a PaymentIntent', body: S.CancelBody, response: { 200: S.IntentSecret } }
  }, async (request) => {
    const intent = await stripe().paymentIntents.cancel((request.body as Params).payment_intent_id as string)
    request.log.info({ payment_intent: intent.id }, 'PaymentIntent successfully canceled')
    return intentSecret(intent)
  })

  fastify.post('/create_setup_intent', {
    config: { errorPrefix: 'Error creating SetupIntent!', checkKey: true },
    schema: { tags, security, consumes, summary: 'Create a SetupIntent (card_present by default)', body: S.CreateSetupIntentBody, response: { 200: S.IntentSecret } }
  }, async (request) => {
    const b = request.body as Params
    const params = {
      payment_method_types: b.payment_method_types ?? ['card_present'],
      ...pick(b, ['customer', 'description', 'on_behalf_of'])
    } as unknown as Stripe.SetupIntentCreateParams
    const intent = await stripe().setupIntents.create(params)
    request.log.info({ setup_intent: intent.id }, 'SetupIntent successfully created')
    return intentSecret(intent)
  })

  fastify.post('/attach_payment_method_to_customer', {
    config: { errorPrefix: 'Error attaching PaymentMethod to Customer!' },
    schema: { tags, security, consumes, summary: 'Attach a PaymentMethod to the example customer (returns it with customer expanded)', body: S.AttachBody, response: { 200: S.StripeObject } }
  }, async (request) => {
    const client = stripe()
    let customer: Stripe.Customer
    try {
      const found = await client.customers.list({ email: 'example@test.com', limit: 1 })
      customer = found.data.length === 1 ? found.data[0]! : await client.customers.create({ email: 'example@test.com' })
    } catch (err) {
      // The original meant this text (its own bug turned it into a 500).
      throw new PrefixedError('Error creating or retrieving customer!', err)
    }
    const pm = await client.paymentMethods.attach((request.body as Params).payment_method_id as string, { customer: customer.id, expand: ['customer'] })
    request.log.info({ customer: customer.id }, 'Attached PaymentMethod to Customer')
    return pm
  })

  fastify.post('/update_payment_intent', {
    config: { errorPrefix: (b) => `Error updating PaymentIntent ${String(b.payment_intent_id ?? '')}.` },
    schema: { tags, security, consumes, summary: 'Update a PaymentIntent\'s receipt_email', body: S.UpdateBody, response: { 200: S.IntentSecret } }
  }, async (request) => {
    const b = request.body as Params
    const intent = await stripe().paymentIntents.update(b.payment_intent_id as string, pick(b, ['receipt_email']) as Stripe.PaymentIntentUpdateParams)
    request.log.info({ payment_intent: intent.id }, 'Updated PaymentIntent')
    return intentSecret(intent)
  })

  fastify.get('/list_locations', {
    config: { errorPrefix: 'Error fetching Locations!', checkKey: true },
    schema: { tags, security, summary: 'List Locations (up to 100), as a top-level array', response: { 200: { type: 'array', items: S.StripeObject } } }
  }, async (request) => {
    const locations = await stripe().terminal.locations.list({ limit: 100 })
    request.log.info({ count: locations.data.length }, 'Locations successfully fetched')
    return locations.data
  })

  fastify.post('/create_location', {
    config: { errorPrefix: 'Error creating Location!', checkKey: true },
    schema: { tags, security, consumes, summary: 'Create a Location', body: S.CreateLocationBody, response: { 200: S.StripeObject } }
  }, async (request) => {
    const location = await stripe().terminal.locations.create(pick(request.body as Params, ['display_name', 'address']) as unknown as Stripe.Terminal.LocationCreateParams)
    request.log.info({ location: location.id }, 'Location successfully created')
    return location
  })

  // Server-driven reader flow (beyond the original).

  fastify.get('/list_readers', {
    config: { errorPrefix: 'Error fetching Readers!' },
    schema: { tags, security, summary: 'List Readers (up to 100), as a top-level array', querystring: S.ListReadersQuery, response: { 200: { type: 'array', items: S.StripeObject } } }
  }, async (request) => {
    // only the two documented filters reach Stripe, never whatever else the query string holds
    const readers = await stripe().terminal.readers.list({ limit: 100, ...pick(request.query as Params, ['location', 'status']) })
    return readers.data
  })

  fastify.post('/process_payment_intent', {
    config: { errorPrefix: 'Error processing PaymentIntent!' },
    schema: { tags, security, consumes, summary: 'Hand a PaymentIntent to a reader', body: S.ProcessPaymentIntentBody, response: { 200: S.StripeObject } }
  }, async (request) => {
    const b = request.body as Params
    return await stripe().terminal.readers.processPaymentIntent(b.reader_id as string, { payment_intent: b.payment_intent_id as string })
  })

  fastify.post('/process_setup_intent', {
    config: { errorPrefix: 'Error processing SetupIntent!' },
    schema: { tags, security, consumes, summary: 'Hand a SetupIntent to a reader', body: S.ProcessSetupIntentBody, response: { 200: S.StripeObject } }
  }, async (request) => {
    const b = request.body as Params
    const params = { setup_intent: b.setup_intent_id as string, ...versioned('terminal.readers.process_setup_intent', config.apiVersion) }
    return await stripe().terminal.readers.processSetupIntent(b.reader_id as string, params as Stripe.Terminal.ReaderProcessSetupIntentParams)
  })

  fastify.post('/cancel_reader_action', {
    config: { errorPrefix: 'Error canceling reader action!' },
    schema: { tags, security, consumes, summary: 'Cancel what a reader is doing', body: S.ReaderBody, response: { 200: S.StripeObject } }
  }, async (request) => {
    return await stripe().terminal.readers.cancelAction((request.body as Params).reader_id as string)
  })

  fastify.post('/simulate_payment', {
    config: { errorPrefix: 'Error simulating payment!' },
    schema: { tags, security, consumes, summary: 'Present a test card to a simulated reader (test keys only)', body: S.SimulatePaymentBody, response: { 200: S.StripeObject } }
  }, async (request) => {
    if (fastify.stripe.key.includes('_live_')) {
      throw new HttpError(403, 'Error simulating payment! Simulated payments need a test mode key; this backend uses a live key.', 'invalid_request_error', 'livemode_mismatch')
    }
    const b = request.body as Params
    const params: Parameters<Stripe['testHelpers']['terminal']['readers']['presentPaymentMethod']>[1] = typeof b.card_number === 'string'
      ? { type: 'card_present', card_present: { number: b.card_number } }
      : {}
    return await stripe().testHelpers.terminal.readers.presentPaymentMethod(b.reader_id as string, params)
  })

  fastify.get('/reader_action', {
    schema: { tags, security, summary: 'The last action outcome of a reader, from Stripe\'s terminal.reader.action_* webhooks', querystring: S.ReaderActionQuery, response: { 200: S.ReaderAction, 404: ErrorBody } }
  }, async (request, reply) => {
    const readerId = request.query.reader_id
    const row = await fastify.store.db.selectFrom('reader_actions').selectAll()
      .where('reader_id', '=', readerId).where('livemode', '=', fastify.stripe.livemode).executeTakeFirst()
    if (row === undefined) {
      return await reply.code(404).send(errorBody({ type: 'invalid_request_error', message: `No action recorded for reader ${readerId}.`, code: 'resource_missing' }))
    }
    const { type, status, failure_code, failure_message, payment_intent, updated_at } = row
    return { reader_id: readerId, action: { type, status, failure_code, failure_message, payment_intent, updated_at } }
  })

  fastify.post('/refund_payment', {
    config: { errorPrefix: 'Error refunding payment!' },
    schema: { tags, security, consumes, summary: 'Refund a payment (on the reader, for Interac, when reader_id is given)', body: S.RefundBody, response: { 200: S.StripeObject } }
  }, async (request) => {
    const b = request.body as Params
    const target = typeof b.payment_intent_id === 'string' ? { payment_intent: b.payment_intent_id } : typeof b.charge === 'string' ? { charge: b.charge } : undefined
    if (target === undefined) throw new HttpError(400, '\'payment_intent_id\' or \'charge\' is a required parameter', 'invalid_request_error', 'parameter_missing')
    const params = { ...target, ...(typeof b.amount === 'string' ? { amount: Number(b.amount) } : {}) }
    if (typeof b.reader_id === 'string') return await stripe().terminal.readers.refundPayment(b.reader_id, params)
    return await stripe().refunds.create(params)
  })
}

export default terminal
