// Dependencies that stop answering without going away — a Postgres or a Redis frozen with SIGSTOP
// (servers this test starts), a Stripe that sends its headers and then a byte every 50 ms — must
// cost a request a bounded wait and a clear answer, never the length of the stall. Assertions are
// on answers, log lines and what reached the server, never on milliseconds.
import t from 'tap'
import { Redis } from 'ioredis'
import { build, sign } from '../../support/helper.js'
import { TestClock } from '../../support/clock.js'
import { storeUnavailable } from '../../../lib/errors.js'
import { POSTGRES_BIN, REDIS_SERVER, startPostgres, startRedis } from '../../support/servers.js'

const SECRET = 'whsec_stalls'
const event = (id: string): string => JSON.stringify({
  id,
  object: 'event',
  type: 'terminal.reader.action_succeeded',
  account: 'acct_stall',
  livemode: false,
  created: Math.floor(Date.now() / 1000),
  data: { object: { id: 'tmr_stall', object: 'terminal.reader', action: { type: 'process_payment_intent', status: 'succeeded' } } }
})

t.test('a stalled Postgres: webhooks and reads answer 503 "retry" within DATABASE_TIMEOUT_MS, nothing is half-kept', {
  skip: POSTGRES_BIN === undefined ? 'no initdb here: the Postgres stall test did not run' : false
}, async t => {
  const pg = await startPostgres(t)
  const { app, logs } = await build(t, {
    env: { DATABASE_URL: `postgres://postgres@127.0.0.1:${pg.port}/postgres`, DATABASE_TIMEOUT_MS: '400', STRIPE_WEBHOOK_SECRET: SECRET }
  })
  const deliver = async (id: string) => {
    const payload = event(id)
    return await app.inject({
      method: 'POST',
      url: '/webhooks',
      headers: { 'content-type': 'application/json', 'stripe-signature': sign(payload, SECRET) },
      payload
    })
  }
  t.equal((await deliver('evt_before')).statusCode, 200, 'served before the stall')

  pg.signal('SIGSTOP')
  const during = await deliver('evt_during')
  t.equal(during.statusCode, 503, 'a webhook during the stall: 503, so Stripe redelivers')
  t.equal(during.json().error.type, 'api_error')
  t.match(during.json().error.message, /retry/)
  t.equal(during.headers['retry-after'], '1')
  const read = await app.inject({ method: 'GET', url: '/reader_action?reader_id=tmr_stall' })
  t.equal(read.statusCode, 503, '/reader_action during the stall: 503')
  t.match(read.body, /retry shortly/)
  t.ok(logs.some(l => l.msg === 'database unavailable: answered 503' && l.level === 40), 'a warn line, without a stack')
  t.notOk(logs.some(l => l.level >= 50), 'no error line: a stalled database is not a bug')

  pg.signal('SIGCONT')
  // Stripe's redelivery: the event was not kept during the stall, so it is handled in full now
  let again = await deliver('evt_during')
  for (let i = 0; i < 20 && again.statusCode !== 200; i++) again = await deliver('evt_during')
  t.same(again.json(), { received: true }, 'redelivered after the stall: handled, not a duplicate')
  const after = await app.inject({ method: 'GET', url: '/reader_action?reader_id=tmr_stall' })
  t.equal(after.statusCode, 200, 'reads work again')
})

