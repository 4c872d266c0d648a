import http from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { build } from '../support/helper.js'

interface OtlpSpan {
  traceId: string
  spanId: string
  parentSpanId?: string
  name: string
  kind: number
  attributes: Array<{ key: string; value: Record<string, unknown> }>
}
const attribute = (span: OtlpSpan, key: string): unknown => {
  const v = span.attributes.find(a => a.key === key)?.value
  return v === undefined ? undefined : Object.values(v)[0]
}

/** A local OTLP/HTTP (JSON) collector: every span exported to it. */
async function collector (t: Test) {
  const spans: OtlpSpan[] = []
  const resources: unknown[] = []
  const paths: string[] = []
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', c => chunks.push(c as Buffer))
    req.on('end', () => {
      paths.push(`${req.method} ${req.url} ${req.headers['content-type']}`)
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
      for (const rs of body.resourceSpans ?? []) {
        resources.push(rs.resource)
        for (const ss of rs.scopeSpans ?? []) spans.push(...ss.spans)
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => new Promise<void>(resolve => server.close(() => resolve())))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans, resources, paths }
}

t.test('OTLP export: a span per request (under the caller’s traceparent) and per Stripe call, ids in the log lines', async t => {
  const otlp = await collector(t)
  const { app, fake, logs } = await build(t, { env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_SERVICE_NAME: 'till-backend-test' } })
  fake.on('POST', '/v1/terminal/connection_tokens', {
    body: { object: 'terminal.connection_token', secret: 'pst_test_t' },
    headers: { 'request-id': 'req_traced1' }
  })
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
  const callerSpan = '00f067aa0ba902b7'
  const res = await app.inject({
    method: 'POST',
    url: '/connection_token?api_key=sk_test_leakme1234',
    headers: { traceparent: `00-${traceId}-${callerSpan}-01`, 'x-request-id': 'traced-1' }
  })
  t.equal(res.statusCode, 200)
  await app.close() // flushes the batch

  t.match(otlp.paths[0], /^POST \/v1\/traces application\/json/, 'OTLP/HTTP to the standard path')
  t.match(JSON.stringify(otlp.resources), /"service.name","value":\{"stringValue":"till-backend-test"\}/)
  const request = otlp.spans.find(s => s.name === 'request')
  t.ok(request, 'the request span')
  t.equal(request!.traceId, traceId, 'in the caller’s trace')
  t.equal(request!.parentSpanId, callerSpan, 'under the caller’s span')
  t.equal(attribute(request!, 'http.route'), '/connection_token')
  t.equal(attribute(request!, 'url.path'), '/connection_token', 'the path only: no query, no key')
  t.equal(Number(attribute(request!, 'http.response.status_code')), 200)
  t.notOk(JSON.stringify(otlp.spans).includes('leakme'), 'no key in any span')

  const stripe = otlp.spans.find(s => s.name === 'stripe terminal.connection_tokens.create')
  t.ok(stripe, 'the Stripe call span')
  t.equal(stripe!.traceId, traceId)
  t.equal(stripe!.kind, 3, 'a client span')
  t.equal(attribute(stripe!, 'stripe.request_id'), 'req_traced1')
  t.equal(Number(attribute(stripe!, 'http.response.status_code')), 200)
  // its parent is the request span, or the handler span under it
  const byId = new Map(otlp.spans.map(s => [s.spanId, s]))
  const chain: string[] = []
  for (let s: OtlpSpan | undefined = stripe; s !== undefined; s = s.parentSpanId === undefined ? undefined : byId.get(s.parentSpanId)) {
    chain.push(s.name)
  }
  t.equal(chain.at(-1), 'request', `the Stripe span descends from the request span (${chain.join(' → ')})`)
  t.ok(chain.length <= 3)

  const lines = logs.filter(l => l.reqId === 'traced-1')
  t.ok(lines.length > 0)
  for (const l of lines) t.match(l, { trace_id: traceId, span_id: request!.spanId }, `"${l.msg}" carries the trace and span ids`)
})

t.test('without OTEL_EXPORTER_OTLP_ENDPOINT nothing is traced nor exported', async t => {
  const otlp = await collector(t)
  const { app, logs } = await build(t)
  t.equal(app.tracer, undefined)
  const res = await app.inject({
    method: 'POST',
    url: '/connection_token',
    headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' }
  })
  t.equal(res.statusCode, 200)
  await app.close()
  t.same(otlp.spans, [])
  t.notOk(logs.some(l => l.trace_id !== undefined))
})
