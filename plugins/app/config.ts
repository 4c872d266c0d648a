import fp from 'fastify-plugin'
import fastifyEnv from '@fastify/env'
import { EnvSchema, type Env } from '../../schemas/env.js'
import { checklist, configuredSecrets, deriveConfig, readEnv, setVariables, type Config } from '../../lib/config.js'
import { secretMasker } from '../../lib/redact.js'

declare module 'fastify' {
  interface FastifyInstance {
    env: Env
    config: Config
    /** replaces every configured secret in a text with [REDACTED] (for anything echoed to a caller) */
    maskSecrets: (text: string) => string
  }
}

export interface ConfigOptions {
  /** Raw variables. Default: the process environment with `.env` beneath it (never overriding). */
  env?: Record<string, string | undefined>
}

/** Refuses a production boot that fails the checklist; every failing item is in the message. */
export class ChecklistError extends Error {
  constructor (readonly failures: string[]) {
    super(`Production checklist failed:\n${failures.map(f => `  - ${f}`).join('\n')}`)
    this.name = 'ChecklistError'
  }
}

export default fp<ConfigOptions>(async function config (fastify, opts) {
  await fastify.register(fastifyEnv, {
    confKey: 'env',
    schema: structuredClone(EnvSchema),
    data: setVariables(opts.env ?? readEnv()),
    env: false,
    dotenv: false
  })
  const cfg = deriveConfig(fastify.env)
  const { failures, warnings } = checklist(cfg)
  if (failures.length > 0) throw new ChecklistError(failures)
  for (const w of warnings) fastify.log.warn(w)
  fastify.decorate('config', cfg)
  fastify.decorate('maskSecrets', secretMasker(configuredSecrets(cfg)))
}, { name: 'config', fastify: '5.x' })
