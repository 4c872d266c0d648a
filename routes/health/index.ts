import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { VERSION } from '../../lib/version.js'
import { OneOf } from '../../schemas/common.js'

const DOCS_LINK = ' · <a href="/docs">API docs</a>'
const LANDING = (version: string, docs: boolean): string => `<!DOCTYPE html>
<html>
<head>
    <title>Stripe Terminal Example Backend</title>
    <meta charset="utf-8">
</head>
<body>
<p>
Great! You've successfully deployed the Stripe Terminal example backend.
</p>

<p>
Next, copy the URL of this page (this is your "backend URL"), and use it to
<a href="https://stripe.com/docs/terminal/example-applications#run-example-application">run the example application</a>.
</p>
<p>stripe-terminal-backend ${version} · <a href="/health">health</a> · <a href="/ready">ready</a>${docs ? DOCS_LINK : ''}</p>
</body>
</html>
`

const Ready = Type.Object({
  status: OneOf(['ready', 'unavailable']),
  checks: Type.Record(Type.String(), OneOf(['ok', 'down', 'degraded'])),
  message: Type.Optional(Type.String())
})

async function withTimeout (p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      p.then(() => true, () => false),
      new Promise<boolean>(resolve => { timer = setTimeout(() => resolve(false), ms) })
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** Ops: landing page, liveness and readiness. No CORS, no auth, not rate limited. */
const health: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/', {
    schema: { tags: ['ops'], summary: 'Landing page (the original backend\'s index.html)', response: { 200: Type.String() } }
  }, async (_request, reply) => {
    return await reply.type('text/html; charset=utf-8').send(LANDING(VERSION, fastify.config.docsEnabled))
  })

  fastify.get('/health', {
    logLevel: 'warn',
    schema: {
      tags: ['ops'],
      summary: 'Liveness: 200 while the process runs',
      response: { 200: Type.Object({ status: Type.Literal('ok') }) }
    }
  }, async () => ({ status: 'ok' as const }))

  fastify.get('/ready', {
    logLevel: 'warn',
    schema: {
      tags: ['ops'],
      summary: 'Readiness: the database answers (Redis, when set, unreachable is only degraded)',
      response: { 200: Ready, 503: Ready }
    }
  }, async (_request, reply) => {
    const checks: Record<string, 'ok' | 'down' | 'degraded'> = {}
    checks.database = await withTimeout(fastify.store.ping().then(ok => { if (!ok) throw new Error('down') }), 2000) ? 'ok' : 'down'
    // Without Redis every replica still serves (rate limits per process): degraded, still ready,
    // so a load balancer does not pull every replica at once.
    if (fastify.redis !== null) checks.redis = await withTimeout(fastify.redis.client.ping(), 1000) ? 'ok' : 'degraded'
    const down = Object.keys(checks).filter(k => checks[k] === 'down')
    if (down.length === 0) {
      const degraded = Object.keys(checks).filter(k => checks[k] === 'degraded')
      const message = degraded.length === 0 ? {} : { message: `degraded: ${degraded.join(', ')} unreachable` }
      return { status: 'ready' as const, checks, ...message }
    }
    return await reply.code(503).send({ status: 'unavailable' as const, checks, message: `unavailable: ${down.join(', ')} down` })
  })
}

export default health
