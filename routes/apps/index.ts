import type { FastifyError } from 'fastify'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { describeError, fail, logOutcome, sendErrorBody } from '../../lib/errors.js'
import { rawBody } from '../../plugins/app/bodies.js'
import { extensionOrigins } from '../../plugins/app/cors.js'
import { requireCredentials } from '../../plugins/app/credentials.js'
import * as S from '../../schemas/apps.js'
import { ErrorBody } from '../../schemas/common.js'
import type { AppUser } from '../../plugins/app/app-signature.js'
import { rateLimited } from '../../plugins/app/gate.js'

/**
 * The Stripe Apps API: the backend of a Dashboard UI extension. Every request is signed by Stripe
 * (`Stripe-Signature`), and every Stripe call acts on the signed account through Connect.
 */
const BODY_LIMIT = 64 * 1024

const apps: FastifyPluginAsyncTypebox = async (fastify) => {
  await fastify.register(extensionOrigins, { methods: ['POST'], allowedHeaders: ['Content-Type', 'Stripe-Signature'] })
  await fastify.register(rateLimited)
  await fastify.register(rawBody, { bodyLimit: BODY_LIMIT })
  await fastify.register(requireCredentials, { accepts: ['app-signature'] })

  fastify.setErrorHandler(function appsErrors (error: FastifyError, request, reply) {
    const outcome = describeError(error, { bodyLimit: BODY_LIMIT })
    logOutcome(request.log, outcome, error)
    return sendErrorBody(reply, outcome)
  })

  const tags = ['apps']
  const security = [{ stripeSignature: [] }]
  const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody }
  const user = (request: { appUser: AppUser | undefined }): AppUser => {
    // set by the signature check every route of this area runs first
    if (request.appUser === undefined) throw fail.unauthenticated('No verified Stripe signature.', 'signature_missing')
    return request.appUser
  }
  const stripe = () => fastify.stripe.client()
  /** only the fields that were sent */
  const defined = <T extends object>(fields: T): Partial<T> =>
    // cast: Object.fromEntries loses the key types; the entries are T's own
    Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Partial<T>

  fastify.post('/session', {
    config: { readOnly: true },
    schema: {
      tags,
      security,
      summary: 'Who signed this request, and the app\'s installation on their account',
      body: S.SessionBody,
      response: { 200: S.Session, ...errors }
    }
  }, async (request) => {
    const { userId, accountId, roles } = user(request)
    const rows = await fastify.repos.installations.forAccount(accountId)
    const mine = rows.find(r => r.livemode === fastify.stripe.livemode) ?? rows[0]
    const installation = mine === undefined
      ? null
      : { status: mine.status, livemode: mine.livemode === 1, installed_at: mine.installed_at, uninstalled_at: mine.uninstalled_at }
    return { user_id: userId, account_id: accountId, roles, installation }
  })

  fastify.post('/account', {
    config: { readOnly: true },
    schema: {
      tags,
      security,
      summary: 'The signed account (GET /v1/account with Stripe-Account)',
      body: S.SessionBody,
      response: { 200: S.StripeObject, ...errors }
    }
  }, async (request) => {
    return await stripe().accounts.retrieveCurrent(undefined, { stripeAccount: user(request).accountId })
  })

  fastify.post('/customers/create', {
    schema: {
      tags,
      security,
      summary: 'Create a Customer on the signed account',
      body: S.CustomerCreateBody,
      response: { 200: S.StripeObject, ...errors }
    }
  }, async (request) => {
    const { accountId, nonce } = user(request)
    const { email, name, description, metadata } = request.body
    // A nonce makes the request single-use here and the Stripe call idempotent across retries.
    const idempotency = nonce === undefined ? {} : { idempotencyKey: `apps-customer-${accountId}-${nonce}` }
    return await stripe().customers.create(defined({ email, name, description, metadata }), { stripeAccount: accountId, ...idempotency })
  })

  fastify.post('/customers/list', {
    config: { readOnly: true },
    schema: {
      tags,
      security,
      summary: 'List Customers of the signed account',
      body: S.CustomerListBody,
      response: { 200: S.CustomerList, ...errors }
    }
  }, async (request) => {
    const { limit, starting_after: startingAfter } = request.body
    const params = { limit: limit ?? 10, ...defined({ starting_after: startingAfter }) }
    const page = await stripe().customers.list(params, { stripeAccount: user(request).accountId })
    return { data: page.data, has_more: page.has_more }
  })

  // The fleet, read-only, for a Dashboard view: the signed account's own locations and readers.
  fastify.post('/terminal/locations', {
    config: { readOnly: true },
    schema: {
      tags, security, summary: 'Terminal locations of the signed account', body: S.FleetListBody, response: { 200: S.Page, ...errors }
    }
  }, async (request) => {
    const { limit = 10, starting_after: startingAfter } = request.body
    const page = await stripe().terminal.locations.list(
      { limit, ...defined({ starting_after: startingAfter }) }, { stripeAccount: user(request).accountId }
    )
    return { data: page.data, has_more: page.has_more }
  })

  fastify.post('/terminal/readers', {
    config: { readOnly: true },
    schema: {
      tags, security, summary: 'Terminal readers of the signed account', body: S.ReaderListBody, response: { 200: S.Page, ...errors }
    }
  }, async (request) => {
    const { limit = 10, starting_after: startingAfter, location } = request.body
    const page = await stripe().terminal.readers.list(
      { limit, ...defined({ starting_after: startingAfter, location }) }, { stripeAccount: user(request).accountId }
    )
    return { data: page.data, has_more: page.has_more }
  })

  fastify.post('/settings/get', {
    config: { readOnly: true },
    schema: {
      tags,
      security,
      summary: 'The app\'s settings for the signed account',
      body: S.SessionBody,
      response: { 200: S.Settings, ...errors }
    }
  }, async (request) => {
    return { settings: await fastify.repos.appSettings.get(user(request).accountId) }
  })

  fastify.post('/settings/put', {
    config: { roles: ['admin', 'super_admin', 'developer'] },
    schema: {
      tags,
      security,
      summary: 'Replace the app\'s settings for the signed account (admin or developer)',
      body: S.SettingsPutBody,
      response: { 200: S.Settings, ...errors, 413: ErrorBody }
    }
  }, async (request) => {
    const { accountId } = user(request)
    const json = JSON.stringify(request.body.settings)
    const bytes = Buffer.byteLength(json)
    if (bytes > S.SETTINGS_MAX_BYTES) {
      const message = `settings is ${bytes} bytes serialized; the limit is ${S.SETTINGS_MAX_BYTES}.`
      throw fail.tooLarge(message, 'settings_too_large')
    }
    await fastify.repos.appSettings.put(accountId, request.body.settings)
    return { settings: request.body.settings }
  })
}

export default apps
