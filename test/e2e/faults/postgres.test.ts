// Database faults on the shared test Postgres: connections cut under load (what a failover does),
// and a database that is unreachable when the service boots. The process must stay up, tills must
// keep getting connection tokens, and every webhook must end handled, at once or on redelivery.
import net from 'node:net'
import t from 'tap'
import pg from 'pg'
import { build, freePort, needs, pgUrl, sign, TEST_DATABASE_URL } from '../../support/helper.js'

const SECRET = 'whsec_faults'
const now = (): number => Math.floor(Date.now() / 1000)

function event (i: number): string {
  return JSON.stringify({
    id: `evt_cut_${i}`,
    object: 'event',
    type: i % 2 === 0 ? 'account.application.authorized' : 'customer.created',
    account: `acct_cut_${i}`,
    livemode: false,
    created: now(),
    data: { object: { id: `ca_${i}`, object: 'application' } }
  })
}

/** Ends every connection this test's app holds (they carry the test's application_name). */
async function cut (url: string): Promise<number> {
  const name = new URL(url).searchParams.get('application_name')
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL })
  await admin.connect()
  const res = await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1', [name])
  await admin.end()
  return res.rowCount ?? 0
}

t.test(
  'connections cut under load: the process lives, tills are served, every webhook is handled once',
  needs('TEST_DATABASE_URL', TEST_DATABASE_URL),
  async t => {
    const url = (await pgUrl(t))!
    // the till loops while the webhooks run: on a slow machine it passes the default 100 requests a
    // minute, and a 429 is not what this test is about
    const { app, logs } = await build(t, { env: { DATABASE_URL: url, STRIPE_WEBHOOK_SECRET: SECRET, RATE_LIMIT_MAX: '100000' } })
    const deliver = async (i: number) => {
      const body = event(i)
      return await app.inject({
        method: 'POST',
        url: '/webhooks',
        payload: body,
        headers: { 'content-type': 'application/json', 'stripe-signature': sign(body, SECRET) }
      })
    }
    const N = 80
    const statuses = new Map<number, number>()
    let next = 0
    let cuts = 0
    const worker = async () => {
      while (next < N) {
        const i = next++
        if (i % 20 === 10) cuts += await cut(url)
        statuses.set(i, (await deliver(i)).statusCode)
      }
    }
    const tills: number[] = []
    const till = async () => {
      // eslint-disable-next-line no-unmodified-loop-condition -- the webhook workers advance `next`
      while (next < N) {
        tills.push((await app.inject({ method: 'POST', url: '/connection_token' })).statusCode)
        await new Promise(resolve => setImmediate(resolve))
      }
    }
    await Promise.all([worker(), worker(), worker(), worker(), worker(), till()])
    t.ok(cuts > 0, `connections were cut (${cuts})`)
    t.same(
      [...new Set(statuses.values())].filter(s => s !== 200 && s !== 503),
      [],
      'each webhook was answered 200, or 503 "retry" so Stripe redelivers'
    )
    const got = [...new Set(tills)].join(', ')
    t.ok(tills.length > 0 && tills.every(s => s === 200), `tills got every connection token during the cuts (${tills.length}: ${got})`)
    t.ok(
      logs.some(l => l.msg === 'database connection lost' && l.level === 40),
      'the lost connection is logged at warn'
    )

    // Stripe redelivers what failed: each one is handled in full now
    for (const [i, status] of statuses) {
      if (status === 503) t.equal((await deliver(i)).statusCode, 200, `evt_cut_${i} handled on redelivery`)
    }
    const rows = await app.store.db.selectFrom('webhook_events').select('id').where('id', 'like', 'evt_cut_%').execute()
    t.equal(rows.length, N, 'every event recorded exactly once')
    const installs = await app.store.db.selectFrom('installations').select('account').where('account', 'like', 'acct_cut_%').execute()
    t.equal(installs.length, N / 2, 'every install applied')
    t.equal((await app.inject({ method: 'GET', url: '/ready' })).statusCode, 200, 'ready again by itself')
  }
)

t.test(
  'a database unreachable at boot: the service starts, serves tills, retries, and recovers',
  needs('TEST_DATABASE_URL', TEST_DATABASE_URL),
  async t => {
    const url = new URL((await pgUrl(t))!)
    const target = { host: url.hostname, port: Number(url.port || 5432) }
    // a TCP forwarder to Postgres that starts listening only later: the database "comes back"
    const port = await freePort()
    const sockets = new Set<net.Socket>()
    const forwarder = net.createServer(client => {
      const upstream = net.connect(target)
      sockets.add(client).add(upstream)
      client.pipe(upstream).pipe(client)
      const end = () => {
        client.destroy()
        upstream.destroy()
      }
      client.on('error', end).on('close', end)
      upstream.on('error', end).on('close', end)
    })
    t.teardown(() => {
      for (const s of sockets) s.destroy()
      forwarder.close()
    })
    url.host = `127.0.0.1:${port}`

    const { app, logs } = await build(t, { env: { DATABASE_URL: url.toString(), STRIPE_WEBHOOK_SECRET: SECRET } })
    t.ok(
      logs.some(l => l.msg === 'database unreachable: serving what needs no database; retrying the migrations' && l.attempt === 1),
      'a clear warn line'
    )
    t.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200)
    t.equal((await app.inject({ method: 'POST', url: '/connection_token' })).statusCode, 200, 'tills are served')
    const ready = await app.inject({ method: 'GET', url: '/ready' })
    t.equal(ready.statusCode, 503)
    t.same(ready.json().checks, { database: 'down' })
    const body = event(1000)
    const deliver = async () => await app.inject({
      method: 'POST',
      url: '/webhooks',
      payload: body,
      headers: { 'content-type': 'application/json', 'stripe-signature': sign(body, SECRET) }
    })
    const early = await deliver()
    t.equal(early.statusCode, 503, 'a webhook fails (503 "retry"), so Stripe redelivers it')

    await new Promise<void>(resolve => forwarder.listen(port, '127.0.0.1', resolve))
    let status = 0
    for (let i = 0; i < 100 && status !== 200; i++) {
      await new Promise(resolve => setTimeout(resolve, 100))
      status = (await app.inject({ method: 'GET', url: '/ready' })).statusCode
    }
    t.equal(status, 200, 'ready once the database answers, with no restart')
    t.ok(logs.some(l => l.msg === 'database reachable: migrations ran, serving everything'))
    const redelivered = await deliver()
    t.equal(redelivered.statusCode, 200, 'the redelivery is handled')
  }
)
