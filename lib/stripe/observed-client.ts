import { performance } from 'node:perf_hooks'
import { SpanKind, SpanStatusCode, type Span, type Tracer } from '@opentelemetry/api'
import Stripe from 'stripe'
import { stripeOperation } from './operation.js'
import { errorFields, field, stringField } from '../values.js'

/** One HTTP attempt stripe-node made (a retried call is several). */
export interface StripeAttempt {
  /** bounded: `payment_intents.create` */
  operation: string
  outcome: 'ok' | 'stripe_error' | 'connection_error' | 'timeout'
  /** Stripe's `error.type` for a stripe_error (`card_error`, `api_error`…), else '' */
  errorType: string
  status?: number
  /** Stripe's `request-id` header, when Stripe answered */
  requestId?: string
  seconds: number
  /** this attempt re-sends one that failed (stripe-node's own retry) */
  retry: boolean
}

/** what an attempt's end tells */
type Outcome = Omit<StripeAttempt, 'operation' | 'seconds' | 'retry'>
type Headers = Parameters<Stripe.HttpClient['makeRequest']>[4]
type Response = Awaited<ReturnType<Stripe.HttpClient['makeRequest']>>

const ERROR_TYPE = /^[a-z_]{1,40}$/
/** how long a failed attempt waits for stripe-node's retry: more than its longest backoff (5 s) */
const RETRY_WINDOW_MS = 10_000
const header = (headers: Headers, name: string): string => {
  const v = headers[name]
  return typeof v === 'string' ? v : ''
}

/**
 * stripe-node's HTTP client with each attempt observed (operation, outcome, latency, Stripe's
 * request id, retry) and, when a tracer is given, a client span per attempt under the active
 * context. Requests, responses, timeouts and retries are the inner client's, unchanged: a response
 * stripe-node discards unread (before a retry) is read here, so its connection is freed and its
 * error type known. A retry is recognised by what it re-sends: two identical calls without an
 * idempotency key (GETs) failing at the same moment can be miscounted.
 */
export class ObservedHttpClient extends Stripe.HttpClient {
  /** attempts stripe-node will retry, by what the retry re-sends (method, path, idempotency key, account) */
  private readonly retrying = new Map<string, { at: number, attempt: number }>()

  constructor (
    private readonly inner: Stripe.HttpClient,
    /** stripe-node's maxNetworkRetries: whether it retries a failed connection depends on it */
    private readonly maxRetries: number,
    private readonly observe: (attempt: StripeAttempt) => void,
    private readonly tracer?: Tracer
  ) {
    super()
  }

  getClientName (): string {
    return this.inner.getClientName()
  }

  makeRequest (host: string, port: string, path: string, method: string, headers: Headers, body: string, protocol: string, timeout: number):
  Promise<Response> {
    const operation = stripeOperation(method, path)
    const key = `${method} ${path} ${header(headers, 'Idempotency-Key')} ${header(headers, 'Stripe-Account')}`
    const previous = this.retrying.get(key)
    const retry = previous !== undefined && performance.now() - previous.at < RETRY_WINDOW_MS
    if (previous !== undefined) this.retrying.delete(key)
    const number = retry ? previous.attempt + 1 : 0
    const span = this.tracer?.startSpan(`stripe ${operation}`, {
      kind: SpanKind.CLIENT,
      attributes: { 'stripe.operation': operation, 'http.request.method': method, 'server.address': host, 'stripe.retry': retry }
    })
    const started = performance.now()
    const finish = (attempt: Outcome, retried: boolean): void => {
      if (retried) this.remember(key, number)
      if (span !== undefined) endSpan(span, attempt)
      this.observe({ operation, seconds: (performance.now() - started) / 1000, retry, ...attempt })
    }
    const failure = (err: unknown): Outcome => {
      const timedOut = errorFields(err).code === Stripe.HttpClient.TIMEOUT_ERROR_CODE
      return { outcome: timedOut ? 'timeout' : 'connection_error', errorType: '' }
    }

    return this.inner.makeRequest(host, port, path, method, headers, body, protocol, timeout).then(res => {
      const status = res.getStatusCode()
      const rid = res.getHeaders()['request-id']
      const requestId = typeof rid === 'string' ? rid : undefined
      const answered = (json: unknown): Outcome => {
        if (status < 400) return { outcome: 'ok', errorType: '', status, ...(requestId === undefined ? {} : { requestId }) }
        const type = stringField(field(json, 'error'), 'type')
        const errorType = type !== undefined && ERROR_TYPE.test(type) ? type : 'api_error'
        return { outcome: 'stripe_error', errorType, status, ...(requestId === undefined ? {} : { requestId }) }
      }
      const wrapped: Response = {
        getStatusCode: () => status,
        getHeaders: () => res.getHeaders(),
        getRawResponse: () => res.getRawResponse(),
        toStream: (complete: () => void) => res.toStream(() => { finish(answered(null), false); complete() }),
        toJSON: () => res.toJSON().then(
          (json: unknown) => { finish(answered(json), false); return json },
          (err: unknown) => {
            finish(err instanceof SyntaxError ? answered(null) : failure(err), false)
            throw err
          }),
        // discarded before a retry: read it anyway (frees the connection, names the error)
        dispose: () => {
          res.toJSON().then(json => { finish(answered(json), true) }, () => { finish(answered(null), true) })
        }
      }
      return wrapped
    }, (err: unknown) => {
      // stripe-node's rule for a failed connection: a closed one is retried once whatever the
      // setting, any other while retries remain
      const code = errorFields(err).code
      const closed = typeof code === 'string' && Stripe.HttpClient.CONNECTION_CLOSED_ERROR_CODES.includes(code)
      finish(failure(err), (closed && number === 0) || number < this.maxRetries)
      throw err
    })
  }

  private remember (key: string, attempt: number): void {
    this.retrying.set(key, { at: performance.now(), attempt })
    // bounded: the oldest go first (a Map iterates in insertion order)
    if (this.retrying.size > 1000) for (const k of this.retrying.keys()) { this.retrying.delete(k); if (this.retrying.size <= 900) break }
  }
}

function endSpan (span: Span, attempt: Outcome): void {
  if (attempt.status !== undefined) span.setAttribute('http.response.status_code', attempt.status)
  if (attempt.requestId !== undefined) span.setAttribute('stripe.request_id', attempt.requestId)
  if (attempt.outcome !== 'ok') {
    span.setAttribute('error.type', attempt.errorType === '' ? attempt.outcome : attempt.errorType)
    span.setStatus({ code: SpanStatusCode.ERROR })
  }
  span.end()
}
