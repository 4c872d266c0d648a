import t from 'tap'
import { build, needs, pgUrl, TEST_DATABASE_URL } from '../support/helper.js'

t.test('upkeep prunes old event ids, expired nonces and ownership facts', async t => {
  const { app } = await build(t, { env: { WEBHOOK_RETENTION_DAYS: '30' } })
  const db = app.store.db
  const day = 24 * 3600_000
  await db
    .insertInto('webhook_events')
    .values([
      { id: 'evt_old', type: 'x', account: null, livemode: 0, created: 1, received_at: new Date(Date.now() - 31 * day).toISOString() },
      { id: 'evt_new', type: 'x', account: null, livemode: 0, created: 1, received_at: new Date(Date.now() - 29 * day).toISOString() }
    ])
    .execute()
  const change = (ago: number) =>
    ({ reader_id: 'tmr_1', livemode: 0, account: null, body: '{}', created_at: new Date(Date.now() - ago * day).toISOString() })
  await db.insertInto('reader_action_events').values([change(31), change(29)]).execute()
  await db
    .insertInto('nonces')
    .values([
      { nonce: 'used_expired', account: 'acct_1', expires_at: new Date(Date.now() - 1000).toISOString() },
      { nonce: 'used_live', account: 'acct_1', expires_at: new Date(Date.now() + 60_000).toISOString() }
    ])
    .execute()
  t.equal(await app.scheduler.run('prune-webhook-events'), 'ran')
  t.equal(await app.scheduler.run('prune-nonces'), 'ran')
  t.same(
    (await db.selectFrom('webhook_events').select('id').execute()).map(r => r.id),
    ['evt_new']
  )
  t.same(
    (await db.selectFrom('nonces').select('nonce').execute()).map(r => r.nonce),
    ['used_live']
  )
  const changes = await db.selectFrom('reader_action_events').select('id').execute()
  t.equal(changes.length, 1, 'the reader streams\' log: only the recent change')
  await db.insertInto('owned_objects').values([
    { fact: 'payment_intent acct_1 pi_old', expires_at: new Date(Date.now() - 1000).toISOString() },
    { fact: 'payment_intent acct_1 pi_new', expires_at: new Date(Date.now() + 60_000).toISOString() }
  ]).execute()
  t.equal(await app.scheduler.run('prune-owned-objects'), 'ran')
  t.same((await db.selectFrom('owned_objects').select('fact').execute()).map(r => r.fact), ['payment_intent acct_1 pi_new'])
  await t.rejects(app.scheduler.run('no-such-job'), /no job named/)
})

t.test('a job runs once across two instances sharing Postgres', needs('TEST_DATABASE_URL', TEST_DATABASE_URL), async t => {
  const url = await pgUrl(t)
  const a = await build(t, { env: { DATABASE_URL: url } })
  const b = await build(t, { env: { DATABASE_URL: url }, fake: a.fake })
  let runs = 0
  // the job holds its lock until released: no sleep decides the overlap
  let release = (): void => {}
  const held = new Promise<void>(resolve => { release = resolve })
  for (const { app } of [a, b]) {
    app.scheduler.add('slow-job', 3600_000, async () => {
      runs++
      await held
    })
  }
  const both = [a.app.scheduler.run('slow-job'), b.app.scheduler.run('slow-job')]
  t.equal(await Promise.race(both), 'skipped', 'the second is skipped while the first runs')
  release()
  const results = await Promise.all(both)
  t.same(results.sort(), ['ran', 'skipped'])
  t.equal(runs, 1)
  t.same(
    await Promise.all([a.app.scheduler.run('prune-nonces'), b.app.scheduler.run('prune-nonces')].map(p => p.then(() => 'done'))),
    ['done', 'done'],
    'real jobs too'
  )
})

t.test('on one instance a job never overlaps itself; close waits for it', async t => {
  const { app } = await build(t)
  let finished = false
  let release = (): void => {}
  const held = new Promise<void>(resolve => { release = resolve })
  app.scheduler.add('slow-local', 3600_000, async () => {
    await held
    finished = true
  })
  const first = app.scheduler.run('slow-local')
  t.equal(await app.scheduler.run('slow-local'), 'skipped')
  let closedYet = false
  const closed = app.close().then(() => { closedYet = true })
  // give close every turn of the event loop it wants: it must still be waiting for the job
  for (let i = 0; i < 50; i++) await new Promise(resolve => setImmediate(resolve))
  t.equal(closedYet, false, 'close is still waiting while the job runs')
  release()
  await closed
  t.equal(finished, true, 'close waited for the running job')
  t.equal(await first, 'ran')
})
