// Two replicas on one Postgres receive two events about the same thing at the same moment: the
// newer event must win every time (READ COMMITTED read-then-write lost 13 of 20 uninstalls).
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, needs, pgUrl, sign, TEST_DATABASE_URL } from '../../support/helper.js'

const SECRET = 'whsec_races'
const ROUNDS = 50

const deliver = async (app: FastifyInstance, event: Record<string, unknown>) => {
  const body = JSON.stringify({ object: 'event', livemode: false, ...event })
  return await app.inject({
    method: 'POST',
    url: '/webhooks',
    payload: body,
    headers: { 'content-type': 'application/json', 'stripe-signature': sign(body, SECRET) }
  })
}

async function replicas (t: Test): Promise<[FastifyInstance, FastifyInstance]> {
  const url = (await pgUrl(t))!
  const env = { DATABASE_URL: url, STRIPE_WEBHOOK_SECRET: SECRET, LOG_LEVEL: 'warn' }
  const a = await build(t, { env })
  const b = await build(t, { env, fake: a.fake })
  return [a.app, b.app]
}

t.test(
  'install vs uninstall on two replicas at once: the newer event wins, data deleted with it',
  needs('TEST_DATABASE_URL', TEST_DATABASE_URL),
  async t => {
    const [a, b] = await replicas(t)
    const base = 1_700_000_000
    for (let i = 0; i < ROUNDS; i++) {
      const account = `acct_race_${i}`
      t.equal(
        (
          await deliver(a, {
            id: `evt_setup_${i}`,
            type: 'account.application.authorized',
            account,
            created: base,
            data: { object: { id: 'ca_1' } }
          })
        ).statusCode,
        200
      )
      await a.store.db.insertInto('app_settings').values({ account, settings: '{"x":1}', updated_at: new Date().toISOString() }).execute()
      // even rounds: the uninstall is newer; odd rounds: a re-install is newer than the uninstall
      const uninstallNewer = i % 2 === 0
      const install = {
        id: `evt_in_${i}`,
        type: 'account.application.authorized',
        account,
        created: base + (uninstallNewer ? 1 : 2),
        data: { object: { id: 'ca_1' } }
      }
      const uninstall = {
        id: `evt_out_${i}`,
        type: 'account.application.deauthorized',
        account,
        created: base + (uninstallNewer ? 2 : 1),
        data: { object: { id: 'ca_1' } }
      }
      const [ra, rb] = await Promise.all([deliver(a, install), deliver(b, uninstall)])
      t.same([ra.statusCode, rb.statusCode], [200, 200], `round ${i}: both answered 200`)
      const row = await a.store.db.selectFrom('installations').selectAll().where('account', '=', account).executeTakeFirstOrThrow()
      const settings = await a.store.db.selectFrom('app_settings').select('account').where('account', '=', account).executeTakeFirst()
      if (uninstallNewer) {
        t.equal(row.status, 'uninstalled', `round ${i}: the newer uninstall won`)
        t.equal(settings, undefined, `round ${i}: the account's data is deleted`)
      } else {
        t.equal(row.status, 'installed', `round ${i}: the newer install won`)
        t.equal(row.event_created, base + 2)
      }
    }
  }
)

t.test('two fresh installs of one account at once: no primary-key 500', needs('TEST_DATABASE_URL', TEST_DATABASE_URL), async t => {
  const [a, b] = await replicas(t)
  for (let i = 0; i < ROUNDS; i++) {
    const account = `acct_fresh_${i}`
    const [ra, rb] = await Promise.all([
      deliver(a, {
        id: `evt_fa_${i}`,
        type: 'account.application.authorized',
        account,
        created: 1_700_000_000,
        data: { object: { id: 'ca_1' } }
      }),
      deliver(b, {
        id: `evt_fb_${i}`,
        type: 'account.application.authorized',
        account,
        created: 1_700_000_001,
        data: { object: { id: 'ca_1' } }
      })
    ])
    t.same([ra.statusCode, rb.statusCode], [200, 200], `round ${i}`)
  }
})

t.test('reader outcomes on two replicas at once: the newer outcome wins', needs('TEST_DATABASE_URL', TEST_DATABASE_URL), async t => {
  const [a, b] = await replicas(t)
  const base = 1_700_000_000
  for (let i = 0; i < ROUNDS; i++) {
    const reader = `tmr_race_${i}`
    const failedNewer = i % 2 === 0
    const outcome = (status: 'succeeded' | 'failed', created: number) => ({
      id: `evt_${status}_${i}`,
      type: `terminal.reader.action_${status}`,
      created,
      data: {
        object: {
          id: reader,
          object: 'terminal.reader',
          action: { type: 'process_payment_intent', status, failure_code: status === 'failed' ? 'card_declined' : null }
        }
      }
    })
    const [ra, rb] = await Promise.all([
      deliver(a, outcome('succeeded', base + (failedNewer ? 1 : 2))),
      deliver(b, outcome('failed', base + (failedNewer ? 2 : 1)))
    ])
    t.same([ra.statusCode, rb.statusCode], [200, 200], `round ${i}: both answered`)
    const res = await a.inject({ method: 'GET', url: `/reader_action?reader_id=${reader}` })
    t.equal(res.json().action.status, failedNewer ? 'failed' : 'succeeded', `round ${i}: the newer outcome`)
  }
})
