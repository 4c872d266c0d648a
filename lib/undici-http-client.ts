import { Agent, request, type Dispatcher } from 'undici'
import Stripe from 'stripe'

type Headers = Parameters<Stripe.HttpClient['makeRequest']>[4]
type Response = Awaited<ReturnType<Stripe.HttpClient['makeRequest']>>

/** sockets per Stripe origin: beyond that, calls wait for one (the wait counts in their timeout) */
export const POOL_CONNECTIONS = 128

/** A keep-alive pool with a bounded number of sockets per origin, TLS verified (undici's default). */
export function stripeAgent (timeoutMs: number): Agent {
  return new Agent({
    connections: POOL_CONNECTIONS,
    // the attempt's own timer (below) is the timeout; undici's own timers, in half-second ticks, are off
    headersTimeout: 0,
    bodyTimeout: 0,
    connect: { timeout: timeoutMs + 1000 }
  })
}

/** undici's errors for a socket closed under a request, as stripe-node expects them (it retries those once) */
const CLOSED = new Set(['UND_ERR_SOCKET', 'UND_ERR_CLOSED'])

function connectionError (err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code === 'string' && CLOSED.has(code)) {
    return Object.assign(new Error(`socket hang up (${(err as Error).message})`), { code: 'ECONNRESET', cause: err })
  }
  return err
}

/**
 * stripe-node's HTTP client on undici's `request()`, with the semantics of its node client:
 * - `timeout` bounds each attempt, headers and body, to the millisecond (a plain timer; undici's
 *   own timers tick in half-seconds) and fails it with stripe-node's timeout error;
 * - a socket closed under the request is `ECONNRESET`, which stripe-node retries once even with
 *   retries off, as it does for its node client;
 * - every body is read (`toJSON`), handed over (`toStream`) or dumped (`dispose`), so no socket
 *   stays held by an unread response; retries are stripe-node's, unchanged.
 */
export class UndiciHttpClient extends Stripe.HttpClient {
  constructor (private readonly dispatcher: Dispatcher) {
    super()
  }

  getClientName (): string {
    return 'undici'
  }

  async makeRequest (host: string, port: string, path: string, method: string, headers: Headers, body: string, protocol: string,
    timeout: number): Promise<Response> {
    const abort = new AbortController()
    const timer = setTimeout(() => { abort.abort(Stripe.HttpClient.makeTimeoutError()) }, timeout)
    try {
      const res = await request(`${protocol}://${host}:${port}${path}`, {
        method: method as Dispatcher.HttpMethod,
        headers: headers as Record<string, string>,
        body: body === '' ? null : body,
        signal: abort.signal,
        dispatcher: this.dispatcher
      })
      return new UndiciHttpClientResponse(res, () => { clearTimeout(timer) }, () => abort.signal.aborted)
    } catch (err) {
      clearTimeout(timer)
      throw abort.signal.aborted ? Stripe.HttpClient.makeTimeoutError() : connectionError(err)
    }
  }
}

class UndiciHttpClientResponse extends Stripe.HttpClientResponse {
  constructor (private readonly res: Dispatcher.ResponseData, private readonly done: () => void, private readonly timedOut: () => boolean) {
    super(res.statusCode, res.headers as Record<string, string>)
  }

  getRawResponse (): Dispatcher.ResponseData {
    return this.res
  }

  toStream (streamCompleteCallback: () => void): Dispatcher.ResponseData['body'] {
    this.res.body.once('close', this.done)
    this.res.body.once('end', () => { streamCompleteCallback() })
    return this.res.body
  }

  async toJSON (): Promise<unknown> {
    let text: string
    try {
      text = await this.res.body.text()
    } catch (err) {
      throw Stripe.HttpClient.makeResponseBodyError(this.timedOut() ? Stripe.HttpClient.makeTimeoutError() : connectionError(err) as Error)
    } finally {
      this.done()
    }
    return this._parseResponseBody(text)
  }

  /** stripe-node drops a response before a retry: free its socket */
  dispose (): void {
    this.res.body.dump().catch(() => {}).finally(this.done)
  }
}
