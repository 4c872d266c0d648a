import { parseAllDocuments } from 'yaml'
import { field, stringField } from '../../lib/values.js'

/** One upstream API the proxy may call, as an Atlas `kind: HTTP` document plus our safety fields. */
export interface Adapter {
  name: string
  baseUrl: URL
  /** headers set on every upstream request (credentials): never logged */
  headers: Record<string, string>
  allow: AllowRule[]
  allowStripeAccount: boolean
  timeoutMs: number
}

export interface AllowRule { method: string, template: string, re: RegExp }

export class ProxyConfigError extends Error {
  constructor (message: string) {
    super(`Proxy configuration: ${message}`)
    this.name = 'ProxyConfigError'
  }
}

/** The read-only allowlist of the STRIPE_PROXY_KEY adapter: common GETs, each with and without an id. */
export const STRIPE_READ_ONLY = [
  ...['charges', 'customers', 'payment_intents', 'refunds', 'balance_transactions', 'events', 'terminal/readers', 'terminal/locations']
    .flatMap(r => [`GET /v1/${r}`, `GET /v1/${r}/{id}`]),
  'GET /v1/balance'
]

const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/i

export function compileRule (rule: string, where: string): AllowRule {
  const [, method, template] = /^(GET|POST|PUT|PATCH|DELETE|HEAD)\s+(\/\S*)$/.exec(rule.trim()) ?? []
  if (method === undefined || template === undefined) throw new ProxyConfigError(`${where}: "${rule}" is not "METHOD /path/{param}"`)
  const segments = template.split('/').slice(1).map(s => {
    if (/^\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(s)) return '[^/]+'
    if (!/^[A-Za-z0-9_.~-]+$/.test(s) || s === '.' || s === '..') {
      throw new ProxyConfigError(`${where}: "${rule}" has an invalid path segment "${s}"`)
    }
    return s.replace(/\./g, '\\.')
  })
  return { method, template, re: new RegExp(`^/${segments.join('/')}$`) }
}

/** Replaces `${{ VAR }}` with the variable's value; an unknown variable is a configuration error. */
function substitute (value: string, env: Record<string, string | undefined>, where: string): string {
  return value.replace(/\$\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (_m, name: string) => {
    const v = env[name]
    if (v === undefined || v === '') throw new ProxyConfigError(`${where}: \${{ ${name} }} is not set in the environment`)
    return v
  })
}

function checkCredentials (name: string, headers: Record<string, string>, allowSecretKey: boolean): void {
  if (!allowSecretKey && Object.values(headers).some(v => v.includes('sk_live_'))) {
    throw new ProxyConfigError(`adapter "${name}": a live secret key (sk_live_) can do anything on the account; ` +
      'use a restricted key (rk_live_), or set spec.allowSecretKey: true')
  }
}

export function parseProxyYaml (text: string, env: Record<string, string | undefined>, defaultTimeoutMs: number): Adapter[] {
  const docs = parseAllDocuments(text)
  const adapters: Adapter[] = []
  for (const [i, doc] of (Array.isArray(docs) ? docs : [docs]).entries()) {
    const [error] = doc.errors
    if (error !== undefined) throw new ProxyConfigError(`document ${i + 1}: invalid YAML: ${error.message.split('\n', 1)[0] ?? ''}`)
    const d: unknown = doc.toJS()
    if (field(d, 'kind') !== 'HTTP') continue // the `kind: Atlas` document and others are Atlas's own
    const name = field(field(d, 'metadata'), 'name')
    const where = `adapter "${String(name)}"`
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw new ProxyConfigError(`document ${i + 1}: metadata.name must be a name of letters, digits, - and _`)
    }
    if (adapters.some(a => a.name === name)) throw new ProxyConfigError(`${where} is defined twice`)
    const spec = field(d, 'spec')
    let baseUrl: URL
    try {
      baseUrl = new URL(substitute(String(field(spec, 'baseUrl') ?? ''), env, where))
      if (baseUrl.protocol !== 'https:' && baseUrl.protocol !== 'http:') throw new Error('scheme')
    } catch (err) {
      if (err instanceof ProxyConfigError) throw err
      throw new ProxyConfigError(`${where}: spec.baseUrl must be an http(s) URL`)
    }
    const headers: Record<string, string> = {}
    const listed = field(spec, 'headers') ?? []
    for (const h of Array.isArray(listed) ? listed : [undefined]) {
      const [header, value] = [stringField(h, 'name'), stringField(h, 'value')]
      if (header === undefined || value === undefined) {
        throw new ProxyConfigError(`${where}: each of spec.headers needs a name and a value`)
      }
      headers[header.toLowerCase()] = substitute(value, env, where)
    }
    const allow = field(spec, 'allow')
    if (!Array.isArray(allow) || allow.length === 0) {
      throw new ProxyConfigError(`${where}: spec.allow must list the "METHOD /path/{param}" templates it may call`)
    }
    const timeoutMs = field(spec, 'timeoutMs') ?? defaultTimeoutMs
    if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs <= 0) {
      throw new ProxyConfigError(`${where}: spec.timeoutMs must be a positive whole number`)
    }
    checkCredentials(name, headers, field(spec, 'allowSecretKey') === true)
    adapters.push({
      name,
      baseUrl,
      headers,
      allow: allow.map(r => compileRule(String(r), where)),
      allowStripeAccount: field(spec, 'allowStripeAccount') === true,
      timeoutMs
    })
  }
  return adapters
}

export function stripeKeyAdapter (key: string, apiBase: string, timeoutMs: number): Adapter {
  const headers = { authorization: `Bearer ${key}` }
  if (key.startsWith('sk_live_')) {
    throw new ProxyConfigError('STRIPE_PROXY_KEY is a live secret key (sk_live_): use a restricted key (rk_live_), ' +
      'or a PROXY_CONFIG adapter with spec.allowSecretKey: true')
  }
  return {
    name: 'stripe',
    baseUrl: new URL(apiBase),
    headers,
    allow: STRIPE_READ_ONLY.map(r => compileRule(r, 'STRIPE_PROXY_KEY')),
    allowStripeAccount: false,
    timeoutMs
  }
}

/**
 * The upstream path after `/v1/apis/http/{adapter}`, from the raw (undecoded) URL, or undefined
 * when it tries to leave its adapter: `.`/`..` segments, empty segments, encoded dots, slashes or
 * backslashes.
 */
export function safeUpstreamPath (rawPath: string): string | undefined {
  if (!rawPath.startsWith('/') || /%2e|%2f|%5c|\\/i.test(rawPath)) return undefined
  const segments = rawPath.split('/').slice(1)
  if (segments.some(s => s === '' || s === '.' || s === '..')) return undefined
  return rawPath
}

export const allowed = (adapter: Adapter, method: string, path: string): AllowRule | undefined =>
  adapter.allow.find(r => (r.method === method || (method === 'HEAD' && r.method === 'GET')) && r.re.test(path))
