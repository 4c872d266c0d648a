/**
 * A real HTTP server speaking Stripe's v1 protocol, for the real `stripe` package to talk to through
 * STRIPE_API_BASE. It parses form bodies as Stripe does, records every call with the headers that
 * matter, answers with Stripe-shaped objects and errors, and can be told to be slow, fail, reset
 * or hang. Every call is also checked against Stripe's OpenAPI spec when the spec is present.
 */
import http from 'node:http'
import { randomBytes } from 'node:crypto'
import type { AddressInfo, Socket } from 'node:net'
import qs from 'qs'
import { specProblems } from './stripe-spec.js'

export interface Call {
  method: string
  path: string
  query: Record<string, unknown>
  params: Record<string, unknown>
  rawBody: string
  headers: http.IncomingHttpHeaders
  stripeAccount?: string
  idempotencyKey?: string
  stripeVersion?: string
  authorization?: string
}

export type Reply = {
  status?: number
  body?: unknown
  /** raw body string, written as is */
  raw?: string
  headers?: Record<string, string>
  delayMs?: number
  /** answer once this settles (a test holds Stripe's answer without a timer) */
  until?: Promise<unknown>
  /** destroy the socket without answering */
  reset?: boolean
  /** never answer (until the server stops) */
  hang?: boolean
  /**
   * send the status, headers and half the body, then: `stall` never finish, `cut` destroy the
   * socket, `trickle` a byte every 50 ms, never finishing (an idle timeout never fires)
   */
  partial?: 'stall' | 'cut' | 'trickle'
}

interface Override {
  method: string
  path: RegExp
  reply: Reply | ((call: Call) => Reply)
  times: number
}

const id = (prefix: string): string => `${prefix}_${randomBytes(8).toString('hex')}`
const now = (): number => Math.floor(Date.now() / 1000)

export const stripeError = (status: number, type: string, message: string, extra: Record<string, unknown> = {}): Reply => ({
  status,
  body: { error: { type, message, ...extra } }
})

const missing = (param: string): Reply =>
  stripeError(400, 'invalid_request_error', `Missing required param: ${param}.`, { param, code: 'parameter_missing' })

const noSuch = (kind: string, value: string): Reply =>
  stripeError(404, 'invalid_request_error', `No such ${kind}: '${value}'`, { code: 'resource_missing', param: 'id' })

function paymentIntent (p: Record<string, any>, pi = id('pi')): Record<string, unknown> {
  return {
    id: pi,
    object: 'payment_intent',
    amount: Number(p.amount ?? 1000),
    amount_capturable: 0,
    amount_received: 0,
    capture_method: p.capture_method ?? 'automatic',
    client_secret: `${pi}_secret_${randomBytes(6).toString('hex')}`,
    created: now(),
    currency: p.currency ?? 'usd',
    description: p.description ?? null,
    livemode: false,
    metadata: {},
    payment_method_types: Array.isArray(p.payment_method_types)
      ? p.payment_method_types
      : Object.values(p.payment_method_types ?? { 0: 'card' }),
    receipt_email: p.receipt_email ?? null,
    status: 'requires_payment_method',
    on_behalf_of: p.on_behalf_of ?? null,
    transfer_data: p.transfer_data ?? null
  }
}

function reader (rid: string, action: Record<string, unknown> | null = null): Record<string, unknown> {
  return {
    id: rid,
    object: 'terminal.reader',
    action,
    device_type: 'simulated_wisepos_e',
    label: 'Simulated WisePOS E',
    livemode: false,
    location: 'tml_1',
    metadata: {},
    serial_number: 'WPE-SIMULATOR-1',
    status: 'online'
  }
}

function location (lid: string): Record<string, unknown> {
  return {
    id: lid,
    object: 'terminal.location',
    address: { line1: '1 Main St', city: 'SF', country: 'US', postal_code: '94110', state: 'CA', line2: null },
    configuration_overrides: null,
    display_name: 'HQ',
    livemode: false,
    metadata: {}
  }
}

