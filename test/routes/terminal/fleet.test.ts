// Fleet management (issue "Manage the fleet"): locations and readers updated, retired and paged,
// and reader configurations — each route's exact Stripe call, its answer, its errors and hostile
// input; paging over 250 readers under the platform key and under a merchant key that owns 120.
// Which key may act on whose objects is the isolation matrix's (isolation.test.ts), which covers
// these routes too.
import t from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { build } from '../../support/helper.js'
import { fixture, fixturesAvailable } from '../../support/fixtures.js'
import { decoded } from '../../support/terminal.js'

const FORM = { 'content-type': 'application/x-www-form-urlencoded' }
const KEY = 'k'.repeat(32)
const ADMIN = 'admin-key-0123456789abcdef0123456789'
const headers = { ...FORM, 'x-api-key': KEY }

t.test('locations: retrieve, update, delete — the exact call and Stripe\'s answer', async t => {
  const { app, fake } = await build(t, { env: { API_KEY: KEY } })
  const post = async (url: string, payload: string) => await app.inject({ method: 'POST', url, headers, payload })

  const got = await app.inject({ method: 'GET', url: '/retrieve_location?location_id=tml_9&display_name=x', headers })
  t.equal(got.statusCode, 200)
  t.match(got.json(), { id: 'tml_9', object: 'terminal.location' })
  t.same(fake.callsTo('GET', '/v1/terminal/locations/tml_9')[0]?.query, {}, 'nothing else of the query string reaches Stripe')

  const updated = await post('/update_location',
    'location_id=tml_9&display_name=Store+12&address[line1]=2+Main+St&address[country]=US&configuration_overrides=tmc_1' +
    '&metadata[region]=west&livemode=true')
  t.equal(updated.statusCode, 200)
  t.match(updated.json(), { id: 'tml_9', display_name: 'Store 12', configuration_overrides: 'tmc_1' })
  t.equal(decoded(fake.callsTo('POST', '/v1/terminal/locations/tml_9')[0]),
    'display_name=Store 12&address[line1]=2 Main St&address[country]=US&configuration_overrides=tmc_1&metadata[region]=west',
    'the named fields, in the order given; nothing unknown')

  const cleared = await post('/update_location', 'location_id=tml_9&configuration_overrides=')
  t.equal(cleared.statusCode, 200)
  t.equal(decoded(fake.callsTo('POST', '/v1/terminal/locations/tml_9')[1]), 'configuration_overrides=',
    'an empty value clears it, as in Stripe')

  const gone = await post('/delete_location', 'location_id=tml_9')
  t.equal(gone.statusCode, 200)
  t.same(gone.json(), { id: 'tml_9', object: 'terminal.location', deleted: true })
  t.equal(fake.callsTo('DELETE', '/v1/terminal/locations/tml_9').length, 1)

  const missing = await post('/update_location', 'location_id=tml_missing&display_name=x')
  t.equal(missing.statusCode, 402)
  t.equal(missing.body, "Error updating Location! No such terminal.location: 'tml_missing'", 'Stripe\'s text under the route\'s prefix')
  t.same(fake.takeSpecViolations(), [], 'every call is one Stripe\'s API takes')
})

t.test('readers: update and delete; moving one is registering it again', async t => {
  const { app, fake } = await build(t, { env: { API_KEY: KEY } })
  const post = async (url: string, payload: string) => await app.inject({ method: 'POST', url, headers, payload })

  const relabeled = await post('/update_reader', 'reader_id=tmr_1&label=Till+3&metadata[lane]=3&location=tml_2')
  t.equal(relabeled.statusCode, 200)
  t.match(relabeled.json(), { id: 'tmr_1', label: 'Till 3' })
  t.equal(decoded(fake.callsTo('POST', '/v1/terminal/readers/tmr_1')[0]), 'label=Till 3&metadata[lane]=3',
    'label and metadata only: a reader does not change location by update')

  const retired = await post('/delete_reader', 'reader_id=tmr_1')
  t.same(retired.json(), { id: 'tmr_1', object: 'terminal.reader', deleted: true })
  t.equal(fake.callsTo('DELETE', '/v1/terminal/readers/tmr_1').length, 1)

  const moved = await post('/register_reader', 'registration_code=simulated-wpe&location=tml_2&label=Till+3')
  t.equal(moved.statusCode, 200)
  t.match(moved.json(), { location: 'tml_2' }, 'registered again at the new location')
  t.same(fake.takeSpecViolations(), [])
})

