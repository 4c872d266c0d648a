import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { HttpError, fail } from '../../lib/errors.js'
import { checkInput } from '../../lib/input.js'
import { signatureHeader, signatureProblem, signatureTimestamp, TOLERANCE_SECONDS } from '../../lib/signature.js'
import { isRecord, stringField } from '../../lib/values.js'

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
    /**
     * The route changes nothing, so it also accepts Stripe's default signed payload (identity only,
     * other body fields unsigned). Without it a route accepts only a signature over the raw body.
     */
    readOnly?: boolean
  }
}

export interface AppUser {
  userId: string
  accountId: string
  /** what the signature covers: the exact raw body, or only `{"user_id","account_id"}` */
  signed: 'body' | 'identity'
  roles: string[]
  /** the whole verified payload: the only source of parameters */
  payload: Record<string, unknown>
  nonce?: string
}

export const FUTURE_SKEW_SECONDS = 60
const USER = /^usr_[A-Za-z0-9]{1,250}$/
const ACCOUNT = /^acct_[A-Za-z0-9]{1,250}$/
/** printable ASCII: a nonce is stored, and Postgres refuses a NUL */
const NONCE = /^[\x20-\x7e]{1,200}$/

/**
 * Stripe Apps UI-extension requests: `Stripe-Signature` made by Stripe with the app's signing
 * secret (`fetchStripeSignature`), over either of Stripe's two documented contents. Identity and
 * roles come from signed content only; routes that change data accept only a signed raw body.
 */
export default fp(async function appSignature (fastify) {
  const secrets = fastify.config.appSecrets
  fastify.decorateRequest('appUser', undefined)

  fastify.decorate('appSignature', {
    async verify (request) {
      try {
        await verify(request)
      } catch (err) {
        if (err instanceof HttpError && err.statusCode === 401 && err.code !== null) fastify.metrics.appsSignatureFailure(err.code)
        throw err
      }
    }
  })

  async function verify (request: FastifyRequest): Promise<void> {
    if (secrets.length === 0) {
      throw fail.unavailable('The Stripe Apps API is not configured: set STRIPE_APP_SECRET.', 'app_secret_missing')
    }
    const header = signatureHeader(request.headers['stripe-signature'])
    if (header === undefined) {
      throw fail.unauthenticated('Missing Stripe-Signature header: send exactly one, from fetchStripeSignature().', 'signature_missing')
    }
    const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
    const t = signatureTimestamp(header) ?? 0
    if (t > Math.floor(Date.now() / 1000) + FUTURE_SKEW_SECONDS) {
      throw fail.unauthenticated('Signature timestamp is in the future: check the server clock.', 'signature_timestamp')
    }
    const verifies = (content: string | Buffer): string | undefined => signatureProblem(content, header, secrets)

    let parsed: unknown
    try {
      parsed = JSON.parse(raw.toString('utf8'))
    } catch {
      parsed = undefined
    }
    // anything but a JSON object (`x`, `null`, an empty body) is an empty object here: it identifies nobody
    const payload = isRecord(parsed) ? parsed : {}
    // Stripe's id shapes: these go into a header (Stripe-Account) and the database, so nothing else gets that far
    const userId = stringField(payload, 'user_id') ?? ''
    const accountId = stringField(payload, 'account_id') ?? ''
    const identified = USER.test(userId) && ACCOUNT.test(accountId)

    // (a) additional payload: the signature covers the exact raw body, so every field is signed.
    // (b) Stripe's default payload: it covers `{"user_id","account_id"}` rebuilt from the body.
    const bodyProblem = verifies(raw)
    let signed: AppUser['signed'] = 'body'
    if (bodyProblem !== undefined) {
      const identity = identified ? JSON.stringify({ user_id: userId, account_id: accountId }) : undefined
      const identityProblem = identity === undefined ? bodyProblem : verifies(identity)
      if (identityProblem !== undefined) {
        throw fail.unauthenticated(`Signature verification failed: ${bodyProblem} Sign the exact body you send ` +
          '({...payload, user_id, account_id}, in that order), or send user_id and account_id as signed by fetchStripeSignature().',
        'signature_invalid')
      }
      signed = 'identity'
    }
    if (parsed === undefined) throw fail.unauthenticated('The signed body is not JSON.', 'payload_invalid')
    checkInput(parsed, { maxDepth: 16, maxKeys: 2000 })
    if (!identified) {
      throw fail.unauthenticated('The signed body must hold string user_id (usr_…) and account_id (acct_…).', 'payload_invalid')
    }
    if (signed === 'identity' && request.routeOptions.config.readOnly !== true) {
      const message = 'This route changes data, so every field must be signed: pass the fields to ' +
        'fetchStripeSignature(payload) and send JSON.stringify({...payload, user_id, account_id}).'
      throw fail.unauthenticated(message, 'signature_identity_only')
    }
    // Roles and the nonce count only when signed: under the default payload they are not.
    const roles = signed === 'body' && Array.isArray(payload.stripe_roles)
      ? payload.stripe_roles.flatMap(r => stringField(r, 'id') ?? [])
      : []
    const nonce = signed === 'body' ? payload.nonce : undefined
    if (nonce !== undefined && (typeof nonce !== 'string' || !NONCE.test(nonce))) {
      throw fail.unauthenticated('nonce must be a string of 1 to 200 printable characters.', 'payload_invalid')
    }

    // An account whose installation records are all uninstalled is refused.
    const installs = await fastify.repos.installations.forAccount(accountId)
    if (installs.length > 0 && !installs.some(i => i.status === 'installed')) {
      throw fail.forbidden('The app is uninstalled on this account.', 'app_uninstalled')
    }
    const needed = request.routeOptions.config.roles
    if (needed !== undefined && !roles.some(r => needed.includes(r))) {
      const message = `This action needs one of the roles ${needed.join(', ')}; sign stripe_roles with the request.`
      throw fail.forbidden(message, 'role_required')
    }
    // Single use within the tolerance window; stored, so every replica agrees.
    if (typeof nonce === 'string') {
      const fresh = await fastify.repos.nonces.use(accountId, nonce, new Date((t + TOLERANCE_SECONDS + FUTURE_SKEW_SECONDS) * 1000))
      if (!fresh) {
        throw fail.unauthenticated('This signed request was already used (nonce replay).', 'nonce_replayed')
      }
    }
    request.appUser = { userId, accountId, signed, roles, payload, ...(typeof nonce === 'string' ? { nonce } : {}) }
    request.body = payload
  }
}, { name: 'app-signature', dependencies: ['config', 'store', 'metrics'], fastify: '5.x' })