function configuration (cid: string, p: Record<string, any>): Record<string, unknown> {
  return {
    id: cid,
    object: 'terminal.configuration',
    is_account_default: false,
    livemode: false,
    name: p.name ?? null,
    ...(p.tipping === undefined ? {} : { tipping: p.tipping }),
    ...(p.offline === undefined ? {} : { offline: p.offline }),
    ...(p.reboot_window === undefined ? {} : { reboot_window: p.reboot_window })
  }
}

const list = (url: string, data: unknown[]): Record<string, unknown> => ({ object: 'list', data, has_more: false, url })

/** The default answers, by method and path. */
function route (call: Call): Reply {
  const p = call.params
  const q = call.query
  const m = `${call.method} ${call.path}`
  let match: RegExpMatchArray | null
  if (m === 'POST /v1/terminal/connection_tokens') {
    return {
      body: {
        object: 'terminal.connection_token',
        secret: `pst_test_${randomBytes(12).toString('hex')}`,
        ...(p.location === undefined ? {} : { location: p.location })
      }
    }
  }
  if (m === 'POST /v1/payment_intents') {
    if (p.amount === undefined) return missing('amount')
    if (p.currency === undefined) return missing('currency')
    return { body: paymentIntent(p) }
  }
  if ((match = m.match(/^POST \/v1\/payment_intents\/([^/]*)(\/capture|\/cancel)?$/)) !== null) {
    const [, pid, action] = match
    if (pid === '' || pid!.includes('missing')) return noSuch('payment_intent', decodeURIComponent(pid!))
    const pi = paymentIntent(p, decodeURIComponent(pid!))
    if (action === '/capture') pi.status = 'succeeded'
    if (action === '/cancel') pi.status = 'canceled'
    return { body: pi }
  }
  if (m === 'POST /v1/setup_intents') {
    const si = id('seti')
    return {
      body: {
        id: si,
        object: 'setup_intent',
        client_secret: `${si}_secret_x`,
        customer: p.customer ?? null,
        description: p.description ?? null,
        on_behalf_of: p.on_behalf_of ?? null,
        metadata: p.metadata ?? {},
        payment_method_types: Object.values(p.payment_method_types ?? {}),
        status: 'requires_payment_method',
        livemode: false
      }
    }
  }
  if (m === 'GET /v1/customers') {
    return { body: list('/v1/customers', []) }
  }
  if (m === 'POST /v1/customers') {
    return {
      body: {
        id: id('cus'),
        object: 'customer',
        email: p.email ?? null,
        name: p.name ?? null,
        description: p.description ?? null,
        metadata: p.metadata ?? {},
        livemode: false,
        created: now()
      }
    }
  }
  if ((match = m.match(/^POST \/v1\/payment_methods\/([^/]+)\/attach$/)) !== null) {
    if (match[1]!.includes('missing')) return noSuch('PaymentMethod', match[1]!)
    const expand = Object.values((p.expand ?? {}) as Record<string, string>)
    const customer = expand.includes('customer') ? { id: p.customer, object: 'customer', email: 'example@test.com' } : p.customer
    return { body: { id: match[1], object: 'payment_method', type: 'card_present', customer, livemode: false } }
  }
  if (m === 'GET /v1/terminal/locations') {
    return {
      body: list('/v1/terminal/locations', [
        location('tml_1'),
        {
          ...location('tml_2'),
          display_name: 'Store',
          address: { line1: '2 Main St', city: 'SF', country: 'US', postal_code: '94110', state: 'CA', line2: null }
        }
      ])
    }
  }
  if (m === 'POST /v1/terminal/locations') {
    if (p.display_name === undefined) return missing('display_name')
    if (p.address === undefined) return missing('address')
    return {
      body: {
        id: id('tml'),
        object: 'terminal.location',
        display_name: p.display_name,
        address: p.address,
        livemode: false,
        metadata: p.metadata ?? {}
      }
    }
  }
  if (m === 'POST /v1/terminal/readers') {
    if (p.registration_code === undefined) return missing('registration_code')
    return { body: { ...reader(id('tmr')), label: p.label ?? null, location: p.location ?? null, metadata: p.metadata ?? {} } }
  }
  if (m === 'GET /v1/terminal/readers') {
    const readers = [reader('tmr_1'), { ...reader('tmr_2'), status: 'offline', location: 'tml_2' }]
    return {
      body: list(
        '/v1/terminal/readers',
        readers.filter(r => (q.location === undefined || r.location === q.location) && (q.status === undefined || r.status === q.status))
      )
    }
  }
  if ((match = m.match(/^POST \/v1\/(test_helpers\/)?terminal\/readers\/([^/]+)\/(\w+)$/)) !== null) {
    const [, helper, rid, action] = match
    if (rid!.includes('missing')) return noSuch('terminal.reader', rid!)
    if (helper !== undefined) {
      return { body: reader(rid!, { type: 'process_payment_intent', status: 'succeeded', failure_code: null, failure_message: null }) }
    }
    const types: Record<string, string> = {
      process_payment_intent: 'process_payment_intent',
      process_setup_intent: 'process_setup_intent',
      refund_payment: 'refund_payment',
      set_reader_display: 'set_reader_display',
      collect_inputs: 'collect_inputs',
      collect_payment_method: 'collect_payment_method',
      confirm_payment_intent: 'confirm_payment_intent'
    }
    if (action === 'cancel_action') return { body: reader(rid!) }
    if (types[action!] === undefined) return stripeError(404, 'invalid_request_error', `Unrecognized request URL (POST: ${call.path}).`)
    return { body: reader(rid!, { type: types[action!], status: 'in_progress', failure_code: null, failure_message: null, [action!]: p }) }
  }
  if (m === 'POST /v1/terminal/configurations') {
    return { body: configuration(id('tmc'), p) }
  }
  if ((match = m.match(/^POST \/v1\/terminal\/(locations|readers|configurations)\/([^/]+)$/)) !== null) {
    // an object not stored here: answered as if it existed, with the update applied
    const [, kind, oid] = match
    if (oid!.includes('missing')) return noSuch(`terminal.${kind!.replace(/s$/, '')}`, oid!)
    const base = kind === 'readers' ? reader(oid!) : kind === 'locations' ? location(oid!) : configuration(oid!, {})
    return { body: { ...base, ...p } }
  }
  if ((match = m.match(/^DELETE \/v1\/terminal\/(locations|readers|configurations)\/([^/]+)$/)) !== null) {
    const [, kind, oid] = match
    if (oid!.includes('missing')) return noSuch(`terminal.${kind!.replace(/s$/, '')}`, oid!)
    return { body: { id: oid, object: `terminal.${kind!.replace(/s$/, '')}`, deleted: true } }
  }
  if ((match = m.match(/^GET \/v1\/terminal\/(locations|readers|configurations)\/([^/]+)$/)) !== null) {
    const [, kind, oid] = match
    if (oid!.includes('missing')) return noSuch(`terminal.${kind!.replace(/s$/, '')}`, oid!)
    return { body: kind === 'readers' ? reader(oid!) : kind === 'locations' ? location(oid!) : configuration(oid!, {}) }
  }
  if (m === 'POST /v1/refunds') {
    if (p.payment_intent === undefined && p.charge === undefined) return missing('charge')
    return {
      body: {
        id: id('re'),
        object: 'refund',
        amount: Number(p.amount ?? 1000),
        charge: p.charge ?? 'ch_1',
        payment_intent: p.payment_intent ?? null,
        status: 'succeeded',
        currency: 'usd'
      }
    }
  }
  if (m === 'GET /v1/account') {
    return {
      body: {
        id: call.stripeAccount ?? 'acct_platform',
        object: 'account',
        business_profile: { name: 'Fake Shop' },
        charges_enabled: true,
        country: 'US',
        default_currency: 'usd'
      }
    }
  }
  if (
    (match = m.match(
      /^GET \/v1\/(charges|customers|payment_intents|refunds|balance_transactions|events|terminal\/(?:readers|locations|configurations))$/
    )) !== null
  ) {
    return { body: list(call.path, []) }
  }
  if (m === 'GET /v1/balance') {
    return { body: { object: 'balance', available: [{ amount: 0, currency: 'usd' }], pending: [], livemode: false } }
  }
  if ((match = m.match(/^GET \/v1\/(charges|customers|payment_intents|refunds)\/([^/]+)$/)) !== null) {
    return { body: { id: match[2], object: match[1]!.replace(/s$/, '') } }
  }
  return stripeError(404, 'invalid_request_error', `Unrecognized request URL (${call.method}: ${call.path}).`)
}

