import Stripe from 'stripe'
import { maskSecrets } from './redact.js'
import { validationMessage } from './validation.js'
import { errorFields, field, stringField } from './values.js'

/** An error a handler throws on purpose: its status and message reach the client as they are. */
export class HttpError extends Error {
  constructor (
    readonly statusCode: number,
    message: string,
    readonly type: string = 'invalid_request_error',
    readonly code: string | null = null,
    readonly headers: Record<string, string> = {}
  ) {
    super(message)
    this.name = 'HttpError'
  }
}

/**
 * The failures handlers and hooks throw (or pass to `done`), by what the caller did wrong; each
 * area's error handler renders them in its own form (JSON envelope, or the Terminal API's text).
 * The one place an error's status and Stripe-style type are chosen.
 */
export const fail = {
  /** 400: a parameter or body the route cannot take */
  invalid: (message: string, code: string | null = null): HttpError => new HttpError(400, message, 'invalid_request_error', code),
  /** 401 with `WWW-Authenticate`: no valid credential for this area */
  unauthenticated: (message: string, code: string | null = null, realm = 'api'): HttpError =>
    new HttpError(401, message, 'authentication_error', code, { 'www-authenticate': `Bearer realm="${realm}", charset="UTF-8"` }),
  /** 403: a valid credential that may not do this */
  forbidden: (message: string, code: string | null = null, type = 'permission_error'): HttpError => new HttpError(403, message, type, code),
  /** 404: no such object (for this caller) */
  notFound: (message: string, code: string | null = 'resource_missing'): HttpError =>
    new HttpError(404, message, 'invalid_request_error', code),
  /** 413: a body or value over this route's limit */
  tooLarge: (message: string, code: string | null = null): HttpError => new HttpError(413, message, 'invalid_request_error', code),
  /** 429 with `Retry-After`: too many at once from this caller */
  tooMany: (message: string, code: string, retryAfterSeconds: number): HttpError =>
    new HttpError(429, message, 'rate_limit_error', code, { 'retry-after': String(retryAfterSeconds) }),
  /** 502 or 504: an upstream could not be reached or did not answer in time */
  upstream: (status: 502 | 504, message: string): HttpError => new HttpError(status, message, 'api_error'),
  /** 503: this part of the service is off or cannot answer now; the caller may retry */
  unavailable: (message: string, code: string | null = null): HttpError => new HttpError(503, message, 'api_error', code)
}

/** Thrown when a route needs Stripe and no key is configured for the selected mode. */
export class NoStripeKeyError extends HttpError {
  constructor (variable: string) {
    super(503, `No Stripe API key is configured: set ${variable}.`, 'api_error', 'stripe_key_missing')
    this.name = 'NoStripeKeyError'
  }
}

/** A Stripe failure raised with its own prefix (a route's second Stripe call that the original worded apart). */
export class PrefixedError extends Error {
  constructor (readonly prefix: string, readonly cause: unknown) {
    super(prefix)
    this.name = 'PrefixedError'
  }
}

export interface MappedError {
  status: number
  type: string
  code: string | null
  message: string
  /** true when Stripe itself answered (any status), false for network failures */
  answered: boolean
  /** Stripe's `request-id`, to find the call in the Dashboard */
  requestId: string | null
  /** the status Stripe answered with (undefined when it did not answer) */
  stripeStatus?: number
}

const PASSTHROUGH = new Set([400, 401, 402, 403, 404, 409, 429])

/**
 * The one place a stripe-node error becomes a status and a body. Stripe's 4xx statuses that a
 * caller can act on pass through; Stripe's 5xx (after stripe-node's retries) is a 502; a timeout
 * is a 504 and an unreachable Stripe a 502. Returns undefined for anything that is not Stripe's.
 */
export function mapStripeError (err: unknown): MappedError | undefined {
  if (!(err instanceof Stripe.errors.StripeError)) return undefined
  if (err instanceof Stripe.errors.StripeConnectionError) {
    const timeout = /timeout/i.test(err.message) ||
      field(err.detail, 'code') === Stripe.HttpClient.TIMEOUT_ERROR_CODE
    return {
      status: timeout ? 504 : 502,
      type: 'api_connection_error',
      code: timeout ? 'timeout' : 'unreachable',
      message: maskSecrets(err.message),
      answered: false,
      requestId: null
    }
  }
  if (err instanceof Stripe.errors.StripeSignatureVerificationError) return undefined
  const status = err.statusCode ?? 502
  return {
    status: PASSTHROUGH.has(status) ? status : 502,
    type: err.rawType ?? 'api_error',
    code: err.code ?? null,
    // stripe-mock echoes the whole key in its 401 text; a till shows this text to a person
    message: maskSecrets(err.message),
    answered: err.statusCode !== undefined,
    requestId: err.requestId ?? null,
    ...(err.statusCode === undefined ? {} : { stripeStatus: err.statusCode })
  }
}

// SQLSTATEs of a database that cannot serve now (rather than of a bad statement): class 08
// (connection), 53300 too many connections, 55P03 lock timeout, 57014 statement timeout, 57P0x
// shutting down or starting; and SQLite's busy/locked.
const UNAVAILABLE_STATE = /^(08...|53300|55P03|57014|57P0[1-4])$/
const UNAVAILABLE_CODE = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'SQLITE_BUSY', 'SQLITE_LOCKED'
])
const UNAVAILABLE_MESSAGE = new RegExp('^(Query read timeout|timeout exceeded when trying to connect|Connection terminated|' +
  'Client has encountered a connection error|Client was closed)')

