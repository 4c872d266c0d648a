import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

/** One decision of an area's gate: `done()` to go on, `done(error)` to refuse, or send a reply itself and stop. */
export type GateStep = (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => void

declare module 'fastify' {
  interface FastifyInstance {
    /** the decisions of this area, run in order as one onRequest and one preHandler hook */
    gate: { onRequest: GateStep[], preHandler: GateStep[] }
  }
}

/** The steps as one hook: the first refusal (or reply sent) ends it. */
function run (steps: readonly GateStep[]): GateStep {
  return function gate (request, reply, done) {
    let i = 0
    const next = (err?: Error): void => {
      if (err != null) return done(err)
      // a step answered itself (the rate limiter's 429): nothing else runs, as with a hook that replied
      if (reply.sent) return
      const step = steps[i++]
      if (step === undefined) return done()
      step(request, reply, next)
    }
    next()
  }
}

/**
 * An area's security decisions — origin, rate limit, credential, then (after the body) the area's
 * own checks — run as one straight-line onRequest hook and one preHandler hook instead of a hook
 * each. The policies (strictOrigins, rateLimited, requireCredentials) add their step here in the
 * order the area registers them; nothing else changes what they decide.
 */
const areaGate = fp(async function areaGate (fastify) {
  const gate = { onRequest: [], preHandler: [] }
  fastify.decorate('gate', gate)
  fastify.addHook('onRequest', run(gate.onRequest))
  fastify.addHook('preHandler', run(gate.preHandler))
}, { name: 'area-gate', fastify: '5.x' })

/** The area's gate, made on the first policy that needs it. */
export async function gateOf (fastify: FastifyInstance): Promise<FastifyInstance['gate']> {
  if (!fastify.hasDecorator('gate')) await fastify.register(areaGate)
  return fastify.gate
}

/** The rate limit (plugins/external/rate-limit.ts) as a step of the area's gate. */
export const rateLimited = fp(async function rateLimited (fastify) {
  const limit = fastify.rateLimit()
  ;(await gateOf(fastify)).onRequest.push((request, reply, done) => {
    limit.call(fastify, request, reply).then(() => { done() }, done)
  })
}, { name: 'rate-limited', dependencies: ['rate-limit'], fastify: '5.x' })
