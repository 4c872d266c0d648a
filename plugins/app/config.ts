import fp from 'fastify-plugin'
import { checklist, configuredSecrets, type Config } from '../../lib/config.js'
import { secretMasker } from '../../lib/redact.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    /** replaces every configured secret in a text with [REDACTED] (for anything echoed to a caller) */
    maskSecrets: (text: string) => string
  }
}

export interface ConfigOptions {
  /** validated once, by the caller that also built the server's options from it */
  config: Config
}

/** Refuses a production boot that fails the checklist; every failing item is in the message. */
export class ChecklistError extends Error {
  constructor (readonly failures: string[]) {
    super(`Production checklist failed:\n${failures.map(f => `  - ${f}`).join('\n')}`)
    this.name = 'ChecklistError'
  }
}

export default fp<ConfigOptions>(async function config (fastify, opts) {
  const cfg = opts.config
  const { failures, warnings } = checklist(cfg)
  if (failures.length > 0) throw new ChecklistError(failures)
  for (const w of warnings) fastify.log.warn(w)
  fastify.decorate('config', cfg)
  fastify.decorate('maskSecrets', secretMasker(configuredSecrets(cfg)))
}, { name: 'config', fastify: '5.x' })