/**
 * stripe-mock's key rule (stripe/stripe-mock server/server.go, validateAuth): `Bearer <key>` or
 * `Basic <base64 key>`, the key exactly three `_`-separated parts, `sk` or `rk`, then `test`, then
 * anything non-empty. Its 401 text echoes the whole Authorization header.
 */
export function stripeMockAuth (auth: string): Reply | undefined {
  const parts = auth.split(' ')
  let key = ''
  if (parts.length === 2 && parts[1] !== '') {
    if (parts[0] === 'Bearer') key = parts[1]!
    if (parts[0] === 'Basic') key = Buffer.from(parts[1]!, 'base64').toString('utf8')
  }
  const k = key.split('_')
  if (k.length === 3 && (k[0] === 'sk' || k[0] === 'rk') && k[1] === 'test' && k[2] !== '') return undefined
  return stripeError(
    401,
    'invalid_request_error',
    'Please authenticate by specifying an `Authorization` header with any valid looking testmode ' +
      `secret API key. For example, \`Authorization: Bearer sk_test_123\`. Authorization was '${auth}'.`
  )
}

export interface FakeStripeOptions {
  /** `stripe` (default): any sk_/rk_ test or live key; `stripe-mock`: stripe-mock's exact rule */
  auth?: 'stripe' | 'stripe-mock'
  /** every answer waits this long (the benchmark's Stripe latency), unless its reply sets delayMs */
  latencyMs?: number
  /** check each call against the pinned spec (default); the benchmark turns it off to keep the fake light */
  checkSpec?: boolean
}

