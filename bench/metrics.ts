/**
 * What recording the metrics of one `/connection_token` request costs in CPU: the access line's
 * request metrics plus one Stripe attempt, called a million times in one process (the per-request
 * A/B of `BENCH_COMPARE=metrics` cannot resolve a few µs: two identical servers differ by ±25 µs).
 * `npm run bench:metrics`.
 */
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import metrics from '../plugins/app/metrics.js'
import type { StripeAttempt } from '../lib/stripe/observed-client.js'

const app = Fastify()
await app.register(metrics)
await app.ready()
const request = { routeOptions: { url: '/connection_token' }, method: 'POST' } as unknown as FastifyRequest
const reply = { statusCode: 200, elapsedTime: 1.5 } as unknown as FastifyReply
const attempt: StripeAttempt = {
  operation: 'terminal.connection_tokens.create', outcome: 'ok', errorType: '', seconds: 0.002, retry: false
}
const N = 1_000_000
const cpu = (fn: () => void): number => {
  const start = process.cpuUsage()
  for (let i = 0; i < N; i++) fn()
  const d = process.cpuUsage(start)
  return (d.user + d.system) / N
}
const rounds = []
for (let r = 0; r < 5; r++) rounds.push(cpu(() => app.metrics.request(request, reply)) + cpu(() => app.metrics.stripeAttempt(attempt)))
const sorted = rounds.sort((a, b) => a - b)
console.log(`metrics recorded per /connection_token request: ${sorted[2]!.toFixed(2)} µs CPU ` +
  `(median of 5 rounds of ${N}; range ${sorted[0]!.toFixed(2)}–${sorted[4]!.toFixed(2)}), node ${process.version}`)
await app.close()