/** The database cannot serve right now (down, stalled, overloaded, locked): worth a retry, not a 500. */
export function storeUnavailable (error: unknown): boolean {
  const { code, message, statusCode } = errorFields(error)
  // an error with an HTTP status is the request's (a body cut off mid-way is an ECONNRESET too)
  if (statusCode !== undefined) return false
  return (code !== undefined && (UNAVAILABLE_STATE.test(code) || UNAVAILABLE_CODE.has(code))) || UNAVAILABLE_MESSAGE.test(message)
}

export interface ErrorOutcome {
  status: number
  type: string
  message: string
  code: string | null
  headers: Record<string, string>
  /** a Stripe error: answered by Stripe (true) or a network failure (false); undefined otherwise */
  stripeAnswered?: boolean
  /** what an operator needs to find a failed Stripe call (never a key) */
  stripe?: { type: string, code: string | null, message: string, request_id: string | null, status?: number }
  /** not the caller's doing: log it, and show no detail */
  internal: boolean
  /** the database could not serve it (logged at warn, without a stack) */
  store?: true
}

/**
 * The one mapping from anything a handler or plugin throws to what the caller is told. Areas
 * render it (JSON envelope, or the Terminal API's text) and add their own wording.
 */
export function describeError (error: unknown, context: { bodyLimit?: number } = {}): ErrorOutcome {
  if (error instanceof PrefixedError) {
    const inner = describeError(error.cause, context)
    return { ...inner, message: `${error.prefix} ${inner.message}` }
  }
  const stripe = mapStripeError(error)
  if (stripe !== undefined) {
    const { type, code, message, requestId, stripeStatus } = stripe
    return {
      status: stripe.status,
      type,
      message,
      code,
      headers: {},
      stripeAnswered: stripe.answered,
      stripe: { type, code, message, request_id: requestId, ...(stripeStatus === undefined ? {} : { status: stripeStatus }) },
      internal: false
    }
  }
  if (error instanceof Error && 'validation' in error && Array.isArray(error.validation)) {
    const message = validationMessage(error.validation, stringField(error, 'validationContext'))
    return { status: 400, type: 'invalid_request_error', message, code: 'parameter_invalid', headers: {}, internal: false }
  }
  if (error instanceof HttpError) {
    const { statusCode: status, type, message, code, headers } = error
    return { status, type, message, code, headers, internal: false }
  }
  if (storeUnavailable(error)) {
    const message = 'The service cannot reach its database right now; retry shortly.'
    const headers = { 'retry-after': '1' }
    return { status: 503, type: 'api_error', message, code: 'store_unavailable', headers, internal: false, store: true }
  }
  const fields = errorFields(error)
  const status = fields.statusCode ?? 500
  if (fields.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    const limit = context.bodyLimit === undefined ? '' : `: at most ${context.bodyLimit} bytes here`
    const message = `Request body is too large${limit}.`
    return { status: 413, type: 'invalid_request_error', message, code: 'body_too_large', headers: {}, internal: false }
  }
  // @fastify/rate-limit throws the body its errorResponseBuilder made
  if (status === 429) {
    const message = stringField(field(error, 'error'), 'message') ?? 'Too many requests.'
    return { status, type: 'rate_limit_error', message, code: 'rate_limit', headers: {}, internal: false }
  }
  if (status >= 400 && status < 500) {
    const message = fields.message === '' ? 'Bad request.' : fields.message
    return { status, type: 'invalid_request_error', message, code: fields.code ?? null, headers: {}, internal: false }
  }
  return { status: 500, type: 'api_error', message: 'Internal server error.', code: null, headers: {}, internal: true }
}

/**
 * Stripe's error envelope, the one every JSON error is built with. `code` is left out when the
 * caller has none to give (the proxy's and webhooks' refusals, whose shape CONTRACT.md fixes).
 */
interface ErrorFields { type: string, message: string, code?: string | null }
export const errorBody = (e: ErrorFields): { error: ErrorFields } =>
  ({ error: e.code === undefined ? { type: e.type, message: e.message } : { type: e.type, message: e.message, code: e.code } })

// method syntax: any Fastify reply fits, whatever status codes its route's schema names
interface Reply { code (status: number): Reply, headers (values: Record<string, string>): Reply, send (payload: unknown): unknown }

/** Sends a described error as the JSON envelope, with its status and headers. */
export const sendErrorBody = (reply: Reply, e: ErrorOutcome): unknown => reply.code(e.status).headers(e.headers).send(errorBody(e))

interface Log { warn: (obj: object, msg: string) => void, error: (obj: object, msg: string) => void }

/**
 * The one log line of a failed request: an internal error with its stack, a failed Stripe call
 * with Stripe's type, code, message and request id at warn (messages are masked; never a key).
 */
export function logOutcome (log: Log, e: ErrorOutcome, error: unknown): void {
  if (e.internal) log.error({ err: error }, 'unhandled error')
  else if (e.store === true) {
    const { message, code } = errorFields(error)
    log.warn({ err: { message, code } }, 'database unavailable: answered 503')
  } else if (e.stripe !== undefined) {
    log.warn({ status: e.status, stripe: e.stripe }, e.stripeAnswered === true ? 'Stripe call failed' : 'Stripe unreachable')
  }
}
