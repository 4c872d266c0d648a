import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type Stripe from 'stripe'
import { PrefixedError, fail } from '../../lib/errors.js'
import { idempotencyHeader } from './idempotency.js'
import { keyProblem, pick, stripeParams } from './texts.js'
import { rackParams } from '../../plugins/app/bodies.js'
import { strictOrigins } from '../../plugins/app/cors.js'
import { requireCredentials } from '../../plugins/app/credentials.js'
import * as S from '../../schemas/terminal.js'
import { stamp } from '../../lib/ownership.js'
import { callOptions, chargeParams, readOptions } from './calls.js'
import { assertOwned, knownOwners, listOwned, pageOwned, rememberOwned } from './ownership.js'
import { terminalErrors } from './errors.js'
import readerRoutes from './readers.js'
import fleetRoutes, { pageHeaders } from './fleet.js'
import readerEventRoutes from './reader-events.js'
import { isRecord } from '../../lib/values.js'
import { gateOf, rateLimited } from '../../plugins/app/gate.js'

/**
 * What a till ever sends is a few hundred bytes of a dozen parameters at most three levels deep;
 * these bounds keep hostile bodies from reaching the validator or stripe-node's encoder.
 */
const BODY_LIMIT = 64 * 1024
const LIMITS = { maxDepth: 8, maxKeys: 200 }

const { tags, security, consumes } = S

const intentSecret = (o: { id: string, client_secret: string | null }): { intent: string, secret: string } =>
  ({ intent: o.id, secret: o.client_secret ?? '' })

/**
 * The Terminal API: a drop-in for Stripe's example Terminal backend (same routes, params, defaults,
 * bodies and error texts) plus the server-driven reader flow, behind API key, CORS allowlist and
 * rate limit.
 */
