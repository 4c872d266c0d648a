import { readFileSync } from 'node:fs'
import { parseEnv } from 'node:util'
import { Value } from '@sinclair/typebox/value'
import Stripe from 'stripe'
import { EnvSchema, type Env } from '../schemas/env.js'
import { errorFields, isRecord } from './values.js'

/** The configuration every plugin reads: the validated variables plus what follows from them. */
export interface Config extends Env {
  production: boolean
  /** which Stripe key the service uses: `live` (STRIPE_SECRET_KEY) or `test` (STRIPE_TEST_SECRET_KEY) */
  stripeMode: 'live' | 'test'
  /** the selected key; empty string when unset */
  stripeKey: string
  /** the variable that holds it */
  stripeKeyVariable: 'STRIPE_SECRET_KEY' | 'STRIPE_TEST_SECRET_KEY'
  apiVersion: string
  apiKeys: string[]
  adminKeys: string[]
  /** `'*'` (development default) or an explicit allowlist */
  allowedOrigins: '*' | string[]
  appSecrets: string[]
  webhookSecrets: string[]
  docsEnabled: boolean
}

/** `a, b,,c` → `['a', 'b', 'c']` */
export const commaList = (value: string | undefined): string[] =>
  (value ?? '').split(',').map(s => s.trim()).filter(Boolean)

/** The service's variables that are set. An empty one (`API_KEY=` in a .env) means "not set", as in the original backend. */
export function definedVariables (raw: Record<string, string | undefined>): Record<string, string> {
  const data: Record<string, string> = {}
  for (const key of Object.keys(EnvSchema.properties)) {
    const value = raw[key]
    if (value !== undefined && value !== '') data[key] = value
  }
  return data
}

/**
 * Validates raw variables (strings) against the schema, numbers converted and defaults applied;
 * throws with every problem named. TypeBox checks the one object without compiling a validator
 * (env-schema's Ajv cost about 40 ms of every start).
 */
export function validateEnv (raw: Record<string, string | undefined>): Env {
  const env = Value.Default(EnvSchema, Value.Convert(EnvSchema, definedVariables(raw)))
  if (Value.Check(EnvSchema, env)) return env
  const problems = [...Value.Errors(EnvSchema, env)].map(e => {
    const choices = isRecord(e.schema) && Array.isArray(e.schema.anyOf) ? e.schema.anyOf.map(s => isRecord(s) ? s.const : undefined) : []
    const listed = choices.length > 0 && choices.every(c => typeof c === 'string')
    return `${e.path.slice(1)} ${listed ? `must be one of ${choices.join(', ')}` : e.message.toLowerCase()}`
  })
  throw new Error(`Invalid configuration: ${[...new Set(problems)].join('; ')}`)
}

export function deriveConfig (env: Env): Config {
  const production = env.ENVIRONMENT === 'production' || env.RACK_ENV === 'production'
  const stripeMode = env.STRIPE_ENV === undefined
    ? (production ? 'live' : 'test')
    : (env.STRIPE_ENV === 'test' ? 'test' : 'live')
  const origins = commaList(env.ALLOWED_ORIGINS)
  return {
    ...env,
    production,
    stripeMode,
    stripeKey: ((stripeMode === 'live' ? env.STRIPE_SECRET_KEY : env.STRIPE_TEST_SECRET_KEY) ?? '').trim(),
    stripeKeyVariable: stripeMode === 'live' ? 'STRIPE_SECRET_KEY' : 'STRIPE_TEST_SECRET_KEY',
    apiVersion: env.STRIPE_API_VERSION ?? Stripe.API_VERSION,
    apiKeys: commaList(env.API_KEY),
    adminKeys: commaList(env.ADMIN_API_KEY),
    allowedOrigins: origins.length === 0 ? (production ? [] : '*') : (origins.includes('*') ? '*' : origins),
    appSecrets: commaList(env.STRIPE_APP_SECRET),
    webhookSecrets: commaList(env.STRIPE_WEBHOOK_SECRET),
    docsEnabled: env.DOCS_ENABLED ?? !production
  }
}

