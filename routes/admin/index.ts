import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { requireCredentials } from '../../plugins/app/credentials.js'
import { fail } from '../../lib/errors.js'
import * as S from '../../schemas/admin.js'
import { rateLimited } from '../../plugins/app/gate.js'

/**
 * The admin area: merchant keys for platforms on Stripe Connect. JSON, no CORS (never a
 * browser's), rate limited, hidden from the public docs; enabled by ADMIN_API_KEY (503 without).
 * Creating and revoking are logged with the key's id and account, never the key.
 */
const admin: FastifyPluginAsyncTypebox = async (fastify) => {
  await fastify.register(rateLimited)
  await fastify.register(requireCredentials, { accepts: ['admin'] })

  const schema = { hide: true }

  fastify.post('/keys', { schema: { ...schema, body: S.CreateKeyBody, response: { 201: S.CreatedKey } } }, async (request, reply) => {
    const { charge } = request.body
    if (charge?.application_fee_amount !== undefined && charge.application_fee_percent !== undefined) {
      const message = 'charge takes application_fee_amount or application_fee_percent, not both.'
      throw fail.invalid(message, 'parameter_invalid')
    }
    const created = await fastify.merchantKeys.create(request.body)
    request.log.info({ key_id: created.id, account: created.account }, 'merchant key created')
    const { last_used_at: _used, revoked_at: _revoked, ...shown } = created
    return await reply.code(201).send(shown)
  })

  fastify.get('/keys', { schema: { ...schema, querystring: S.ListKeysQuery, response: { 200: S.KeyList } } }, async (request) => {
    return { data: await fastify.merchantKeys.list(request.query.account) }
  })

  fastify.delete('/keys/:id', { schema: { ...schema, params: S.KeyParams, response: { 200: S.MerchantKey } } }, async (request) => {
    const revoked = await fastify.merchantKeys.revoke(request.params.id)
    if (revoked === undefined) {
      throw fail.notFound(`No merchant key ${request.params.id}.`)
    }
    request.log.info({ key_id: revoked.id, account: revoked.account }, 'merchant key revoked')
    return revoked
  })
}

export default admin
