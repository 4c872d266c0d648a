// Two replicas on one Postgres: a reader's change recorded by the replica that received Stripe's
// webhook reaches a till's stream open on the other one (Postgres LISTEN/NOTIFY), 50 times, each
// before the next is recorded; a stream resumed with Last-Event-ID on either replica misses nothing.
// Streams never poll: a change reaches the other replica only through its notice, so its arrival
// is the property; how fast is reported (a comment), not asserted — the guard below only turns a
// lost notice into a failure instead of a hung test.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, needs, pgUrl, sign, TEST_DATABASE_URL } from '../../support/helper.js'
import { openStream, type SseEvent } from '../../support/sse.js'

const KEY = 'k'.repeat(32)
const WHSEC = 'whsec_replicas'
const ROUNDS = 50

async function deliver (app: FastifyInstance, i: number): Promise<void> {
  const payload = JSON.stringify({
    id: `evt_replica_${i}`,
    object: 'event',
    type: i % 2 === 0 ? 'terminal.reader.action_updated' : 'terminal.reader.action_succeeded',
    livemode: false,
    created: 1_700_000_000 + i,
    data: {
      object: {
        id: 'tmr_replicas',
        object: 'terminal.reader',
        metadata: {},
        action: {
          type: 'process_payment_intent', status: i % 2 === 0 ? 'in_progress' : 'succeeded', failure_code: null, failure_message: null
        }
      }
    }
  })
  const headers = { 'content-type': 'application/json', 'stripe-signature': sign(payload, WHSEC) }
  const res = await app.inject({ method: 'POST', url: '/webhooks', payload, headers })
  if (res.statusCode !== 200) throw new Error(res.body)
}

const within = async <T>(ms: number, work: Promise<T>): Promise<T | 'late'> => {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'late'>(resolve => { timer = setTimeout(() => { resolve('late') }, ms) })
  try {
    return await Promise.race([work, late])
  } finally {
    clearTimeout(timer)
  }
}

/** long enough for any loaded machine: reaching it means the notice never came */
const LOST = 10_000

const replicated = 'a webhook on replica 1 reaches a stream on replica 2, 50 times in order'
t.test(replicated, needs('TEST_DATABASE_URL', TEST_DATABASE_URL), async t => {
  const url = (await pgUrl(t))!
  const env = { DATABASE_URL: url, API_KEY: KEY, STRIPE_WEBHOOK_SECRET: WHSEC, LOG_LEVEL: 'warn' }
  const one = await build(t, { env })
  const two = await build(t, { env, fake: one.fake })
  await two.app.listen({ port: 0, host: '127.0.0.1' })
  const address = two.app.server.address()
  const base = typeof address === 'object' && address !== null ? `http://127.0.0.1:${address.port}` : ''
  const stream = await openStream(`${base}/reader_events?reader_id=tmr_replicas`, { 'x-api-key': KEY })
  t.equal(stream.status, 200)
  // the LISTEN of replica 2 is up once a change reaches it: the first round waits for that, unmeasured
  await deliver(one.app, 0)
  const ready = await within(LOST, stream.next())
  t.not(ready, 'late', 'replica 2 is listening')

  const seen: SseEvent[] = []
  let lost = 0
  let slowest = 0
  for (let i = 1; i <= ROUNDS; i++) {
    const sent = performance.now()
    await deliver(one.app, i)
    const event = await within(LOST, stream.next())
    if (event === 'late') lost++
    else seen.push(event)
    slowest = Math.max(slowest, performance.now() - sent)
  }
  t.equal(lost, 0, `every change reached the other replica (${ROUNDS} rounds)`)
  t.comment(`slowest change, webhook to the other replica's stream: ${slowest.toFixed(0)} ms`)
  const expected = Array.from({ length: ROUNDS }, (_, i) => (i + 1) % 2 === 0 ? 'in_progress' : 'succeeded')
  t.same(seen.map(e => JSON.parse(e.data).action.status), expected, 'in order, each once')
  stream.close()

  // resumed on replica 2 from the tenth change: the forty after it, in order
  const from = { 'x-api-key': KEY, 'last-event-id': seen[9]?.id ?? '' }
  const resumed = await openStream(`${base}/reader_events?reader_id=tmr_replicas`, from)
  const rest: string[] = []
  for (let i = 0; i < ROUNDS - 10; i++) {
    const e = await within(LOST, resumed.next())
    if (e === 'late') break
    rest.push(e.id!)
  }
  t.same(rest, seen.slice(10).map(e => e.id), 'nothing missed, nothing twice')
  resumed.close()
})