/** Every secret value the configuration holds, for masking wherever one might be echoed or logged. */
export const configuredSecrets = (config: Config): string[] => [
  ...config.apiKeys, ...config.adminKeys, ...config.appSecrets, ...config.webhookSecrets, ...commaList(config.METRICS_TOKEN),
  ...[config.STRIPE_SECRET_KEY, config.STRIPE_TEST_SECRET_KEY, config.STRIPE_PROXY_KEY].filter((s): s is string => s !== undefined)
]

/** What an answer needs after its Stripe call ends: the drain cuts calls this long before the grace ends. */
export const ANSWER_MARGIN_MS = 2_000

/**
 * On SIGTERM, a Stripe or proxied call still in flight this long after the signal is cut, so its
 * request is answered 504 (a till retries it; Stripe calls carry idempotency keys) before the grace
 * ends and the process exits — never a reset with the call's fate unknown. With the defaults a call
 * may take 91.5 s (30 s × 3 attempts + backoff); the drain holds it 23 s at most.
 */
export const drainCutOffMs = (config: Pick<Config, 'SHUTDOWN_GRACE_MS'>): number =>
  Math.max(0, config.SHUTDOWN_GRACE_MS - ANSWER_MARGIN_MS)

export const loadConfig = (raw: Record<string, string | undefined>): Config => deriveConfig(validateEnv(raw))

function isOrigin (value: string): boolean {
  try {
    const url = new URL(value)
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === value
  } catch {
    return false
  }
}

export interface Checklist { failures: string[], warnings: string[] }

/**
 * The production checklist (CONTRACT.md section 1). Messages name variables, never values.
 * In development the same items are warnings, so a developer sees what production would refuse.
 */
export function checklist (config: Config): Checklist {
  const variables: Record<string, unknown> = { ...config }
  const failing: string[] = []
  const warnings: string[] = []
  if (config.apiKeys.length === 0) {
    failing.push('API_KEY is not set: every Terminal and proxy caller must present a key')
  } else if (config.apiKeys.some(k => k.length < 32)) {
    failing.push('API_KEY: every key must be at least 32 characters')
  }
  // optional: without it /admin answers 503
  if (config.adminKeys.some(k => k.length < 32)) failing.push('ADMIN_API_KEY: every key must be at least 32 characters')
  const keyVar = config.stripeKeyVariable
  const prefixes = config.stripeMode === 'live' ? ['sk_live_', 'rk_live_'] : ['sk_test_', 'rk_test_']
  if (config.stripeKey === '') {
    failing.push(`${keyVar} is not set (STRIPE_ENV selects ${config.stripeMode} mode)`)
  } else if (!prefixes.some(p => config.stripeKey.startsWith(p))) {
    failing.push(`${keyVar} must be a ${config.stripeMode} key (${prefixes.join(' or ')})`)
  }
  if (config.production && config.stripeMode === 'test') {
    warnings.push('STRIPE_ENV=test in production mode: a staging setup that takes no real payments')
  }
  const publishable = Object.keys(EnvSchema.properties)
    .filter(k => { const v = variables[k]; return typeof v === 'string' && /(^|,)\s*pk_/.test(v) })
  for (const name of publishable) failing.push(`${name} holds a publishable key (pk_): use a secret or restricted key`)
  const origins = commaList(config.ALLOWED_ORIGINS)
  if (origins.length === 0) {
    failing.push('ALLOWED_ORIGINS is not set: list the browser origins allowed to call the API')
  } else {
    if (origins.includes('*')) failing.push('ALLOWED_ORIGINS must not contain *')
    for (const bad of origins.filter(o => o !== '*' && !isOrigin(o))) {
      failing.push(`ALLOWED_ORIGINS: ${JSON.stringify(bad.slice(0, 80))} is not an origin (scheme://host[:port])`)
    }
  }
  // in development the same items are warnings, so a developer sees what production would refuse
  return config.production ? { failures: failing, warnings } : { failures: [], warnings: failing.map(i => `production would refuse: ${i}`) }
}

/** The process environment over an optional `.env` file: a real variable always wins. */
export function readEnv (path = '.env', env: NodeJS.ProcessEnv = process.env): Record<string, string | undefined> {
  let file: Record<string, string | undefined> = {}
  try {
    // cast: node's parseEnv returns NodeJS.Dict<string>, whose values it always sets
    file = parseEnv(readFileSync(path, 'utf8')) as Record<string, string>
  } catch (err) {
    if (errorFields(err).code !== 'ENOENT') throw err
  }
  return { ...file, ...env }
}
