// A client that sends too much still reads its answer: a till or a browser writes its whole body
// before it reads, so a 413 (or a 401/403/429 given before the body was read) must not come with a
// reset. Real sockets: the reset is the kernel's, which inject() never sees.
import { connect } from 'node:net'
import t from 'tap'
import { build } from '../../support/helper.js'

const KB = 1024

interface Outcome { status: number, body: string, error?: string }

/** Writes the request and its whole body, then reads the answer: what a client that does not read while writing sees. */
async function send (port: number, path: string, size: number, chunked: boolean, headers: Record<string, string> = {}): Promise<Outcome> {
  return await new Promise(resolve => {
    const socket = connect(port, '127.0.0.1')
    const received: Buffer[] = []
    let error: string | undefined
    socket.on('data', d => received.push(d))
    socket.on('error', err => { error = (err as NodeJS.ErrnoException).code ?? err.message })
    socket.on('close', () => {
      const text = Buffer.concat(received).toString('latin1')
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)
      resolve({ status, body: text.split('\r\n\r\n').slice(1).join('\r\n\r\n'), ...(error === undefined ? {} : { error }) })
    })
    socket.on('connect', () => {
      const head = [
        `POST ${path} HTTP/1.1`,
        'Host: 127.0.0.1',
        'Content-Type: application/x-www-form-urlencoded',
        // read to the end of the connection: the simplest client that reads a whole answer
        'Connection: close',
        ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
        chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${size}`,
        '', ''
      ].join('\r\n')
      socket.write(head)
      // the body in 64 KB pieces with a pause between them, as a phone's network delivers it: the
      // server answers while the client is still writing, which is when an early close resets
      const body = Buffer.alloc(size, 'a')
      const write = async (): Promise<void> => {
        for (let at = 0; at < size && !socket.destroyed; at += 64 * KB) {
          const piece = body.subarray(at, at + 64 * KB)
          if (chunked) socket.write(`${piece.length.toString(16)}\r\n`)
          socket.write(piece)
          if (chunked) socket.write('\r\n')
          await new Promise(resolve => setTimeout(resolve, 1))
        }
        if (chunked && !socket.destroyed) socket.write('0\r\n\r\n')
      }
      write().catch(() => {})
      // then read until the server closes (or a test timeout: a socket the server never closes is a failure too)
      socket.setTimeout(10_000, () => { error = 'timeout'; socket.destroy() })
    })
  })
}

t.test('oversized bodies: every answer read, no reset', async t => {
  const { app } = await build(t, {
    env: { API_KEY: 'k'.repeat(32), STRIPE_PROXY_KEY: 'rk_test_proxy', STRIPE_APP_SECRET: 'absec_x', RATE_LIMIT_MAX: '100000' }
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  const key = { 'X-API-Key': 'k'.repeat(32) }
  interface Case { area: string, path: string, headers: Record<string, string>, sizes: number[], status: number, text: RegExp }
  const cases: Case[] = [
    {
      area: 'Terminal', path: '/cancel_payment_intent', headers: key, sizes: [600 * KB, 2048 * KB], status: 413, text: /at most 65536 bytes/
    },
    {
      area: 'Apps',
      path: '/apps/session',
      headers: { 'Stripe-Signature': 't=1,v1=00' },
      sizes: [600 * KB, 2048 * KB],
      status: 413,
      text: /too large/
    },
    { area: 'proxy', path: '/v1/apis/http/stripe/v1/charges', headers: key, sizes: [2048 * KB], status: 413, text: /too large/ },
    // refused before the body is read
    { area: 'Terminal, no key', path: '/cancel_payment_intent', headers: {}, sizes: [600 * KB], status: 401, text: /API key/ },
    {
      area: 'proxy, method not allowed',
      path: '/v1/apis/http/stripe/v1/charges',
      headers: key,
      sizes: [600 * KB],
      status: 403,
      text: /not allowed/
    }
  ]
  for (const c of cases) {
    for (const size of c.sizes) {
      for (const chunked of [false, true]) {
        const outcomes: Outcome[] = []
        // five at a time, fifty in all
        for (let round = 0; round < 10; round++) {
          const five = Array.from({ length: 5 }, async () => await send(port, c.path, size, chunked, c.headers))
          outcomes.push(...await Promise.all(five))
        }
        const what = `${c.area} ${c.path}, ${size / KB} KB ${chunked ? 'chunked' : 'declared'}`
        const resets = outcomes.filter(o => o.error !== undefined)
        t.same(resets.map(o => o.error), [], `${what}: 0 resets in 50`)
        t.same([...new Set(outcomes.map(o => o.status))], [c.status], `${what}: every answer a ${c.status}`)
        t.ok(outcomes.every(o => c.text.test(o.body)), `${what}: with its text`)
      }
    }
  }
})
