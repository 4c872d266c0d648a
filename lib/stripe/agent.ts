import http from 'node:http'
import https from 'node:https'
import Stripe from 'stripe'

/**
 * Sockets per Stripe origin by default, by Little's law: calls in flight = rate × latency. One
 * process does about 2,000 Terminal requests a second on a core when Stripe answers at once
 * (bench/README.md), and Stripe's p99 is about 0.5 s, so 1,000 calls can be waiting on Stripe at
 * once; a smaller pool would make them wait for a socket instead (128 capped one process at
 * ~430 calls/s at Stripe's usual 300 ms). Beyond it calls queue, and the queue is measured.
 */
export const DEFAULT_MAX_SOCKETS = 1000

export interface PoolObserver {
  /** a call that found every socket busy got one after `seconds` */
  waited: (seconds: number) => void
}

export interface StripeAgent extends http.Agent {
  /** From now on, every attempt (in flight or new) ends within `ms`: the drain's last word. */
  cutOff: (ms: number) => void
  /** calls waiting for a socket now */
  queued: () => number
}

export interface AgentOptions {
  /** the deadline of each attempt as a whole, queueing included */
  deadlineMs?: number
  maxSockets?: number
  pool?: PoolObserver
}

// Node's Agent has no typed hook for a request; `addRequest` is where every ClientRequest that
// uses the agent is handed to it (node:_http_agent), whether it gets a socket at once or queues.
type AddRequest = (req: http.ClientRequest, options: unknown) => void

/** One attempt in flight: its deadline, and its neighbours in the list of attempts in flight. */
class Attempt {
  res?: http.IncomingMessage
  /** when it must have ended (performance.now()) */
  endsAt = Infinity
  prev: Attempt = this
  next: Attempt = this

  constructor (public req?: http.ClientRequest) {}

  /** puts it last in the list that `head` starts */
  link (head: Attempt): void {
    this.prev = head.prev
    this.next = head
    head.prev.next = this
    head.prev = this
  }

  /** takes it out (again is harmless), and lets go of what it held */
  unlink (): void {
    this.prev.next = this.next
    this.next.prev = this.prev
    this.prev = this.next = this
    this.req = this.res = undefined
  }
}

/**
 * The agent under stripe-node's own node client: keep-alive, a bounded number of sockets per
 * origin, TLS verified (Node's default), and a deadline on each attempt as a whole. stripe-node's
 * `timeout` is an idle timeout (it restarts with every byte), so an upstream that sends headers
 * and then a byte a second would hold a till forever; here the attempt — queueing for a socket,
 * headers and body together — is destroyed at `deadlineMs` with stripe-node's own timeout error,
 * which it retries and reports like its own. A client on undici was tried in its place: it cost
 * more CPU per call at 10 connections and the same at 100 (bench/README.md), so stripe-node's stayed.
 */
export function stripeAgent (protocol: 'http' | 'https', opts: AgentOptions = {}): StripeAgent {
  const { deadlineMs = 30_000, maxSockets = DEFAULT_MAX_SOCKETS, pool } = opts
  const options = { keepAlive: true, maxSockets }
  // cast: the same agent, with the cutOff method added below
  const agent = (protocol === 'http' ? new http.Agent(options) : new https.Agent(options)) as StripeAgent
  // The attempts in flight, linked through themselves as Node links its timers, not held in a Map,
  // Set or WeakMap: an attempt deleted from a long-lived Map kept each call's request and response
  // alive through V8's young-generation collections, so every call was promoted and collected by
  // full GCs (profiled: 18 ms scavenges, ~45 µs of CPU per request; docs/performance.md).
  const live = new Attempt()
  let cutOffAt = Infinity
  // One timer for every deadline, not one per attempt: attempts join the list in the order they
  // end (each a fixed time after it starts, or all at the drain's cut-off), so the first is always
  // the next due. The timer is set for the first; an attempt that ends earlier is simply gone
  // when it fires, and it is set again for whichever is first then.
  let timer: NodeJS.Timeout | undefined
  let timerAt = Infinity
  const expire = (): void => {
    timer = undefined
    timerAt = Infinity
    const now = performance.now()
    while (live.next !== live && live.next.endsAt <= now) {
      const attempt = live.next
      // once headers are in, the error goes to the response, where stripe-node reads the body from
      const target = attempt.res ?? attempt.req
      attempt.unlink()
      target?.destroy(Stripe.HttpClient.makeTimeoutError())
    }
    schedule()
  }
  const schedule = (): void => {
    const first = live.next
    if (first === live || first.endsAt >= timerAt) return
    clearTimeout(timer)
    timerAt = first.endsAt
    // unref: a call in flight holds its socket; a timer left from calls that ended holds nothing
    timer = setTimeout(expire, Math.max(0, first.endsAt - performance.now())).unref()
  }
  // cast: addRequest is Node's documented Agent hook, missing from @types/node
  const addRequest = (agent as unknown as { addRequest: AddRequest }).addRequest.bind(agent)
  // cast: getName's options are the request options Node passes to addRequest
  const queueOf = (opts: unknown): http.ClientRequest[] | undefined => agent.requests[agent.getName(opts as http.ClientRequestArgs)]
  Object.assign(agent, {
    addRequest (req: http.ClientRequest, opts: unknown) {
      const attempt = new Attempt(req)
      attempt.endsAt = Math.min(performance.now() + deadlineMs, cutOffAt)
      attempt.link(live)
      schedule()
      req.once('response', res => { attempt.res = res })
      // 'close' comes once the response is read to its end, or the request failed
      req.once('close', () => { attempt.unlink() })
      addRequest(req, opts)
      // queued (every socket busy): Node appended it to the origin's queue; time its wait
      if (pool !== undefined && queueOf(opts)?.at(-1) === req) {
        const since = performance.now()
        req.once('socket', () => { pool.waited((performance.now() - since) / 1000) })
      }
    },
    queued () {
      let n = 0
      for (const queue of Object.values(agent.requests)) n += queue?.length ?? 0
      return n
    },
    cutOff (ms: number) {
      cutOffAt = Math.min(cutOffAt, performance.now() + ms)
      // still in the order they end
      for (let a = live.next; a !== live; a = a.next) a.endsAt = Math.min(a.endsAt, cutOffAt)
      schedule()
    }
  })
  return agent
}
