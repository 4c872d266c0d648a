import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { NoStripeKeyError, PrefixedError, describeError, errorBody, logOutcome, sendErrorBody } from '../../lib/errors.js'
import { UnknownObjectError } from './ownership.js'
import { isRecord } from '../../lib/values.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** the original backend's error prefix, e.g. `Error creating PaymentIntent!` */
    errorPrefix?: string | ((params: Record<string, unknown>) => string)
    /** the route is one of the six the original checked the Stripe key on */
    checkKey?: boolean
    /** the area a route belongs to, stamped by the area itself (the isolation tests find the Terminal routes by it) */
    area?: 'terminal'
    /** the route answers with a stream that stays open (tests read its status, then close it) */
    streams?: true
  }
}

const wantsJson = (request: FastifyRequest): boolean => /application\/json/i.test(request.headers.accept ?? '')

/** Clients show the body text to the person at the till: text/plain, or JSON when asked for. */
export function sendError (
  request: FastifyRequest, reply: FastifyReply, status: number, text: string, type: string, code: string | null
): FastifyReply {
  // an id the caller sent is echoed in some texts: never a configured secret
  const message = request.server.maskSecrets(text)
  reply.code(status)
  if (wantsJson(request)) return reply.type('application/json; charset=utf-8').send(errorBody({ type, message, code }))
  return reply.type('text/plain; charset=utf-8').send(message)
}

/**
 * The Terminal API's error handler: the original's texts — a validation failure names the
 * parameter (lib/validation.ts); a Stripe error is 402 `<prefix> <Stripe's message>` (502/504 when Stripe was not
 * reached); anything else keeps its status — as text, or JSON when the client asks for it.
 */
export function terminalErrors (bodyLimit: number) {
  return function terminalErrorHandler (error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
    // Asked only for errors that carry one: a prefix may name a parameter, which a validation failure
    // says is not what the route takes. An error with its own prefix (the attach route's customer
    // lookup) carries it in its message.
    const withPrefix = (message: string): string => {
      const configured = request.routeOptions.config.errorPrefix
      const prefix = error instanceof PrefixedError
        ? undefined
        : typeof configured === 'function' ? configured(isRecord(request.body) ? request.body : {}) : configured
      return prefix === undefined ? message : `${prefix} ${message}`
    }
    const outcome = describeError(error, { bodyLimit })
    logOutcome(request.log, outcome, error)
    // No key for a route the original did not check: its prefix and a 402, as a Stripe error would be;
    // an id the caller's key may not act on reads as Stripe's own "No such …", under the route's prefix
    if (error instanceof NoStripeKeyError || error instanceof UnknownObjectError) {
      const status = error instanceof UnknownObjectError ? 404 : 402
      return sendError(request, reply, status, withPrefix(outcome.message), 'invalid_request_error', outcome.code)
    }
    if (outcome.stripeAnswered !== undefined) {
      // Stripe answered (any status, after stripe-node's retries): 402 with Stripe's message
      const status = outcome.stripeAnswered ? 402 : outcome.status
      return sendError(request, reply, status, withPrefix(outcome.message), outcome.type, outcome.code)
    }
    // a credential refusal reads the same in every area: the JSON envelope, with WWW-Authenticate
    if (outcome.status === 401) {
      sendErrorBody(reply, outcome)
      return reply
    }
    reply.headers(outcome.headers)
    return sendError(request, reply, outcome.status, outcome.message, outcome.type, outcome.code)
  }
}
