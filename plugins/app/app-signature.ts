import fp from 'fastify-plugin'
import Stripe from 'stripe'
import { HttpError } from '../../lib/errors.js'
import { signatureHeader } from '../../lib/signature.js'

declare module 'fastify' {
  interface FastifyInstance {
    appSignature: {
      /** preValidation hook: verifies the raw body, then puts the verified JSON in `request.body` */
      verify: (request: import('fastify').FastifyRequest) => Promise<void>
    }
  }
  interface FastifyRequest {
    appUser: AppUser | undefined
  }
  interface FastifyContextConfig {
    /** role ids of which the signed user must hold one (`stripe_roles`) */
    roles?: string[]
  }
}

export interface AppUser {
  userId: string
  accountId: string
  roles: string[]
  /** the whole verified payload: the only source of parameters */
  payload: Record<string, unknown>
  nonce?: string
}

export const TOLERANCE_SECONDS = 300
export const FUTURE_SKEW_SECONDS = 60

const unauthorized = (message: string, code: string): HttpError => new HttpError(401, message, 'authentication_error', code)

/**
 * Stripe Apps UI-extension requests: `Stripe-Signature` over the raw body, made by Stripe with the
 * app's signing secret (`fetchStripeSignature`). Identity, roles and every parameter come from the
 * verified JSON only.
 */
export default fp(async function appSignature (fastify) {
  const secrets = fastify.config.appSecrets
  fastify.decorateRequest('appUser', undefined)

  fastify.decorate('appSignature', {
    async verify (request) {
      if (secrets.length === 0) throw new HttpError(503, 'The Stripe Apps API is not configured: set STRIPE_APP_SECRET.', 'api_error', 'app_secret_missing')
      const header = signatureHeader(request.headers['stripe-signature'])
      if (header === undefined) throw unauthorized('Missing Stripe-Signature header: send exactly one, from fetchStripeSignature().', 'signature_missing')
      const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
      const t = Number(/(?:^|,)\s*t=(\d+)/.exec(header)?.[1])
      if (Number.isFinite(t) && t > Math.floor(Date.now() / 1000) + FUTURE_SKEW_SECONDS) {
        throw unauthorized('Signature timestamp is in the future: check the server clock.', 'signature_timestamp')
      }
      let reason = ''
      const ok = secrets.some(secret => {
        try {
          return Stripe.webhooks.signature!.verifyHeader(raw, header, secret, TOLERANCE_SECONDS)
        } catch (err) {
          reason = (err as Error).message.split('\n')[0]!
          return false
        }
      })
      if (!ok) {
        throw unauthorized(`Signature verification failed: ${reason} Sign the exact body you send ({...payload, user_id, account_id}, in that order).`, 'signature_invalid')
      }
      let payload: unknown
      try {
        payload = JSON.parse(raw.toString('utf8'))
      } catch {
        throw unauthorized('The signed body is not JSON.', 'payload_invalid')
      }
      const p = payload as Record<string, unknown>
      if (typeof p !== 'object' || p === null || Array.isArray(p) ||
        typeof p.user_id !== 'string' || !p.user_id.startsWith('usr_') ||
        typeof p.account_id !== 'string' || !p.account_id.startsWith('acct_')) {
        throw unauthorized('The signed body must hold string user_id (usr_…) and account_id (acct_…).', 'payload_invalid')
      }
      const roles = Array.isArray(p.stripe_roles)
        ? p.stripe_roles.flatMap(r => typeof r === 'object' && r !== null && typeof (r as { id?: unknown }).id === 'string' ? [(r as { id: string }).id] : [])
        : []
      const nonce = p.nonce
      if (nonce !== undefined && (typeof nonce !== 'string' || nonce.length === 0 || nonce.length > 200)) {
        throw unauthorized('nonce must be a string of 1 to 200 characters.', 'payload_invalid')
      }

      // An account whose installation records are all uninstalled is refused.
      const installs = await fastify.store.db.selectFrom('installations').select('status').where('account', '=', p.account_id).execute()
      if (installs.length > 0 && !installs.some(i => i.status === 'installed')) {
        throw new HttpError(403, 'The app is uninstalled on this account.', 'permission_error', 'app_uninstalled')
      }
      const needed = request.routeOptions.config.roles
      if (needed !== undefined && !roles.some(r => needed.includes(r))) {
        throw new HttpError(403, `This action needs one of the roles ${needed.join(', ')}; sign stripe_roles with the request.`, 'permission_error', 'role_required')
      }
      // Single use within the tolerance window; stored, so every replica agrees.
      if (typeof nonce === 'string') {
        const res = await fastify.store.db.insertInto('nonces').values({
          nonce: `${p.account_id}:${nonce}`,
          account: p.account_id,
          expires_at: new Date((t + TOLERANCE_SECONDS + FUTURE_SKEW_SECONDS) * 1000).toISOString()
        }).onConflict(oc => oc.column('nonce').doNothing()).executeTakeFirst()
        if (Number(res.numInsertedOrUpdatedRows ?? 0n) === 0) throw unauthorized('This signed request was already used (nonce replay).', 'nonce_replayed')
      }
      request.appUser = { userId: p.user_id, accountId: p.account_id, roles, payload: p, ...(typeof nonce === 'string' ? { nonce } : {}) }
      request.body = p
    }
  })
}, { name: 'app-signature', dependencies: ['config', 'store'], fastify: '5.x' })
