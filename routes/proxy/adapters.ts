import { readFileSync } from 'node:fs'
import fp from 'fastify-plugin'
import { parseProxyYaml, ProxyConfigError, stripeKeyAdapter, type Adapter } from './config.js'
import { errorFields } from '../../lib/values.js'

declare module 'fastify' {
  interface FastifyInstance {
    proxyAdapters: Map<string, Adapter>
  }
}

export interface ProxyAdaptersOptions {
  /** raw variables for `${{ VAR }}` (the same ones the config came from) */
  env?: Record<string, string | undefined>
}

/** Proxy adapters from PROXY_CONFIG (Atlas YAML) and STRIPE_PROXY_KEY; a bad config stops the boot. */
export default fp<ProxyAdaptersOptions>(async function proxyAdapters (fastify, opts) {
  const { config } = fastify
  const adapters = new Map<string, Adapter>()
  if (config.STRIPE_PROXY_KEY !== undefined) {
    adapters.set('stripe', stripeKeyAdapter(config.STRIPE_PROXY_KEY, config.STRIPE_API_BASE, config.STRIPE_TIMEOUT_MS))
  }
  if (config.PROXY_CONFIG !== undefined) {
    let text: string
    try {
      text = readFileSync(config.PROXY_CONFIG, 'utf8')
    } catch (err) {
      throw new ProxyConfigError(`cannot read PROXY_CONFIG (${errorFields(err).code ?? 'error'})`)
    }
    // a YAML adapter named `stripe` wins over STRIPE_PROXY_KEY
    for (const a of parseProxyYaml(text, opts.env ?? process.env, config.STRIPE_TIMEOUT_MS)) adapters.set(a.name, a)
  }
  // the credentials a YAML adapter takes from the environment are secrets like any configured one
  fastify.addSecrets([...adapters.values()].flatMap(a => Object.values(a.headers)).flatMap(v => [v, v.replace(/^(Bearer|Basic)\s+/i, '')]))
  if (adapters.size > 0) fastify.log.info({ adapters: [...adapters.keys()] }, 'proxy adapters loaded')
  fastify.decorate('proxyAdapters', adapters)
}, { name: 'proxy-adapters', dependencies: ['config'], fastify: '5.x' })
