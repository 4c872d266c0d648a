// Real-browser tests: Debian's Chromium, driven by playwright-core (no browser download), loads
// pages this test serves on localhost and calls the service over real sockets. What a browser does
// with CORS, preflights, sandboxed iframes and the docs page is the browser's call, not ours.
// .ci/run installs chromium; where it is missing these tests skip and say so.
import { existsSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { chromium, type Browser } from 'playwright-core'
import { build, sign } from '../support/helper.js'
import { FakeStripe } from '../support/fake-stripe.js'

const CHROMIUM = '/usr/bin/chromium'
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install chromium): the real-browser tests did not run`
const KEY = 'browser-till-key-0123456789abcdef0123'
const APP_SECRET = 'absec_test_browser'

/** Serves `pages[path]` as HTML; the same server answers as http://localhost:P and http://127.0.0.1:P, two origins. */
async function pageServer (t: Test, pages: Record<string, string>): Promise<number> {
  const server = http.createServer((req, res) => {
    const page = pages[(req.url ?? '/').split('?')[0]!]
    res.writeHead(page === undefined ? 404 : 200, { 'content-type': 'text/html; charset=utf-8' })
    res.end(page ?? 'not found')
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => server.close(() => resolve())))
  return (server.address() as AddressInfo).port
}

async function launch (t: Test): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    // this machine's network is closed: no background fetches (they fail loudly), no sandbox as root
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync'
    ]
  })
  t.teardown(() => browser.close())
  return browser
}

const listen = async (app: import('fastify').FastifyInstance): Promise<string> => {
  await app.listen({ port: 0, host: '127.0.0.1' })
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
}

/** A till page: the JS demo's calls, with the API key header (a preflight) */
const TILL = (api: string, key: string) => `<!doctype html><meta charset="utf-8"><title>till</title><script>
async function run () {
  const form = { 'content-type': 'application/x-www-form-urlencoded', 'x-api-key': ${JSON.stringify(key)} }
  const out = {}
  try {
    const token = await fetch(${JSON.stringify(api)} + '/connection_token', { method: 'POST', headers: form })
    out.token = { status: token.status, body: await token.json() }
    const pi = await fetch(${JSON.stringify(api)} + '/create_payment_intent',
      { method: 'POST', headers: form, body: 'amount=1234&currency=usd' })
    out.pi = { status: pi.status, body: await pi.json() }
  } catch (err) { out.error = String(err) }
  return out
}
</script>`

/** A page that tries what needs no preflight: a no-cors fetch and a plain form POST into an iframe */
const CSRF = (api: string) => `<!doctype html><meta charset="utf-8"><title>csrf</title>
<iframe name="sink"></iframe>
<form method="POST" action="${api}/create_payment_intent" target="sink"><input name="amount" value="999"></form>
<script>
async function run () {
  const out = {}
  const plain = { method: 'POST', mode: 'no-cors', body: new URLSearchParams('amount=500') }
  await fetch(${JSON.stringify(api)} + '/create_payment_intent', plain)
    .then(r => { out.noCors = r.type }, e => { out.noCors = String(e) })
  await new Promise(resolve => { document.querySelector('iframe').onload = resolve; document.forms[0].submit() })
  out.submitted = true
  return out
}
</script>`

t.test('a till page on an allowed origin: the preflight passes and the answers are readable', { skip }, async t => {
  const fake = await new FakeStripe().start()
  t.teardown(() => fake.stop())
  const pages: Record<string, string> = {}
  const port = await pageServer(t, pages)
  const { app, logs } = await build(t, { fake, env: { API_KEY: KEY, ALLOWED_ORIGINS: `http://localhost:${port}` } })
  const api = await listen(app)
  pages['/till.html'] = TILL(api, KEY)
  const page = await (await launch(t)).newPage()
  await page.goto(`http://localhost:${port}/till.html`)
  const out = (await page.evaluate('run()')) as Record<string, any>
  t.equal(out.error, undefined, 'no network error')
  t.equal(out.token?.status, 200)
  t.match(out.token?.body, { secret: /^pst_test_/ })
  t.equal(out.pi?.status, 200)
  t.match(out.pi?.body, { intent: /^pi_/, secret: /_secret_/ })
  t.equal(fake.callsTo('POST', '/v1/payment_intents')[0]?.params.amount, '1234')
  const preflight = logs.find(l => l.msg === 'request' && l.method === 'OPTIONS' && l.path === '/connection_token')
  t.ok(preflight, 'the browser sent a preflight first (the X-API-Key header needs one)')
})

