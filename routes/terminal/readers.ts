import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type Stripe from 'stripe'
import { errorBody, fail } from '../../lib/errors.js'
import { versioned } from '../../lib/stripe/version.js'
import { pick, stripeParams } from './texts.js'
import { callOptions, readOptions, refundParams } from './calls.js'
import { assertOwned, pageOwned } from './ownership.js'
import { pageHeaders } from './fleet.js'
import { readerActionBody } from '../../lib/reader-action.js'
import { ErrorBody } from '../../schemas/common.js'
import * as S from '../../schemas/terminal.js'

const { tags, security, consumes } = S

/**
 * The server-driven reader flow (beyond the original): the backend tells a reader what to do.
 * Registered inside the Terminal area, so its CORS, parsers, auth and error texts apply.
 */
const readerRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const stripe = (): Stripe => fastify.stripe.client()

  fastify.get('/list_readers', {
    config: { errorPrefix: 'Error fetching Readers!' },
    schema: {
      tags,
      security,
      summary: 'List Readers, a page at a time (100 by default), as a top-level array',
      querystring: S.ListReadersPageQuery,
      response: { 200: Type.Array(S.StripeObject) }
    }
  }, async (request, reply) => {
    // only the documented filters reach Stripe, never whatever else the query string holds; a key
    // bound to a location lists that location's readers
    const bound = request.merchant?.location
    const filters = { ...pick(request.query, ['location', 'status']), ...(bound == null ? {} : { location: bound }) }
    const { limit = 100, ...cursor } = pick(request.query, ['limit', 'starting_after', 'ending_before'])
    const list = async (p: Stripe.Terminal.ReaderListParams) =>
      await stripe().terminal.readers.list({ ...filters, ...p }, readOptions(request))
    const page = await pageOwned(request, 'reader', list, { limit, ...cursor })
    return pageHeaders(request, reply, page)
  })

  fastify.post('/process_payment_intent', {
    config: { errorPrefix: 'Error processing PaymentIntent!' },
    schema: {
      tags,
      security,
      consumes,
      summary: 'Hand a PaymentIntent to a reader',
      body: S.ProcessPaymentIntentBody,
      response: { 200: S.StripeObject }
    }
  }, async (request) => {
    const { reader_id: reader, payment_intent_id: paymentIntent } = request.body
    await assertOwned(request, { reader, payment_intent: paymentIntent })
    const params = { payment_intent: paymentIntent, ...pick(request.body, ['process_config']) }
    return await stripe().terminal.readers.processPaymentIntent(reader, params, callOptions(request, 'process'))
  })

  fastify.post('/process_setup_intent', {
    config: { errorPrefix: 'Error processing SetupIntent!' },
    schema: {
      tags,
      security,
      consumes,
      summary: 'Hand a SetupIntent to a reader',
      body: S.ProcessSetupIntentBody,
      response: { 200: S.StripeObject }
    }
  }, async (request) => {
    await assertOwned(request, { reader: request.body.reader_id, setup_intent: request.body.setup_intent_id })
    const consent = versioned('terminal.readers.process_setup_intent', fastify.config.apiVersion)
    const params = stripeParams<Stripe.Terminal.ReaderProcessSetupIntentParams>({
      setup_intent: request.body.setup_intent_id, ...consent, ...pick(request.body, ['process_config'])
    })
    return await stripe().terminal.readers.processSetupIntent(request.body.reader_id, params, callOptions(request, 'process'))
  })

  fastify.post('/set_reader_display', {
    config: { errorPrefix: 'Error setting reader display!' },
    schema: {

      tags,

      security,

      consumes,

      summary: 'Show a cart on a reader',

      body: S.SetReaderDisplayBody,

      response: { 200: S.StripeObject }

    }
  }, async (request) => {
    const { reader_id: reader, cart } = request.body
    await assertOwned(request, { reader })
    const params = stripeParams<Stripe.Terminal.ReaderSetReaderDisplayParams>({ type: 'cart', cart })
    return await stripe().terminal.readers.setReaderDisplay(reader, params, callOptions(request, 'display'))
  })

  fastify.post('/collect_inputs', {
    config: { errorPrefix: 'Error collecting inputs!' },
    schema: {

      tags,

      security,

      consumes,

      summary: 'Ask the customer for a signature, an email, a choice…',

      body: S.CollectInputsBody,

      response: { 200: S.StripeObject }

    }
  }, async (request) => {
    const { reader_id: reader } = request.body
    await assertOwned(request, { reader })
    const params = stripeParams<Stripe.Terminal.ReaderCollectInputsParams>(pick(request.body, ['inputs', 'metadata']))
    return await stripe().terminal.readers.collectInputs(reader, params, callOptions(request, 'collect'))
  })

  fastify.post('/collect_payment_method', {
    config: { errorPrefix: 'Error collecting payment method!' },
    schema: {

      tags,

      security,

      consumes,

      summary: 'Collect a card for a PaymentIntent, to confirm later',

      body: S.CollectPaymentMethodBody,

      response: { 200: S.StripeObject }

    }
  }, async (request) => {
    const { reader_id: reader, payment_intent_id: paymentIntent } = request.body
    await assertOwned(request, { reader, payment_intent: paymentIntent })
    const params = { payment_intent: paymentIntent, ...pick(request.body, ['collect_config']) }
    return await stripe().terminal.readers.collectPaymentMethod(reader, params, callOptions(request, 'collect'))
  })

  fastify.post('/confirm_payment_intent', {
    config: { errorPrefix: 'Error confirming PaymentIntent!' },
    schema: {

      tags,

      security,

      consumes,

      summary: 'Confirm a PaymentIntent whose card was collected',

      body: S.ConfirmPaymentIntentBody,

      response: { 200: S.StripeObject }

    }
  }, async (request) => {
    const { reader_id: reader, payment_intent_id: paymentIntent } = request.body
    await assertOwned(request, { reader, payment_intent: paymentIntent })
    const params = { payment_intent: paymentIntent, ...pick(request.body, ['confirm_config']) }
    return await stripe().terminal.readers.confirmPaymentIntent(reader, params, callOptions(request, 'confirm'))
  })

  fastify.get('/retrieve_reader', {
    config: { errorPrefix: 'Error retrieving Reader!' },
    schema: {

      tags,

      security,

      summary: 'A Reader, with its action (for polling)',

      querystring: S.ReaderQuery,

      response: { 200: S.StripeObject }

    }
  }, async (request) => {
    await assertOwned(request, { reader: request.query.reader_id })
    return await stripe().terminal.readers.retrieve(request.query.reader_id, undefined, readOptions(request))
  })

  fastify.get('/retrieve_payment_intent', {
    config: { errorPrefix: 'Error retrieving PaymentIntent!' },
    schema: {

      tags,

      security,

      summary: 'A PaymentIntent (for polling)',

      querystring: S.PaymentIntentQuery,

      response: { 200: S.StripeObject }

    }
  }, async (request) => {
    await assertOwned(request, { payment_intent: request.query.payment_intent_id })
    return await stripe().paymentIntents.retrieve(request.query.payment_intent_id, undefined, readOptions(request))
  })

  fastify.post('/cancel_reader_action', {
    config: { errorPrefix: 'Error canceling reader action!' },
    schema: {

      tags,

      security,

      consumes,

      summary: 'Cancel what a reader is doing',

      body: S.ReaderBody,

      response: { 200: S.StripeObject }

    }
  }, async (request) => {
    await assertOwned(request, { reader: request.body.reader_id })
    return await stripe().terminal.readers.cancelAction(request.body.reader_id, undefined, callOptions(request, 'cancel'))
  })

  fastify.post('/simulate_payment', {
    config: { errorPrefix: 'Error simulating payment!' },
    schema: {
      tags,
      security,
      consumes,
      summary: 'Present a test card to a simulated reader (test keys only)',
      body: S.SimulatePaymentBody,
      response: { 200: S.StripeObject }
    }
  }, async (request) => {
    if (fastify.stripe.key.includes('_live_')) {
      const message = 'Error simulating payment! Simulated payments need a test mode key; this backend uses a live key.'
      throw fail.forbidden(message, 'livemode_mismatch', 'invalid_request_error')
    }
    const { reader_id: reader, card_number: card } = request.body
    await assertOwned(request, { reader })
    const params: Parameters<Stripe['testHelpers']['terminal']['readers']['presentPaymentMethod']>[1] = card === undefined
      ? {}
      : { type: 'card_present', card_present: { number: card } }
    return await stripe().testHelpers.terminal.readers.presentPaymentMethod(reader, params, callOptions(request, 'present'))
  })

  fastify.get('/reader_action', {
    schema: {
      tags,
      security,
      summary: 'The last action outcome of a reader, from Stripe\'s terminal.reader.action_* webhooks',
      querystring: S.ReaderActionQuery,
      response: { 200: S.ReaderAction, 404: ErrorBody }
    }
  }, async (request, reply) => {
    const readerId = request.query.reader_id
    // a merchant key sees its own account's readers only; the platform's keys see every reader, as before
    // a database that cannot answer is a 503 "retry" (lib/errors.ts), as everywhere
    const row = await fastify.repos.readerActions.find(readerId, fastify.stripe.livemode, request.merchant?.account)
    if (row === undefined) {
      const message = fastify.maskSecrets(`No action recorded for reader ${readerId}.`)
      return await reply.code(404).send(errorBody({ type: 'invalid_request_error', message, code: 'resource_missing' }))
    }
    return readerActionBody(row)
  })

  fastify.post('/refund_payment', {
    config: { errorPrefix: 'Error refunding payment!' },
    schema: {
      tags,
      security,
      consumes,
      summary: 'Refund a payment (on the reader, for Interac, when reader_id is given)',
      body: S.RefundBody,
      response: { 200: S.StripeObject }
    }
  }, async (request) => {
    const { payment_intent_id: paymentIntent, charge, amount, reader_id: reader } = request.body
    const target = paymentIntent !== undefined ? { payment_intent: paymentIntent } : charge !== undefined ? { charge } : undefined
    if (target === undefined) {
      throw fail.invalid('\'payment_intent_id\' or \'charge\' is a required parameter', 'parameter_missing')
    }
    await assertOwned(request, { ...target, reader })
    const params = { ...target, ...(amount === undefined ? {} : { amount: Number(amount) }), ...refundParams(request) }
    if (reader !== undefined) return await stripe().terminal.readers.refundPayment(reader, params, callOptions(request, 'refund'))
    return await stripe().refunds.create(params, callOptions(request, 'refund'))
  })
}

export default readerRoutes