/** Objects a create stores, so that they can be read back, listed and kept to their account. */
const CREATES = new Set([
  '/v1/payment_intents', '/v1/setup_intents', '/v1/terminal/readers', '/v1/terminal/locations', '/v1/terminal/configurations',
  '/v1/customers'
])
/** Parameters that name an existing object. */
const REF_PARAMS = ['payment_intent', 'charge', 'setup_intent', 'location', 'customer', 'payment_method']
/** Lists that include the stored objects of the calling account, and the filters each honours. */
const LISTS: Record<string, { object: string, filters: string[] }> = {
  '/v1/terminal/readers': { object: 'terminal.reader', filters: ['location', 'status'] },
  '/v1/terminal/locations': { object: 'terminal.location', filters: [] },
  '/v1/terminal/configurations': { object: 'terminal.configuration', filters: [] },
  '/v1/customers': { object: 'customer', filters: ['email'] }
}

/**
 * Stripe's cursor paging over a whole list (in its order): `limit` (default 10), `starting_after`
 * the objects after that id, `ending_before` those just before it; `has_more` says whether more lie
 * beyond the page in that direction.
 */
function page (all: Array<{ id: string }>, query: Record<string, unknown>): { data: unknown[], has_more: boolean } {
  const limit = Number(query.limit ?? 10)
  if (typeof query.ending_before === 'string') {
    const end = all.findIndex(o => o.id === query.ending_before)
    const before = all.slice(0, end === -1 ? 0 : end)
    return { data: before.slice(-limit), has_more: before.length > limit }
  }
  const start = typeof query.starting_after === 'string' ? all.findIndex(o => o.id === query.starting_after) + 1 : 0
  const after = start === 0 && typeof query.starting_after === 'string' ? [] : all.slice(start)
  return { data: after.slice(0, limit), has_more: after.length > limit }
}

export class FakeStripe {
  readonly calls: Call[] = []
  private readonly waiting: Array<{ method: string, path: string, resolve: (call: Call) => void }> = []
  /**
   * Objects by id with the account they live in (undefined: the platform). As in Stripe, a call
   * under another account (`Stripe-Account`) that names one is answered `No such …` (404).
   */
  readonly objects = new Map<string, { account: string | undefined, object: Record<string, any> }>()
  readonly specViolations: string[] = []
  private readonly overrides: Override[] = []
  private readonly sockets = new Set<Socket>()
  /** TCP connections accepted since start: keep-alive reuse shows as fewer connections than calls */
  connectionsAccepted = 0
  private readonly server = http.createServer((req, res) => {
    this.handle(req, res)
  })