t.test('reader configurations: tipping, offline mode, reboot window, name', async t => {
  const { app, fake } = await build(t, { env: { API_KEY: KEY } })
  const post = async (url: string, payload: string) => await app.inject({ method: 'POST', url, headers, payload })

  const created = await post('/create_configuration',
    'name=Tips&tipping[usd][percentages][]=15&tipping[usd][percentages][]=18&tipping[usd][percentages][]=20' +
    '&tipping[usd][fixed_amounts][]=100&tipping[usd][smart_tip_threshold]=1000&offline[enabled]=true' +
    '&reboot_window[start_hour]=1&reboot_window[end_hour]=3&bbpos_wisepos_e[splashscreen]=file_x')
  t.equal(created.statusCode, 200)
  const id = created.json().id as string
  t.match(created.json(), { object: 'terminal.configuration', name: 'Tips', offline: { enabled: 'true' } })
  t.equal(decoded(fake.callsTo('POST', '/v1/terminal/configurations')[0]),
    'name=Tips&tipping[usd][percentages][0]=15&tipping[usd][percentages][1]=18&tipping[usd][percentages][2]=20' +
    '&tipping[usd][fixed_amounts][0]=100&tipping[usd][smart_tip_threshold]=1000&offline[enabled]=true' +
    '&reboot_window[start_hour]=1&reboot_window[end_hour]=3',
    'the four fields, as Stripe\'s form encoding; nothing else')

  const listed = await app.inject({ method: 'GET', url: '/list_configurations', headers })
  t.same(listed.json().map((c: { id: string }) => c.id), [id], 'a top-level array')
  t.same(fake.callsTo('GET', '/v1/terminal/configurations')[0]?.query, { limit: '100' })
  t.equal(listed.headers['stripe-has-more'], 'false')

  const json = await app.inject({
    method: 'POST',
    url: '/update_configuration',
    headers: { 'content-type': 'application/json', 'x-api-key': KEY },
    payload: { configuration_id: id, offline: { enabled: false }, tipping: { eur: { percentages: [10] } } }
  })
  t.equal(json.statusCode, 200, json.body)
  t.equal(decoded(fake.callsTo('POST', `/v1/terminal/configurations/${id}`)[0]), 'tipping[eur][percentages][0]=10&offline[enabled]=false',
    'a JSON body too')

  const overrides = await post('/update_location', `location_id=tml_1&configuration_overrides=${id}`)
  t.equal(overrides.statusCode, 200, 'a location points at it')

  const gone = await post('/delete_configuration', `configuration_id=${id}`)
  t.same(gone.json(), { id, object: 'terminal.configuration', deleted: true })
  t.same(fake.takeSpecViolations(), [], 'every call is one the pinned stripe package declares')
})

