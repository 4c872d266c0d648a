// A Redis outage, for real: this test starts its own redis-server, kills it under two replicas,
// then starts it again. Requests must not wait on reconnects, limits must still hold (per process),
// readiness must not fail, and sharing must come back by itself.
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import t from 'tap'
import { build, freePort } from '../../support/helper.js'
import { REDIS_SERVER, startRedis } from '../../support/servers.js'

const skip = REDIS_SERVER === undefined ? 'redis-server is not installed: the Redis outage test did not run' : false

const p99 = (ms: number[]): number => [...ms].sort((a, b) => a - b)[Math.floor(ms.length * 0.99) - 1] ?? 0

t.test('Redis killed under two replicas: no request waits, limits hold per process, recovery is automatic', { skip }, async t => {
  const port = await freePort()
  let redis = (await startRedis(t, port)).child
  const key = randomBytes(24).toString('hex')
  const env = { RATE_LIMIT_MAX: '5', API_KEY: key, REDIS_URL: `redis://127.0.0.1:${port}` }
  const a = await build(t, { env })
  const b = await build(t, { env, fake: a.fake })
  const post = (app: typeof a.app, k = key) => app.inject({ method: 'POST', url: '/connection_token', headers: { 'x-api-key': k } })

  t.same(
    [await post(a.app), await post(b.app), await post(a.app)].map(r => r.statusCode),
    [200, 200, 200],
    'shared while Redis runs'
  )

  redis.kill('SIGKILL')
  await once(redis, 'exit')
  const times: number[] = []
  const codes: number[] = []
  // a fresh bucket per till, so the outage shows the limiter answering, not refusing
  for (let i = 0; i < 200; i++) {
    const started = performance.now()
    const res = await post(i % 2 === 0 ? a.app : b.app, i < 190 ? 'bad-key' : key)
    times.push(performance.now() - started)
    codes.push(res.statusCode)
  }
  t.ok(
    p99(times) < 50,
    `p99 of rate-limited requests during the outage is ${p99(times).toFixed(1)} ms (< 50 ms; ioredis's queue made it seconds)`
  )
  t.ok(codes.slice(0, 190).includes(429), 'bad keys are still limited per IP during the outage (in each process)')
  t.equal(codes.filter((c, i) => i < 190 && c === 401).length, 10, 'RATE_LIMIT_MAX=5 per replica: 5 + 5 answered, the rest refused')
  const ready = await a.app.inject({ method: 'GET', url: '/ready' })
  t.equal(ready.statusCode, 200, 'still ready: a load balancer keeps every replica')
  t.same(ready.json().checks, { database: 'ok', redis: 'degraded' })
  t.equal(a.logs.filter(l => /^Redis unreachable/.test(l.msg ?? '')).length, 1, 'one warn line for the outage')

  redis = (await startRedis(t, port)).child
  let back = false
  for (let i = 0; i < 100 && !back; i++) {
    await new Promise(resolve => setTimeout(resolve, 100))
    back = a.app.redis?.client.status === 'ready' && b.app.redis?.client.status === 'ready'
  }
  t.ok(back, 'both replicas reconnected by themselves')
  t.ok(a.logs.some(l => l.msg === 'Redis reachable again: rate limits are shared again'))
  // a caller from another address: its bucket lives in the new Redis, shared by both replicas
  const codes2 = []
  for (let i = 0; i < 6; i++) {
    codes2.push(
      (
        await (i % 2 === 0 ? a.app : b.app).inject({
          method: 'POST',
          url: '/connection_token',
          headers: { 'x-api-key': 'bad-key' },
          remoteAddress: '10.9.9.9'
        })
      ).statusCode
    )
  }
  t.same(codes2, [401, 401, 401, 401, 401, 429], 'shared again: the sixth request across both replicas is refused')
  t.equal((await a.app.inject({ method: 'GET', url: '/ready' })).json().checks.redis, 'ok')
})
