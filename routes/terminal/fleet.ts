import type { FastifyReply, FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type Stripe from 'stripe'
import { fail } from '../../lib/errors.js'
import { pick, stripeParams } from './texts.js'
import { callOptions, readOptions } from './calls.js'
import { assertOwned, bounds, type Page } from './ownership.js'
import * as S from '../../schemas/terminal.js'

const { tags, security, consumes } = S

/**
 * Stripe's `has_more` and the cursors that continue, as headers: the answer stays the top-level
 * array the official apps parse. `Link` is RFC 8288's, with the query of this request and the cursor.
 */
export function pageHeaders<T> (request: FastifyRequest, reply: FastifyReply, page: Page<T>): T[] {
  const q = request.url.indexOf('?')
  const path = q === -1 ? request.url : request.url.slice(0, q)
  const link = (cursor: 'starting_after' | 'ending_before', id: string): string => {
    const params = new URLSearchParams(q === -1 ? '' : request.url.slice(q + 1))
    params.delete('starting_after')
    params.delete('ending_before')
    params.set(cursor, id)
    return `<${path}?${params.toString()}>`
  }
  const links = [
    ...(page.next === undefined ? [] : [`${link('starting_after', page.next)}; rel="next"`]),
    ...(page.previous === undefined ? [] : [`${link('ending_before', page.previous)}; rel="prev"`])
  ]
  reply.header('stripe-has-more', String(page.hasMore))
  if (links.length > 0) reply.header('link', links.join(', '))
  return page.data
}

/** A configuration is an account's own: a destination key's merchant has none on the platform. */
function accountOnly (request: FastifyRequest): void {
  if (request.merchant?.charge.type === 'destination') {
    throw fail.forbidden('Reader configurations belong to an account: a destination-charge key acts on the platform, ' +
      'whose configurations are the platform\'s. Ask the platform, or use a direct key.', 'configuration_not_allowed')
  }
}

/**
 * Fleet management beyond create-and-list: locations and readers updated, retired and paged, and
 * reader configurations (tipping, offline mode, reboot window). Registered inside the Terminal
 * area: its CORS, parsers, credentials, merchant scoping and error texts apply.
 */
const fleetRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const stripe = (): Stripe => fastify.stripe.client()
  const deleted = { 200: S.Deleted }

  fastify.get('/retrieve_location', {
    config: { errorPrefix: 'Error retrieving Location!' },
    schema: {

      tags,

      security,

      summary: 'A Location',

      querystring: S.LocationQuery,

      response: { 200: S.StripeObject }

    }
  }, async (request) => {
    await assertOwned(request, { location: request.query.location_id })
    return await stripe().terminal.locations.retrieve(request.query.location_id, undefined, readOptions(request))
  })

  fastify.post('/update_location', {
    config: { errorPrefix: 'Error updating Location!' },
    schema: {

      tags,

      security,

      consumes,

      summary: 'Rename, readdress or reconfigure a Location',

      body: S.UpdateLocationBody,

      response: { 200: S.StripeObject }

    }
  }, async (request) => {
    const { location_id: id } = request.body
    const params = pick(request.body, ['display_name', 'address', 'configuration_overrides', 'metadata'])
    await assertOwned(request, { location: id })
    const options = callOptions(request, 'update')
    return await stripe().terminal.locations.update(id, stripeParams<Stripe.Terminal.LocationUpdateParams>(params), options)
  })

  fastify.post('/delete_location', {
    config: { errorPrefix: 'Error deleting Location!' },
    schema: {

      tags,

      security,

      consumes,

      summary: 'Delete a Location',

      body: S.LocationBody,

      response: deleted

    }
  }, async (request) => {
    await assertOwned(request, { location: request.body.location_id })
    const gone = await stripe().terminal.locations.del(request.body.location_id, undefined, callOptions(request, 'delete'))
    request.log.info({ location: gone.id }, 'Location deleted')
    return gone
  })

  fastify.post('/update_reader', {
    config: { errorPrefix: 'Error updating Reader!' },
    schema: {

      tags,

      security,

      consumes,

      summary: 'Relabel a Reader or change its metadata',

      body: S.UpdateReaderBody,

      response: { 200: S.StripeObject }

    }
  }, async (request) => {
    const { reader_id: id } = request.body
    await assertOwned(request, { reader: id })
    const params = pick(request.body, ['label', 'metadata'])
    const options = callOptions(request, 'update')
    return await stripe().terminal.readers.update(id, stripeParams<Stripe.Terminal.ReaderUpdateParams>(params), options)
  })

  fastify.post('/delete_reader', {
    config: { errorPrefix: 'Error deleting Reader!' },
    schema: {

      tags,

      security,

      consumes,

      summary: 'Retire a Reader (register it again to use it)',

      body: S.ReaderBody,

      response: deleted

    }
  }, async (request) => {
    await assertOwned(request, { reader: request.body.reader_id })
    const gone = await stripe().terminal.readers.del(request.body.reader_id, undefined, callOptions(request, 'delete'))
    request.log.info({ reader: gone.id }, 'Reader deleted')
    return gone
  })

  fastify.get('/list_configurations', {
    config: { errorPrefix: 'Error fetching Configurations!' },
    schema: {
      tags,
      security,
      summary: 'List reader configurations, as a top-level array',
      querystring: S.ListConfigurationsQuery,
      response: { 200: Type.Array(S.StripeObject) }
    }
  }, async (request, reply) => {
    accountOnly(request)
    const { limit = 100, ...cursor } = pick(request.query, ['limit', 'starting_after', 'ending_before'])
    const page = await stripe().terminal.configurations.list({ limit, ...cursor }, readOptions(request))
    const backwards = cursor.ending_before !== undefined
    return pageHeaders(request, reply, bounds(page.data, page.has_more, backwards, { limit, ...cursor }))
  })

  fastify.post('/create_configuration', {
    config: { errorPrefix: 'Error creating Configuration!' },
    schema: {

      tags,

      security,

      consumes,

      summary: 'Create a reader configuration',

      body: S.CreateConfigurationBody,

      response: { 200: S.StripeObject }

    }
  }, async (request) => {
    accountOnly(request)
    const params = pick(request.body, ['name', 'tipping', 'offline', 'reboot_window'])
    const configuration = await stripe().terminal.configurations.create(
      stripeParams<Stripe.Terminal.ConfigurationCreateParams>(params), callOptions(request, 'create')
    )
    request.log.info({ configuration: configuration.id }, 'Configuration created')
    return configuration
  })

  fastify.post('/update_configuration', {
    config: { errorPrefix: 'Error updating Configuration!' },
    schema: {

      tags,

      security,

      consumes,

      summary: 'Change a reader configuration',

      body: S.UpdateConfigurationBody,

      response: { 200: S.StripeObject }

    }
  }, async (request) => {
    accountOnly(request)
    const params = pick(request.body, ['name', 'tipping', 'offline', 'reboot_window'])
    return await stripe().terminal.configurations.update(
      request.body.configuration_id, stripeParams<Stripe.Terminal.ConfigurationUpdateParams>(params), callOptions(request, 'update')
    )
  })

  fastify.post('/delete_configuration', {
    config: { errorPrefix: 'Error deleting Configuration!' },
    schema: {

      tags,

      security,

      consumes,

      summary: 'Delete a reader configuration',

      body: S.ConfigurationBody,

      response: deleted

    }
  }, async (request) => {
    accountOnly(request)
    return await stripe().terminal.configurations.del(request.body.configuration_id, undefined, callOptions(request, 'delete'))
  })
}

export default fleetRoutes
