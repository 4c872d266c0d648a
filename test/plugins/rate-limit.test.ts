import { randomBytes } from 'node:crypto'
import t from 'tap'
import { build, needs, TEST_REDIS_URL } from '../support/helper.js'

t.test('429 with Retry-After after RATE_LIMIT_MAX, per key then per IP', async t => {
  const key = 'k'.repeat(32)
  const { app } = await build(t, { env: { RATE_LIMIT_MAX: '3', API_KEY: key } })
  const post = (headers: Record<string, string> = { 'x-api-key': key }) => app.inject({ method: 'POST', url: '/connection_token', headers })
  for (let i = 0; i < 3; i++) t.equal((await post()).statusCode, 200)
  const limited = await post()
  t.equal(limited.statusCode, 429)
  t.ok(Number(limited.headers['retry-after']) > 0, 'Retry-After')
  t.match(limited.body, /Too many requests/)
  // failed keys count against the IP, which has its own bucket
  for (let i = 0; i < 3; i++) t.equal((await post({ 'x-api-key': 'wrong' })).statusCode, 401)
  t.equal((await post({ 'x-api-key': 'wrong' })).statusCode, 429, 'bad keys are limited per IP')
  t.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200, 'health is not limited')
})

t.test('the limit is shared by two instances through Redis', needs('TEST_REDIS_URL', TEST_REDIS_URL), async t => {
  // a fresh key per run: its bucket is new whatever earlier runs left in Redis
  const key = randomBytes(24).toString('hex')
  const env = { RATE_LIMIT_MAX: '4', API_KEY: key, REDIS_URL: TEST_REDIS_URL }
  const a = await build(t, { env })
  const b = await build(t, { env, fake: a.fake })
  const post = (app: typeof a.app) => app.inject({ method: 'POST', url: '/connection_token', headers: { 'x-api-key': key } })
  const codes = [await post(a.app), await post(b.app), await post(a.app), await post(b.app), await post(a.app), await post(b.app)].map(
    r => r.statusCode
  )
  t.same(codes, [200, 200, 200, 200, 429, 429])
  const ready = await a.app.inject({ method: 'GET', url: '/ready' })
  t.same(ready.json().checks, { database: 'ok', redis: 'ok' })
})