t.test('a hung Redis: one rate-limit command waits its timeout, then the breaker is open until a probe succeeds', {
  skip: REDIS_SERVER === undefined ? 'redis-server is not installed: the Redis stall test did not run' : false
}, async t => {
  const redis = await startRedis(t)
  const url = `redis://127.0.0.1:${redis.port}`
  const clock = new TestClock()
  const { app, logs } = await build(t, { env: { REDIS_URL: url, RATE_LIMIT_MAX: '1000' }, clock })
  const till = async () => (await app.inject({ method: 'POST', url: '/connection_token' })).statusCode
  const limitCommands = async (): Promise<number> => {
    const admin = new Redis(url)
    const info = await admin.info('commandstats')
    admin.disconnect()
    // @fastify/rate-limit's Redis store runs one script per request (EVALSHA, EVAL the first time)
    return [...info.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0)
  }
  t.equal(await till(), 200)
  const before = await limitCommands()

  redis.signal('SIGSTOP')
  const codes = []
  for (let i = 0; i < 20; i++) codes.push(await till())
  t.same(codes, Array(20).fill(200), 'every till request is answered during the hang')
  t.equal(app.redis?.breaker.isOpen, true, 'the breaker is open')
  t.equal(logs.filter(l => /^Redis unreachable/.test(l.msg ?? '')).length, 1, 'one warn line for the outage, not one per request')

  redis.signal('SIGCONT')
  // the commands sent during the hang reach Redis now: only the one that opened the breaker
  t.equal(await limitCommands() - before, 1, 'one rate-limit command was sent to the hung Redis, not one per request')
  // no probe within a second of the failure; past it, a request starts one, and it closes the breaker
  await till()
  t.equal(app.redis?.breaker.isOpen, true, 'still open: the clock has not moved')
  clock.advance(1_001)
  await till()
  // the probe's PING went first on the one connection: once this one is answered, so was the probe
  await app.redis?.client.ping()
  t.equal(app.redis?.breaker.isOpen, false, 'closed again by a probe')
  t.ok(logs.some(l => l.msg === 'Redis reachable again: rate limits are shared again'))
})

t.test('STRIPE_TIMEOUT_MS is a deadline: a Stripe that trickles its body is cut, for the Terminal API and the proxy', async t => {
  const env = { STRIPE_TIMEOUT_MS: '300', STRIPE_PROXY_KEY: 'rk_test_stall_proxy', API_KEY: 'k'.repeat(32) }
  const { app, fake } = await build(t, { env })
  const headers = { 'x-api-key': 'k'.repeat(32) }
  fake.on('POST', '/v1/terminal/connection_tokens', { partial: 'trickle', body: { object: 'terminal.connection_token', secret: 'pst_x' } })
  const token = await app.inject({ method: 'POST', url: '/connection_token', headers })
  t.equal(token.statusCode, 504, 'the till is answered 504 (a byte every 50 ms never reset an idle timer to keep it waiting)')
  t.match(token.body, /timeout/)

  const notFound = { error: { type: 'invalid_request_error', message: 'x' } }
  fake.on('GET', '/v1/customers/cus_trickle', { status: 404, partial: 'trickle', body: notFound })
  const proxied = await app.inject({ method: 'GET', url: '/v1/apis/http/stripe/v1/customers/cus_trickle', headers })
  t.equal(proxied.statusCode, 504, 'a proxied call whose error body trickles: 504')
  t.match(proxied.json().error.message, /timed out after 300 ms/)
})

t.test('what counts as the database being unavailable (a 503 "retry") and what does not', async t => {
  const cases: Array<[string, unknown, boolean]> = [
    ['statement timeout (57014)', Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' }), true],
    ['lock timeout (55P03)', Object.assign(new Error('canceling statement due to lock timeout'), { code: '55P03' }), true],
    ['admin shutdown (57P01)', Object.assign(new Error('terminating connection'), { code: '57P01' }), true],
    ['a connection exception (08006)', Object.assign(new Error('connection failure'), { code: '08006' }), true],
    ['a silent server', new Error('Query read timeout'), true],
    ['no connection from the pool in time', new Error('timeout exceeded when trying to connect'), true],
    ['connection refused', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), true],
    ['SQLite busy', Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' }), true],
    // the request's own failure, carrying its HTTP status
    ['a body cut off mid-way', Object.assign(new Error('aborted'), { code: 'ECONNRESET', statusCode: 400 }), false],
    ['a bad statement (42601)', Object.assign(new Error('syntax error'), { code: '42601' }), false],
    ['a unique violation (23505)', Object.assign(new Error('duplicate key'), { code: '23505' }), false],
    ['a bug', new TypeError('Cannot read properties of undefined'), false]
  ]
  for (const [what, error, expected] of cases) t.equal(storeUnavailable(error), expected, what)
})
