import { spawn } from 'node:child_process'
import { once } from 'node:events'
import t, { type Test } from 'tap'
import { childEnv, freePort } from '../support/helper.js'
import { FakeStripe } from '../support/fake-stripe.js'

// server.ts writes its log through a buffer (lib/logger.ts `bufferedStdout`): these tests run it in
// a child process with stdout on a pipe, as a container runs it, and count what comes out.

interface Line { msg: string, [k: string]: unknown }

async function serve (t: Test, preload: string[] = [], extra: Record<string, string> = {}) {
  const fake = await new FakeStripe().start()
  t.teardown(() => fake.stop())
  fake.on('POST', '/v1/terminal/connection_tokens', { body: { object: 'terminal.connection_token', secret: 'pst_test_log' } })
  const port = await freePort()
  const env = childEnv({
    PORT: String(port),
    HOST: '127.0.0.1',
    STRIPE_TEST_SECRET_KEY: 'sk_test_log_flush_secret',
    STRIPE_API_BASE: fake.url,
    DATABASE_URL: 'sqlite::memory:',
    LOG_LEVEL: 'info',
    RATE_LIMIT_MAX: '100000',
    ...extra
  })
  const args = ['--import', 'tsx', ...preload.flatMap(p => ['--import', p]), 'server.ts']
  const child = spawn(process.execPath, args, { env, stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', d => { out += String(d) })
  child.stderr.on('data', d => { err += String(d) })
  const exited = once(child, 'exit')
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const started = Date.now()
  while (!out.includes('Server listening') && Date.now() - started < 15_000) await new Promise(resolve => setTimeout(resolve, 20))
  t.ok(out.includes('Server listening'), 'the listening line is written at once, not held in the buffer')
  /** every stdout line, parsed: a torn or interleaved line fails the parse */
  const lines = (): Line[] => out.split('\n').filter(l => l !== '').map(l => JSON.parse(l) as Line)
  const tokens = async (n: number) => {
    const codes: number[] = []
    for (let i = 0; i < n; i += 20) {
      const url = `http://127.0.0.1:${port}/connection_token`
      const batch = Array.from({ length: Math.min(20, n - i) }, () => fetch(url, { method: 'POST' }))
      for (const res of await Promise.all(batch)) { codes.push(res.status); await res.arrayBuffer() }
    }
    return codes
  }
  return { child, exited, lines, tokens, port, stderr: () => err }
}

const accessLines = (lines: Line[]) => lines.filter(l => l.msg === 'request' && l.route === '/connection_token')

t.test('a quiet server still writes its lines: an access line reaches stdout with nothing else to fill the buffer', async t => {
  const { lines, tokens } = await serve(t)
  t.same(await tokens(1), [200])
  // how soon is not asserted (a busy machine delays any timer); that it comes while the process
  // idles is: the 32 KiB buffer is written by its timer, not only when full or at exit
  const sent = Date.now()
  while (accessLines(lines()).length === 0 && Date.now() - sent < 30_000) await new Promise(resolve => setTimeout(resolve, 20))
  t.equal(accessLines(lines()).length, 1, 'written while the server idles, still running')
})

t.test('SIGTERM right after a burst of requests: every access line is written, whole, before the process ends', async t => {
  const { child, exited, lines, tokens } = await serve(t)
  const codes = await tokens(300)
  t.ok(codes.every(c => c === 200), '300 tokens made')
  child.kill('SIGTERM')
  t.same(await exited, [0, null], 'exit 0')
  const access = accessLines(lines())
  t.equal(access.length, 300, 'one access line per request, none lost')
  t.ok(access.every(l => l.status === 200 && Array.isArray(l.stripe_request_ids)), 'each a whole line')
  t.ok(lines().some(l => l.msg === 'closing: finishing in-flight requests'), 'the closing line too')
  t.notOk(JSON.stringify(lines()).includes('sk_test_log_flush_secret'), 'redaction kept')
})

t.test('a crash (an uncaught exception) right after a burst: every line is written, the error last, exit 1', async t => {
  const { child, exited, lines, tokens, stderr } = await serve(t, ['./test/support/crash-on-stdin.mjs'])
  t.ok((await tokens(300)).every(c => c === 200), '300 tokens made')
  child.stdin.write('crash\n')
  t.same(await exited, [1, null], 'exit 1')
  t.equal(accessLines(lines()).length, 300, 'none lost')
  const last = lines().at(-1)!
  t.equal(last.msg, 'closing after an error', 'the error is logged, and written')
  t.match(last, { level: 50, err: { message: 'crash requested by the test' } })
  t.notMatch(stderr(), /crash requested/, 'through the log, not a raw stack on stderr')
})

t.test('stdout not read (a stalled log driver): lines beyond LOG_BUFFER_BYTES are dropped and counted, tills answered', async t => {
  const { child, exited, lines, tokens, port } = await serve(t, [], { LOG_BUFFER_BYTES: '65536' })
  // the reader stops: the pipe (64 KiB) fills, then the buffer, then lines are dropped
  child.stdout.pause()
  const codes = await tokens(3000)
  t.ok(codes.every(c => c === 200), '3,000 tokens made while nothing reads the log')
  // each scrape adds an access line of its own, which may be dropped too: counted, to bound the sum
  let scrapes = 0
  const droppedNow = async (): Promise<number> => {
    scrapes++
    return Number(/^log_lines_dropped_total (\d+)$/m.exec(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text())?.[1])
  }
  t.ok(await droppedNow() > 0, 'lines were dropped, and /metrics counts them')
  // the reader comes back: what was held comes out, whole (a torn line would fail the parse)
  child.stdout.resume()
  let dropped = await droppedNow()
  for (let i = 0; i < 500 && accessLines(lines()).length + dropped < 3000; i++) {
    await new Promise(resolve => setTimeout(resolve, 20))
    dropped = await droppedNow()
  }
  const accounted = accessLines(lines()).length + dropped
  t.ok(accounted >= 3000 && accounted <= 3000 + scrapes,
    `each access line written whole or counted as dropped: ${accessLines(lines()).length} + ${dropped} (${scrapes} scrapes)`)
  child.kill('SIGTERM')
  t.same(await exited, [0, null], 'exit 0')
})
