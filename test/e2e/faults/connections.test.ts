// Slow and surplus clients over real sockets: headers trickled a byte at a time are cut off after
// headersTimeout (they held a socket 90 s), and past MAX_CONNECTIONS a new connection is answered
// 503 and logged instead of the process running out of descriptors and resetting everyone.
import net from 'node:net'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { build } from '../../support/helper.js'

const connect = async (port: number): Promise<net.Socket> => {
  const s = net.connect(port, '127.0.0.1')
  await once(s, 'connect')
  return s
}

t.test('headers trickled a byte at a time: the socket is answered 408 and closed after about 10 s', async t => {
  const { app } = await build(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  const slow = await connect(port)
  let answer = ''
  slow.on('data', d => {
    answer += String(d)
  })
  // The server answers 408 and destroys the socket; a byte trickled after that meets a reset.
  // Seeing the close that way is fine (the 408 is asserted below); an unhandled error is not.
  slow.on('error', () => {})
  const started = Date.now()
  const text = 'POST /connection_token HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(100)
  let i = 0
  // stops once the answer starts, so no byte races the close
  const timer = setInterval(() => {
    if (!slow.destroyed && answer === '' && i < text.length) slow.write(text[i++]!)
  }, 200)
  t.teardown(() => { clearInterval(timer) })
  // not events.once: it would reject on that reset's error
  await new Promise(resolve => slow.once('close', resolve))
  clearInterval(timer)
  const held = (Date.now() - started) / 1000
  t.ok(held < 15, `closed after ${held.toFixed(1)} s (headersTimeout 10 s, checked every second)`)
  t.match(answer, /^HTTP\/1\.1 408/, 'answered 408 Request Timeout')
  const ok = await fetch(`http://127.0.0.1:${port}/health`)
  t.equal(ok.status, 200, 'everyone else is served meanwhile')
})

t.test('past MAX_CONNECTIONS a new connection is answered 503 and logged; below it, served again', async t => {
  const { app, logs } = await build(t, { env: { MAX_CONNECTIONS: '5' } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  const held = await Promise.all(Array.from({ length: 5 }, async () => await connect(port)))
  const surplus = await connect(port)
  let answer = ''
  surplus.on('data', d => {
    answer += String(d)
  })
  surplus.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n')
  await once(surplus, 'close')
  t.match(answer, /^HTTP\/1\.1 503 Service Unavailable\r\n/, 'a 503, not a reset')
  t.match(answer, /"code":"connection_limit"/)
  t.match(answer, /Retry-After: 1/)
  t.ok(
    logs.some(l => l.msg === 'connection limit reached: new connections are answered 503' && l.max_connections === 5 && l.level === 40),
    'logged at warn'
  )
  for (const s of held) s.destroy()
  await new Promise(resolve => setTimeout(resolve, 100))
  t.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200, 'served again once sockets close')
})

t.test('one address holds at most MAX_CONNECTIONS_PER_CLIENT sockets: its next is answered 503, others are served', async t => {
  const { app, logs } = await build(t, { env: { MAX_CONNECTIONS: '50', MAX_CONNECTIONS_PER_CLIENT: '3' } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  const from = async (localAddress: string): Promise<net.Socket> => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress })
    await once(s, 'connect')
    return s
  }
  const ask = async (s: net.Socket): Promise<string> => {
    let answer = ''
    s.on('data', d => { answer += String(d) })
    s.write('GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    await once(s, 'close')
    return answer
  }
  const held = await Promise.all(Array.from({ length: 3 }, async () => await from('127.0.0.1')))
  const fourth = await ask(await from('127.0.0.1'))
  t.match(fourth, /^HTTP\/1\.1 503 Service Unavailable\r\n/, 'the fourth socket of one address: 503, not a reset')
  t.match(fourth, /too many connections/)
  const warned = logs.some(l => l.msg === 'per-client connection limit reached: new connections are answered 503' && l.level === 40)
  t.ok(warned, 'logged at warn')
  t.match(await ask(await from('127.0.0.2')), /^HTTP\/1\.1 200 /, 'another address is served meanwhile')
  held[0]!.destroy()
  await once(held[0]!, 'close')
  // the server sees the close a moment later: ask until it has (a bounded poll, not a timed wait)
  let again = ''
  for (let i = 0; i < 50 && !again.startsWith('HTTP/1.1 200'); i++) again = await ask(await from('127.0.0.1'))
  t.match(again, /^HTTP\/1\.1 200 /, 'served again once one of its sockets closes')
  for (const s of held) s.destroy()
})

t.test('behind TRUST_PROXY every socket is the proxy\'s: no per-client cap', async t => {
  const { app } = await build(t, { env: { MAX_CONNECTIONS_PER_CLIENT: '2', TRUST_PROXY: '127.0.0.1' } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  const held = await Promise.all(Array.from({ length: 4 }, async () => await connect(port)))
  t.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200)
  for (const s of held) s.destroy()
})