t.test('bad input: a clear 400 naming the parameter, and no Stripe call', async t => {
  const { app, fake } = await build(t, { env: { API_KEY: KEY } })
  const metadata = (n: number, key = 'k', value = 'v'): string =>
    Array.from({ length: n }, (_, i) => `metadata[${key}${i}]=${value}`).join('&')
  const cases: Array<[string, string, string, RegExp]> = [
    ['POST', '/update_location', 'display_name=x', /'location_id' is a required parameter/],
    ['POST', '/update_location', 'location_id=', /'location_id' is a required parameter/],
    ['POST', '/update_location', 'location_id[]=tml_1', /'location_id'/],
    ['POST', '/update_location', `location_id=tml_1&${metadata(51)}`, /metadata/],
    ['POST', '/update_location', `location_id=tml_1&metadata[${'k'.repeat(41)}]=v`, /metadata/],
    ['POST', '/update_location', `location_id=tml_1&metadata[k]=${'v'.repeat(501)}`, /metadata/],
    ['POST', '/delete_location', '', /'location_id' is a required parameter/],
    ['GET', '/retrieve_location', '', /'location_id' is a required parameter/],
    ['POST', '/update_reader', 'label=x', /'reader_id' is a required parameter/],
    ['POST', '/delete_reader', 'reader_id=', /'reader_id' is a required parameter/],
    ['POST', '/update_configuration', 'name=x', /'configuration_id' is a required parameter/],
    ['POST', '/delete_configuration', '', /'configuration_id' is a required parameter/],
    ['POST', '/create_configuration', 'tipping[usd][percentages][]=1&tipping[usd][percentages][]=2&tipping[usd][percentages][]=3&' +
      'tipping[usd][percentages][]=4', /tipping/],
    ['POST', '/create_configuration', 'tipping[usd][percentages][]=ten', /tipping/],
    ['POST', '/create_configuration', 'tipping[dollars][percentages][]=10', /tipping/],
    ['POST', '/create_configuration', 'reboot_window[start_hour]=24&reboot_window[end_hour]=3', /reboot_window/],
    ['POST', '/create_configuration', 'offline[enabled]=perhaps', /offline/],
    ['POST', '/create_configuration', 'offline=true', /offline/],
    ['GET', '/list_readers', 'limit=0', /limit/],
    ['GET', '/list_readers', 'limit=101', /limit/],
    ['GET', '/list_locations', 'limit=many', /limit/],
    ['GET', '/list_locations', 'starting_after=', /starting_after/],
    ['GET', '/list_configurations', 'ending_before[]=tmc_1', /ending_before/]
  ]
  for (const [method, url, payload, text] of cases) {
    fake.reset()
    const res: LightMyRequestResponse = method === 'GET'
      ? await app.inject({ method: 'GET', url: `${url}?${payload}`, headers })
      : await app.inject({ method: 'POST', url, headers, payload })
    t.equal(res.statusCode, 400, `${method} ${url} ${payload.slice(0, 60)}: ${res.body.slice(0, 100)}`)
    t.match(res.body, text, `${url}: the text names what is wrong`)
    t.equal(fake.calls.length, 0, `${url}: Stripe not called`)
  }
})