  url = ''

  constructor (private readonly options: FakeStripeOptions = {}) {}

  async start (): Promise<this> {
    this.server.on('connection', s => {
      this.sockets.add(s)
      this.connectionsAccepted++
      s.on('close', () => this.sockets.delete(s))
    })
    await new Promise<void>(resolve => this.server.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
    return this
  }

  async stop (): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await new Promise<void>(resolve => this.server.close(() => resolve()))
  }

  /** Answers the next `times` calls matching method and path with `reply`. */
  on (method: string, path: string | RegExp, reply: Override['reply'], times = 1): this {
    const re = typeof path === 'string' ? new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) : path
    this.overrides.push({ method, path: re, reply, times })
    return this
  }

  /** Stores an object as if it had been created in `account` (undefined: on the platform). */
  put<T extends { id: string, object: string }> (object: T, account?: string): T {
    this.objects.set(object.id, { account, object })
    return object
  }

  /** Stripe's own account isolation, retrieval of stored objects with `expand`, and stored objects in lists. */
  private stateful (call: Call): Reply | undefined {
    const params = call.method === 'GET' ? call.query : call.params
    const refs = [
      ...call.path.split('/').map(s => decodeURIComponent(s)),
      ...REF_PARAMS.map(k => params[k]).filter((v): v is string => typeof v === 'string')
    ]
    for (const ref of refs) {
      const stored = this.objects.get(ref)
      if (stored !== undefined && stored.account !== call.stripeAccount) return noSuch(String(stored.object.object), ref)
    }
    const changed = /^\/v1\/terminal\/(?:locations|readers|configurations)\/([^/]+)$/.exec(call.path)
    const target = changed === null ? undefined : this.objects.get(decodeURIComponent(changed[1]!))
    if (target !== undefined && call.method === 'DELETE') {
      this.objects.delete(target.object.id)
      return { body: { id: target.object.id, object: target.object.object, deleted: true } }
    }
    if (target !== undefined && call.method === 'POST') {
      const p = call.params
      const object: Record<string, any> = { ...target.object, ...p, metadata: { ...target.object.metadata, ...(p.metadata ?? {}) } }
      this.objects.set(target.object.id, { account: target.account, object })
      return { body: object }
    }
    const retrieve = call.method === 'GET' ? /^\/v1\/(?:terminal\/)?[a-z_]+\/([^/]+)$/.exec(call.path) : null
    const stored = retrieve === null ? undefined : this.objects.get(decodeURIComponent(retrieve[1]!))
    if (stored === undefined) return undefined
    const expand = Object.values((call.query.expand ?? {}) as Record<string, string>)
    const body: Record<string, any> = { ...stored.object }
    for (const field of expand) {
      const inner = typeof body[field] === 'string' ? this.objects.get(body[field]) : undefined
      if (inner !== undefined) body[field] = inner.object
    }
    return { body }
  }

  /** After a default answer: a created object is stored; a list holds the stored objects of the caller's account. */
  private remember (call: Call, reply: Reply): Reply {
    const body = reply.body as Record<string, any> | undefined
    if ((reply.status ?? 200) !== 200 || body === undefined) return reply
    if (call.method === 'POST' && CREATES.has(call.path)) this.put(body as { id: string, object: string }, call.stripeAccount)
    const list = call.method === 'GET' ? LISTS[call.path] : undefined
    if (list !== undefined && body.object === 'list') {
      const extra = [...this.objects.values()]
        .filter(o => o.account === call.stripeAccount && o.object.object === list.object &&
          list.filters.every(f => call.query[f] === undefined || o.object[f] === call.query[f]))
        .map(o => o.object as { id: string })
      return { ...reply, body: { ...body, ...page([...(body.data as Array<{ id: string }>), ...extra], call.query) } }
    }
    return reply
  }

  /** The first call to one method and path, when it arrives (or at once, if it has). */
  async nextCall (method: string, path: string): Promise<Call> {
    const seen = this.callsTo(method, path)[0]
    if (seen !== undefined) return seen
    return await new Promise(resolve => { this.waiting.push({ method, path, resolve }) })
  }

  /** The calls to one method and path (exact, or a regular expression). */
  callsTo (method: string, path: string | RegExp): Call[] {
    return this.calls.filter(c => c.method === method && (typeof path === 'string' ? c.path === path : path.test(c.path)))
  }

  /** Forgets calls and overrides; spec violations stay until the test's teardown checks them. */
  reset (): void {
    this.calls.length = 0
    this.overrides.length = 0
    this.objects.clear()
  }

  /** The spec violations so far, cleared: for a test whose call is meant to be one Stripe refuses. */
  takeSpecViolations (): string[] {
    return this.specViolations.splice(0)
  }

  private handle (req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = []
    req.on('data', c => chunks.push(c as Buffer))
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8')
      const url = new URL(req.url ?? '/', 'http://x')
      const header = (name: string): string | undefined => {
        const v = req.headers[name]
        return typeof v === 'string' ? v : undefined
      }
      const call: Call = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: qs.parse(url.search.slice(1), { depth: 10, arrayLimit: 1000 }) as Record<string, unknown>,
        params: qs.parse(rawBody, { depth: 10, arrayLimit: 1000 }) as Record<string, unknown>,
        rawBody,
        headers: req.headers,
        stripeAccount: header('stripe-account'),
        idempotencyKey: header('idempotency-key'),
        stripeVersion: header('stripe-version'),
        authorization: header('authorization')
      }
      this.calls.push(call)
      for (const w of this.waiting.filter(w => w.method === call.method && w.path === call.path)) {
        this.waiting.splice(this.waiting.indexOf(w), 1)
        w.resolve(call)
      }
      if (this.options.checkSpec !== false) {
        this.specViolations.push(
          ...specProblems(call.method, call.path, call.method === 'GET' ? call.query : call.params, call.stripeVersion)
        )
      }
      const override = this.overrides.find(o => o.method === call.method && o.path.test(call.path) && o.times > 0)
      let reply: Reply
      if (override !== undefined) {
        override.times--
        reply = typeof override.reply === 'function' ? override.reply(call) : override.reply
      } else {
        reply = this.authProblem(call.authorization ?? '') ?? this.stateful(call) ?? this.remember(call, route(call))
      }
      this.send(res, reply)
    })
  }

  private authProblem (auth: string): Reply | undefined {
    if (this.options.auth === 'stripe-mock') return stripeMockAuth(auth)
    if (/^Bearer (sk|rk)_(test|live)_\S+$/.test(auth)) return undefined
    return stripeError(401, 'invalid_request_error', `Invalid API Key provided: ${auth.slice(7, 15)}***`)
  }

  private send (res: http.ServerResponse, reply: Reply): void {
    if (reply.hang === true) return
    if (reply.reset === true) {
      res.socket?.destroy()
      return
    }
    const write = (): void => {
      if (res.destroyed) return
      const body = reply.raw ?? JSON.stringify(reply.body ?? {})
      res.writeHead(reply.status ?? 200, {
        'content-type': 'application/json',
        'request-id': `req_${randomBytes(7).toString('hex')}`,
        // as api.stripe.com does; so a partial body is one the client can tell is short
        ...(reply.partial === 'trickle' ? {} : { 'content-length': String(Buffer.byteLength(body)) }),
        ...reply.headers
      })
      if (reply.partial === undefined) {
        res.end(body)
        return
      }
      res.write(body.slice(0, Math.ceil(body.length / 2)))
      if (reply.partial === 'cut') setTimeout(() => res.socket?.destroy(), 20)
      if (reply.partial === 'trickle') {
        const drip = setInterval(() => { res.write(' ') }, 50)
        res.once('close', () => { clearInterval(drip) })
      }
    }
    const delay = reply.delayMs ?? this.options.latencyMs ?? 0
    if (reply.until !== undefined) reply.until.then(write, write)
    else if (delay > 0) setTimeout(write, delay)
    else write()
  }
}
