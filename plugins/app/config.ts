import fp from 'fastify-plugin'
import { checklist, configuredSecrets, type Config } from '../../lib/config.js'
import { maskSecrets, secretMasker } from '../../lib/redact.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    /**
     * Masks a text a caller will read or a log keeps: every configured secret (also cut short,
     * see lib/redact.ts) becomes [REDACTED], then anything key-shaped is masked as Stripe does.
     */
    maskSecrets: (text: string) => string
    /** secrets known only to a plugin (a proxy adapter's credentials), masked from then on too */
    addSecrets: (secrets: readonly string[]) => void
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
  const secrets = configuredSecrets(cfg)
  let masker = secretMasker(secrets)
  fastify.decorate('maskSecrets', (text: string) => maskSecrets(masker(text)))
  fastify.decorate('addSecrets', (more: readonly string[]) => {
    secrets.push(...more)
    masker = secretMasker(secrets)
  })
}, { name: 'config', fastify: '5.x' })