t.test('paging over 250 readers: every reader once, in order, under the platform key and a merchant key owning 120',
  { skip: fixturesAvailable ? false : 'Stripe\'s fixtures are absent' }, async t => {
    const { app, fake } = await build(t, { env: { API_KEY: KEY, ADMIN_API_KEY: ADMIN } })
    const minted = await app.inject({
      method: 'POST',
      url: '/admin/keys',
      headers: { authorization: `Bearer ${ADMIN}` },
      payload: { account: 'acct_M', label: 'store', charge: { type: 'destination' } }
    })
    const merchant = minted.json().key as string
    // 250 readers on the platform; every 25 in a row of them, 12 are the merchant's (120 in all)
    const seeded: string[] = []
    for (let i = 0; i < 250; i++) {
      const id = `tmr_${String(i).padStart(3, '0')}`
      const owned = i % 25 < 12
      fake.put(fixture('terminal.reader', { id, metadata: owned ? { merchant_account: 'acct_M' } : {}, location: 'tml_1' }))
      seeded.push(id)
    }
    const everything = ['tmr_1', 'tmr_2', ...seeded] // the fake's two default readers come first
    const merchants = seeded.filter((_, i) => i % 25 < 12)
    t.equal(merchants.length, 120)

    /** follows `rel` links from `start` until Stripe-Has-More is false; the ids of every page, in order */
    const walk = async (key: string, start: string, rel: 'next' | 'prev'): Promise<{ pages: string[][], requests: number }> => {
      const pages: string[][] = []
      let url: string | undefined = start
      let requests = 0
      while (url !== undefined && requests < 50) {
        const res: LightMyRequestResponse = await app.inject({ method: 'GET', url, headers: { 'x-api-key': key } })
        requests++
        t.equal(res.statusCode, 200, `${url}: ${res.body.slice(0, 80)}`)
        pages.push(res.json().map((r: { id: string }) => r.id))
        const link = String(res.headers.link ?? '')
        const found = new RegExp(`<([^>]+)>; rel="${rel}"`).exec(link)
        url = res.headers['stripe-has-more'] === 'true' ? found?.[1] : undefined
        if (res.headers['stripe-has-more'] === 'true') t.ok(found, `${rel} link while more remain`)
      }
      return { pages, requests }
    }

    const platform = await walk(KEY, '/list_readers?limit=40', 'next')
    t.same(platform.pages.flat(), everything, 'the platform key: all 252, each once, in order')
    t.ok(platform.pages.slice(0, -1).every(p => p.length === 40), 'full pages of the limit asked, the last one short')
    t.same(fake.callsTo('GET', '/v1/terminal/readers')[1]?.query, { limit: '40', starting_after: 'tmr_037' }, 'Stripe\'s own cursor')

    const back = await walk(KEY, `/list_readers?limit=40&ending_before=${seeded.at(-1)!}`, 'prev')
    t.same(back.pages.reverse().flat(), everything.slice(0, -1), 'walked backwards: the same order')

    const mine = await walk(merchant, '/list_readers?limit=50', 'next')
    t.same(mine.pages.flat(), merchants, 'the merchant key: its 120, each once, in order, no one else\'s')
    t.ok(mine.pages.slice(0, -1).every(p => p.length === 50), 'filtered pages are full until the last')
    const mineBack = await walk(merchant, `/list_readers?limit=50&ending_before=${seeded.at(-1)!}`, 'prev')
    t.same(mineBack.pages.reverse().flat(), merchants, 'and backwards: the same 120, in the same order')

    const defaults = await app.inject({ method: 'GET', url: '/list_readers', headers: { 'x-api-key': merchant } })
    t.equal(defaults.json().length, 100, 'a page of 100 by default, as before')
    t.equal(defaults.headers['stripe-has-more'], 'true')
  })

t.test('a merchant\'s page shortened by the scan limit says there is more', { skip: !fixturesAvailable }, async t => {
  const { app, fake } = await build(t, { env: { API_KEY: KEY, ADMIN_API_KEY: ADMIN } })
  const minted = await app.inject({
    method: 'POST',
    url: '/admin/keys',
    headers: { authorization: `Bearer ${ADMIN}` },
    payload: { account: 'acct_M', label: 's', charge: { type: 'destination' } }
  })
  // 1,100 of the platform's before the merchant's one reader: the first page reads 1,000 and stops
  for (let i = 0; i < 1100; i++) fake.put(fixture('terminal.reader', { id: `tmr_p${String(i).padStart(4, '0')}`, metadata: {} }))
  fake.put(fixture('terminal.reader', { id: 'tmr_mine', metadata: { merchant_account: 'acct_M' } }))
  const first = await app.inject({ method: 'GET', url: '/list_readers', headers: { 'x-api-key': minted.json().key } })
  t.same(first.json(), [], 'none of its own among the first 1,000 read')
  t.equal(first.headers['stripe-has-more'], 'true', 'but the list is not over')
  const next = /<([^>]+)>; rel="next"/.exec(String(first.headers.link))?.[1]
  t.match(next, /starting_after=tmr_p0997/, 'it continues after the last reader read (the fake\'s two defaults are read first)')
  const second = await app.inject({ method: 'GET', url: next!, headers: { 'x-api-key': minted.json().key } })
  t.same(second.json().map((r: { id: string }) => r.id), ['tmr_mine'])
  t.equal(second.headers['stripe-has-more'], 'false')
})