t.test('the same till page on a disallowed origin is blocked, and nothing reaches Stripe', { skip }, async t => {
  const fake = await new FakeStripe().start()
  t.teardown(() => fake.stop())
  const pages: Record<string, string> = {}
  const port = await pageServer(t, pages)
  // development-like: no API_KEY, so only the Origin check stands between a foreign page and Stripe
  const { app, logs } = await build(t, { fake, env: { ALLOWED_ORIGINS: `http://localhost:${port}` } })
  const api = await listen(app)
  pages['/till.html'] = TILL(api, KEY)
  pages['/csrf.html'] = CSRF(api)
  const browser = await launch(t)
  const page = await browser.newPage()
  await page.goto(`http://127.0.0.1:${port}/till.html`)
  const out = (await page.evaluate('run()')) as Record<string, any>
  t.match(out.error, /TypeError: Failed to fetch/, 'the browser refuses the preflight')
  t.equal(out.token, undefined)

  const csrf = await browser.newPage()
  await csrf.goto(`http://127.0.0.1:${port}/csrf.html`)
  const sent = (await csrf.evaluate('run()')) as Record<string, any>
  // helmet's Cross-Origin-Resource-Policy makes the browser drop even the opaque answer
  t.equal(sent.noCors, 'TypeError: Failed to fetch', 'the no-cors POST gets no answer')
  t.equal(sent.submitted, true, 'the form was submitted')
  const arrived = logs.filter(l => l.msg === 'request' && l.status === 403)
  t.equal(arrived.length, 2, 'both requests reached the service, without a preflight, and were refused 403')
  t.equal(fake.calls.length, 0, 'nothing reached Stripe: no token, no PaymentIntent')
})

/** A till page that opens the reader's event stream with a streaming fetch and shows each outcome */
const STREAM = (api: string, key: string) => `<!doctype html><meta charset="utf-8"><title>stream</title>
<p id="status">waiting</p><script>
window.events = []
window.opened = (async () => {
  const res = await fetch(${JSON.stringify(api)} + '/reader_events?reader_id=tmr_browser',
    { headers: { 'X-API-Key': ${JSON.stringify(key)} } })
  window.headers = { type: res.headers.get('content-type'), id: res.headers.get('x-request-id') }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
  ;(async () => {
    let buffer = ''
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      buffer += value
      for (let cut; (cut = buffer.indexOf('\\n\\n')) !== -1; buffer = buffer.slice(cut + 2)) {
        const data = buffer.slice(0, cut).split('\\n').find(l => l.startsWith('data: '))
        if (!data) continue
        const action = JSON.parse(data.slice(6)).action
        window.events.push(action)
        document.getElementById('status').textContent = action.status + (action.failure_code ? ' ' + action.failure_code : '')
      }
    }
  })()
  return res.status
})()
</script>`

