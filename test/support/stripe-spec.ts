/**
 * Checks a call against Stripe's official OpenAPI spec (../shared/stripe-openapi, trimmed): the
 * method and path must be an operation, and every top-level parameter one the operation names.
 * Users' clones do not have the file: then nothing is checked, and test/stripe-spec.test.ts says so.
 */
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const SPEC_PATH = fileURLToPath(new URL('../../../shared/stripe-openapi/spec3.trimmed.json', import.meta.url))
export const specAvailable = existsSync(SPEC_PATH)

/** Parameters Stripe added after the spec's API version (2023-08-16) that the service sends. */
const NEWER_PARAMS: Record<string, string[]> = {
  'POST /v1/terminal/readers/{reader}/process_setup_intent': ['allow_redisplay']
}

interface Operation { template: string, re: RegExp, params: Set<string> }

function load (): Map<string, Operation[]> {
  const ops = new Map<string, Operation[]>()
  if (!specAvailable) return ops
  const spec = JSON.parse(readFileSync(SPEC_PATH, 'utf8')) as { paths: Record<string, Record<string, any>> }
  for (const [template, item] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const m = method.toUpperCase()
      if (m !== 'GET' && m !== 'POST' && m !== 'DELETE') continue
      const params = new Set<string>([
        ...Object.keys(op.requestBody?.content?.['application/x-www-form-urlencoded']?.schema?.properties ?? {}),
        ...((op.parameters ?? []) as Array<{ in: string, name: string }>).filter(p => p.in === 'query').map(p => p.name),
        ...(NEWER_PARAMS[`${m} ${template}`] ?? [])
      ])
      const re = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`)
      ops.set(m, [...(ops.get(m) ?? []), { template, re, params }])
    }
  }
  return ops
}

const operations = load()

export function specProblems (method: string, path: string, params: Record<string, unknown>): string[] {
  if (!specAvailable) return []
  // the most specific template first: a literal segment beats a {param}
  const candidates = (operations.get(method) ?? []).filter(o => o.re.test(path))
    .sort((a, b) => (a.template.match(/\{/g) ?? []).length - (b.template.match(/\{/g) ?? []).length)
  const op = candidates[0]
  if (op === undefined) return [`${method} ${path}: no such operation in Stripe's API`]
  return Object.keys(params).filter(k => !op.params.has(k)).map(k => `${method} ${op.template}: unknown parameter '${k}'`)
}