const terminal: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.addHook('onRoute', route => { route.config = { ...route.config, area: 'terminal' } })

  await fastify.register(strictOrigins, {
    methods: ['GET', 'POST'],
    allowedHeaders: ['Authorization', 'X-API-Key', 'Content-Type', 'Accept', 'Idempotency-Key', 'X-Request-Id', 'Last-Event-ID'],
    // a list's paging (routes/terminal/fleet.ts) is readable by a browser till too
    exposedHeaders: ['X-Request-Id', 'Stripe-Has-More', 'Link'],
    // the original answered preflights with 200
    optionsSuccessStatus: 200
  })
  await fastify.register(rateLimited)
  // a till credential: the platform's keys or a merchant key; open in development with no API_KEY
  await fastify.register(requireCredentials, { accepts: ['platform', 'merchant'], unconfigured: 'open' })
  await fastify.register(rackParams, { bodyLimit: BODY_LIMIT, limits: LIMITS })

  // The original backend's three key checks, on the six routes it ran them, before any Stripe call.
  // The key is fixed at boot, so the check is too.
  const problem = keyProblem(fastify.stripe.key, fastify.stripe.mode)
  const gate = await gateOf(fastify)
  if (problem !== undefined) {
    gate.preHandler.push((request, _reply, done) => {
      done(request.routeOptions.config.checkKey === true ? fail.invalid(problem) : undefined)
    })
  }
  fastify.setErrorHandler(terminalErrors(BODY_LIMIT))

  // A till that retries after a timeout sends the same Idempotency-Key: its Stripe calls carry a
  // key derived from it (calls.ts), so Stripe replays the first answer instead of acting twice.
  fastify.decorateRequest('idempotencyKey', undefined)
  gate.preHandler.push((request, _reply, done) => {
    if (request.method !== 'POST') return done()
    const header = idempotencyHeader(request.headers['idempotency-key'])
    if (header === null) {
      const message = 'Idempotency-Key must be 1 to 255 printable characters.'
      return done(fail.invalid(message, 'idempotency_key_invalid'))
    }
    request.idempotencyKey = header
    done()
  })

  // A merchant key acts for its own account and, when it names one, its own location only (the
  // location a till works at, or the one a fleet route manages).
  gate.preHandler.push((request, _reply, done) => {
    const merchant = request.merchant
    if (merchant === undefined) return done()
    const sent = request.method === 'POST' ? request.body : request.query
    const params = isRecord(sent) ? sent : {}
    const location = params.location ?? params.location_id
    if (merchant.location !== null && location !== undefined && location !== merchant.location) {
      return done(fail.forbidden('This key is for another location.', 'location_not_allowed'))
    }
    if (params.on_behalf_of !== undefined && params.on_behalf_of !== merchant.account) {
      return done(fail.forbidden('This key acts for its own account only.', 'account_not_allowed'))
    }
    done()
  })

  const stripe = (): Stripe => fastify.stripe.client()
  // what a destination merchant is known to own for good (ownership.ts), shared by this area's routes
  fastify.decorate('knownOwners', knownOwners())

  fastify.post('/register_reader', {
    config: { errorPrefix: 'Error registering reader!', checkKey: true },
    schema: {
      tags,
      security,
      consumes,
      summary: 'Register a reader (returns the Reader)',
      body: S.RegisterReaderBody,
      response: { 200: S.StripeObject }
    }
  }, async (request) => {
    const params = { ...pick(request.body, ['registration_code', 'label', 'location']), ...stamp(request.merchant) }
    await assertOwned(request, { location: params.location })
    const reader = await stripe().terminal.readers.create(
      stripeParams<Stripe.Terminal.ReaderCreateParams>(params),
      callOptions(request, 'create')
    )
    request.log.info({ reader: reader.id }, 'Reader registered')
    return reader
  })

  fastify.post('/connection_token', {
    config: { errorPrefix: 'Error creating ConnectionToken!', checkKey: true },
    schema: {
      tags,
      security,
      consumes,
      summary: 'Create a connection token (optionally for one Location)',
      body: S.ConnectionTokenBody,
      response: { 200: S.Secret }
    }
  }, async (request) => {
    // a key bound to a location gets connection tokens scoped to it
    const location = request.merchant?.location ?? request.body.location
    const params = location === undefined || location === null ? {} : { location }
    if (request.merchant?.location == null) await assertOwned(request, { location: params.location })
    const token = await stripe().terminal.connectionTokens.create(params, callOptions(request, 'create'))
    return { secret: token.secret }
  })

  fastify.post('/create_payment_intent', {
    config: { errorPrefix: 'Error creating PaymentIntent!', checkKey: true },
    schema: {
      tags,
      security,
      consumes,
      summary: 'Create a PaymentIntent (card_present, manual capture, usd by default)',
      body: S.CreatePaymentIntentBody,
      response: { 200: S.IntentSecret }
    }
  }, async (request) => {
    const body = request.body
    // The original's defaults, applied only when a parameter is absent; its key order.
    const params = {
      payment_method_types: body.payment_method_types ?? ['card_present'],
      capture_method: body.capture_method ?? 'manual',
      ...pick(body, ['amount']),
      currency: body.currency ?? 'usd',
      description: body.description ?? 'Example PaymentIntent',
      ...pick(body, ['payment_method_options', 'receipt_email', 'metadata', 'customer', 'statement_descriptor_suffix']),
      ...chargeParams(request, body.amount)
    }
    await assertOwned(request, { customer: body.customer })
    const intent = await stripe().paymentIntents.create(
      stripeParams<Stripe.PaymentIntentCreateParams>(params),
      callOptions(request, 'create')
    )
    await rememberOwned(request, 'payment_intent', intent)
    request.log.info({ payment_intent: intent.id }, 'PaymentIntent successfully created')
    return intentSecret(intent)
  })

  fastify.post('/capture_payment_intent', {
    config: { errorPrefix: 'Error capturing PaymentIntent!' },
    schema: { tags, security, consumes, summary: 'Capture a PaymentIntent', body: S.CaptureBody, response: { 200: S.IntentSecret } }
  }, async (request) => {
    const params = pick(request.body, ['amount_to_capture'])
    const id = request.body.payment_intent_id
    await assertOwned(request, { payment_intent: id })
    const options = callOptions(request, 'capture')
    const intent = params.amount_to_capture === undefined
      ? await stripe().paymentIntents.capture(id, undefined, options)
      : await stripe().paymentIntents.capture(id, stripeParams<Stripe.PaymentIntentCaptureParams>(params), options)
    request.log.info({ payment_intent: intent.id }, 'PaymentIntent successfully captured')
    return intentSecret(intent)
  })

  fastify.post('/cancel_payment_intent', {
    config: { errorPrefix: 'Error canceling PaymentIntent!' },
    schema: { tags, security, consumes, summary: 'Cancel a PaymentIntent', body: S.CancelBody, response: { 200: S.IntentSecret } }
  }, async (request) => {
    await assertOwned(request, { payment_intent: request.body.payment_intent_id })
    const intent = await stripe().paymentIntents.cancel(request.body.payment_intent_id, undefined, callOptions(request, 'cancel'))
    request.log.info({ payment_intent: intent.id }, 'PaymentIntent successfully canceled')
    return intentSecret(intent)
  })

  fastify.post('/create_setup_intent', {
    config: { errorPrefix: 'Error creating SetupIntent!', checkKey: true },
    schema: {
      tags,
      security,
      consumes,
      summary: 'Create a SetupIntent (card_present by default)',
      body: S.CreateSetupIntentBody,
      response: { 200: S.IntentSecret }
    }
  }, async (request) => {
    const merchant = request.merchant
    const params = {
      payment_method_types: request.body.payment_method_types ?? ['card_present'],
      ...pick(request.body, ['customer', 'description', 'on_behalf_of']),
      // a destination merchant's SetupIntent is made for it: that is how it is known as theirs
      ...(merchant?.charge.type === 'destination' ? { on_behalf_of: merchant.account } : {})
    }
    await assertOwned(request, { customer: params.customer })
    const intent = await stripe().setupIntents.create(stripeParams<Stripe.SetupIntentCreateParams>(params), callOptions(request, 'create'))
    await rememberOwned(request, 'setup_intent', intent)
    request.log.info({ setup_intent: intent.id }, 'SetupIntent successfully created')
    return intentSecret(intent)
  })

  fastify.post('/attach_payment_method_to_customer', {
    config: { errorPrefix: 'Error attaching PaymentMethod to Customer!' },
    schema: {
      tags,
      security,
      consumes,
      summary: 'Attach a PaymentMethod to the example customer (returns it with customer expanded)',
      body: S.AttachBody,
      response: { 200: S.StripeObject }
    }
  }, async (request) => {
    const client = stripe()
    await assertOwned(request, { payment_method: request.body.payment_method_id })
    let customer: Stripe.Customer
    try {
      // a destination merchant has its own example customer on the platform, stamped as its own
      const mark = stamp(request.merchant)
      const list = client.customers.list({ email: 'example@test.com', limit: mark.metadata === undefined ? 1 : 100 }, readOptions(request))
      const [found] = await listOwned(request, 'customer', list, 1)
      customer = found ?? await client.customers.create({ email: 'example@test.com', ...mark }, callOptions(request, 'customer'))
    } catch (err) {
      // The original meant this text (its own bug turned it into a 500).
      throw new PrefixedError('Error creating or retrieving customer!', err)
    }
    const attach = { customer: customer.id, expand: ['customer'] }
    const pm = await client.paymentMethods.attach(request.body.payment_method_id, attach, callOptions(request, 'attach'))
    request.log.info({ customer: customer.id }, 'Attached PaymentMethod to Customer')
    return pm
  })

  fastify.post('/update_payment_intent', {
    config: { errorPrefix: (params) => `Error updating PaymentIntent ${String(params.payment_intent_id ?? '')}.` },
    schema: {
      tags,
      security,
      consumes,
      summary: 'Update a PaymentIntent\'s receipt_email',
      body: S.UpdateBody,
      response: { 200: S.IntentSecret }
    }
  }, async (request) => {
    const params = pick(request.body, ['receipt_email'])
    await assertOwned(request, { payment_intent: request.body.payment_intent_id })
    const intent = await stripe().paymentIntents.update(request.body.payment_intent_id, params, callOptions(request, 'update'))
    request.log.info({ payment_intent: intent.id }, 'Updated PaymentIntent')
    return intentSecret(intent)
  })

  fastify.get('/list_locations', {
    config: { errorPrefix: 'Error fetching Locations!', checkKey: true },
    schema: {
      tags,
      security,
      summary: 'List Locations, a page at a time (100 by default), as a top-level array',
      querystring: S.ListLocationsQuery,
      response: { 200: Type.Array(S.StripeObject) }
    }
  }, async (request, reply) => {
    const { limit = 100, ...cursor } = pick(request.query, ['limit', 'starting_after', 'ending_before'])
    const list = async (p: Stripe.Terminal.LocationListParams) => await stripe().terminal.locations.list(p, readOptions(request))
    const page = await pageOwned(request, 'location', list, { limit, ...cursor })
    request.log.info({ count: page.data.length }, 'Locations successfully fetched')
    return pageHeaders(request, reply, page)
  })

  fastify.post('/create_location', {
    config: { errorPrefix: 'Error creating Location!', checkKey: true },
    schema: { tags, security, consumes, summary: 'Create a Location', body: S.CreateLocationBody, response: { 200: S.StripeObject } }
  }, async (request) => {
    const params = { ...pick(request.body, ['display_name', 'address']), ...stamp(request.merchant) }
    const location = await stripe().terminal.locations.create(
      stripeParams<Stripe.Terminal.LocationCreateParams>(params),
      callOptions(request, 'create')
    )
    request.log.info({ location: location.id }, 'Location successfully created')
    return location
  })

  await fastify.register(readerRoutes)
  await fastify.register(fleetRoutes)
  await fastify.register(readerEventRoutes)
}

export default terminal