t.test('a till page opens the reader event stream with the API key header and shows the outcome', { skip }, async t => {
  const pages: Record<string, string> = {}
  const port = await pageServer(t, pages)
  const WHSEC = 'whsec_browser'
  const env = { API_KEY: KEY, STRIPE_WEBHOOK_SECRET: WHSEC, ALLOWED_ORIGINS: `http://localhost:${port}` }
  const { app } = await build(t, { env })
  const api = await listen(app)
  pages['/stream.html'] = STREAM(api, KEY)
  const page = await (await launch(t)).newPage()
  await page.goto(`http://localhost:${port}/stream.html`)
  t.equal(await page.evaluate('window.opened'), 200, 'the preflight passed (X-API-Key) and the stream opened')
  t.match(await page.evaluate('window.headers'), { type: /^text\/event-stream/, id: /./ }, 'its headers are readable through CORS')
  const payload = JSON.stringify({
    id: 'evt_browser',
    object: 'event',
    type: 'terminal.reader.action_failed',
    livemode: false,
    created: 1_700_000_000,
    data: {
      object: {
        id: 'tmr_browser',
        object: 'terminal.reader',
        metadata: {},
        action: { type: 'process_payment_intent', status: 'failed', failure_code: 'card_declined', failure_message: 'Declined.' }
      }
    }
  })
  const headers = { 'content-type': 'application/json', 'stripe-signature': sign(payload, WHSEC) }
  t.equal((await app.inject({ method: 'POST', url: '/webhooks', payload, headers })).statusCode, 200)
  await page.waitForFunction('window.events.length > 0')
  t.equal(await page.textContent('#status'), 'failed card_declined', 'the page shows the outcome as it happened')
})

t.test('a sandboxed UI extension (origin null) calls /apps/session with each signing pattern', { skip }, async t => {
  const { app } = await build(t, { env: { STRIPE_APP_SECRET: APP_SECRET } })
  const api = await listen(app)
  const body = (extra: Record<string, unknown>) => JSON.stringify({ ...extra, user_id: 'usr_1', account_id: 'acct_1' })
  const additional = body({ stripe_roles: [{ id: 'admin', type: 'builtIn', name: 'Administrator' }] })
  const requests = [
    { pattern: 'body', body: additional, signature: sign(additional, APP_SECRET) },
    { pattern: 'identity', body: body({ page: 'home' }), signature: sign('{"user_id":"usr_1","account_id":"acct_1"}', APP_SECRET) }
  ]
  const inner = `<script>
    Promise.all(${JSON.stringify(requests)}.map(r => fetch(${JSON.stringify(api)} + '/apps/session', {
      method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': r.signature }, body: r.body
    }).then(async res => ({ pattern: r.pattern, status: res.status, body: await res.json() }),
      e => ({ pattern: r.pattern, error: String(e) }))))
      .then(results => parent.postMessage({ origin: self.origin, results }, '*'))
  </script>`
  const host = `<!doctype html><meta charset="utf-8"><script>
    window.done = new Promise(resolve => addEventListener('message', e => resolve(e.data)))
  </script><iframe sandbox="allow-scripts" srcdoc="${inner.replace(/&/g, '&amp;').replace(/"/g, '&quot;')}"></iframe>`
  const port = await pageServer(t, { '/host.html': host })
  const page = await (await launch(t)).newPage()
  await page.goto(`http://localhost:${port}/host.html`)
  const data = (await page.evaluate('window.done')) as { origin: string; results: Array<Record<string, any>> }
  t.equal(data.origin, 'null', 'the extension runs with origin null')
  const [a, b] = data.results
  t.match(a, { pattern: 'body', status: 200, body: { user_id: 'usr_1', account_id: 'acct_1', roles: ['admin'] } })
  t.match(b, { pattern: 'identity', status: 200, body: { user_id: 'usr_1', account_id: 'acct_1', roles: [] } })
})

t.test('/docs renders with no console errors', { skip }, async t => {
  const { app } = await build(t)
  const api = await listen(app)
  const page = await (await launch(t)).newPage()
  const errors: string[] = []
  page.on('console', m => {
    if (m.type() === 'error') errors.push(m.text())
  })
  page.on('pageerror', e => {
    errors.push(e.message)
  })
  await page.goto(`${api}/docs`)
  await page.waitForSelector('.swagger-ui .info .title', { timeout: 15_000 })
  t.match(await page.textContent('.swagger-ui .info .title'), /Stripe Terminal backend/)
  await page.waitForSelector('.opblock-tag', { timeout: 15_000 })
  t.ok((await page.locator('.opblock').count()) > 10, 'the operations are listed')
  t.same(errors, [], 'no console errors')
})
