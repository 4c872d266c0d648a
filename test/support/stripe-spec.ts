/**
 * Checks a call against Stripe's official OpenAPI spec (../shared/stripe-openapi, trimmed): the
 * method and path must be an operation, every top-level parameter one the operation names, and
 * every parameter it requires present, for the API version the call was made with.
 * Users' clones do not have the file: then nothing is checked, and test/project/stripe-spec.test.ts says so.
 */
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

export const SPEC_PATH = fileURLToPath(new URL('../../../shared/stripe-openapi/spec3.trimmed.json', import.meta.url))
export const specAvailable = existsSync(SPEC_PATH)

/** The spec's own API version: calls pinned to it or older are checked against it as it is. */
export const SPEC_VERSION = '2023-08-16'

/**
 * Changes to the called operations after the spec's version, from Stripe's changelog: from
 * `since` on, `removed` are no longer accepted and `added` are (and `required` must be sent).
 */
const LATER_CHANGES: Array<{ op: string; since: string; removed: string[]; added: string[]; required: string[] }> = [
  // docs.stripe.com/changelog/acacia/2024-09-30/terminal-remove-customer-consent-require-allow-redisplay
  {
    op: 'POST /v1/terminal/readers/{reader}/process_setup_intent',
    since: '2024-09-30',
    removed: ['customer_consent_collected'],
    added: ['allow_redisplay'],
    required: ['allow_redisplay']
  }
]

interface Operation {
  template: string
  re: RegExp
  params: Set<string>
  required: Set<string>
}

/**
 * Operations the service calls that the trimmed spec leaves out, as Stripe's API reference
 * documents them (the ownership reads of routes/terminal/ownership.ts).
 */
const OUTSIDE_THE_TRIM: Array<{ method: string; template: string; params: string[] }> = [
  { method: 'GET', template: '/v1/charges/{charge}', params: ['expand'] },
  { method: 'GET', template: '/v1/setup_intents/{intent}', params: ['client_secret', 'expand'] },
  { method: 'GET', template: '/v1/payment_methods/{payment_method}', params: ['expand'] },
  // the snapshot event of a thin event (routes/webhooks)
  { method: 'GET', template: '/v1/events/{id}', params: ['expand'] }
]

/**
 * Operations newer than the trimmed spec, whose parameters are read from the pinned `stripe`
 * package's own declarations (node_modules/stripe/esm/resources/<file>.d.ts, `interface <params>`):
 * every property is a parameter, the ones without `?` are required, and `extends
 * PaginationParams` adds Stripe's cursor parameters.
 */
const CONFIGURATIONS = 'Terminal/Configurations'
const FROM_STRIPE_TYPES: Array<{ method: string, template: string, file: string, params: string }> = [
  { method: 'DELETE', template: '/v1/terminal/locations/{location}', file: 'Terminal/Locations', params: 'LocationDeleteParams' },
  { method: 'DELETE', template: '/v1/terminal/readers/{reader}', file: 'Terminal/Readers', params: 'ReaderDeleteParams' },
  {
    method: 'POST', template: '/v1/terminal/readers/{reader}/collect_inputs', file: 'Terminal/Readers', params: 'ReaderCollectInputsParams'
  },
  {
    method: 'POST',
    template: '/v1/terminal/readers/{reader}/collect_payment_method',
    file: 'Terminal/Readers',
    params: 'ReaderCollectPaymentMethodParams'
  },
  {
    method: 'POST',
    template: '/v1/terminal/readers/{reader}/confirm_payment_intent',
    file: 'Terminal/Readers',
    params: 'ReaderConfirmPaymentIntentParams'
  },
  { method: 'GET', template: '/v1/terminal/configurations', file: CONFIGURATIONS, params: 'ConfigurationListParams' },
  { method: 'POST', template: '/v1/terminal/configurations', file: CONFIGURATIONS, params: 'ConfigurationCreateParams' },
  { method: 'GET', template: '/v1/terminal/configurations/{configuration}', file: CONFIGURATIONS, params: 'ConfigurationRetrieveParams' },
  { method: 'POST', template: '/v1/terminal/configurations/{configuration}', file: CONFIGURATIONS, params: 'ConfigurationUpdateParams' },
  { method: 'DELETE', template: '/v1/terminal/configurations/{configuration}', file: CONFIGURATIONS, params: 'ConfigurationDeleteParams' }
]

const STRIPE_TYPES = fileURLToPath(new URL('../../node_modules/stripe/esm/resources/', import.meta.url))

/** The parameters an interface of stripe's declarations names, and which of them are required. */
export function typeParams (file: string, name: string): { params: string[], required: string[] } {
  const source = ts.createSourceFile(file, readFileSync(`${STRIPE_TYPES}${file}.d.ts`, 'utf8'), ts.ScriptTarget.Latest)
  let found: ts.InterfaceDeclaration | undefined
  const visit = (node: ts.Node): void => {
    if (found === undefined && ts.isInterfaceDeclaration(node) && node.name.text === name) found = node
    else ts.forEachChild(node, visit)
  }
  visit(source)
  if (found === undefined) throw new Error(`stripe's ${file}.d.ts declares no ${name}`)
  const props = found.members.filter(ts.isPropertySignature)
  const paged = (found.heritageClauses ?? []).some(h => h.types.some(t => t.expression.getText(source) === 'PaginationParams'))
  return {
    params: [...props.map(p => p.name.getText(source)), ...(paged ? ['limit', 'starting_after', 'ending_before'] : [])],
    required: props.filter(p => p.questionToken === undefined).map(p => p.name.getText(source))
  }
}

function load (): Map<string, Operation[]> {
  const ops = new Map<string, Operation[]>()
  if (!specAvailable) return ops
  const spec = JSON.parse(readFileSync(SPEC_PATH, 'utf8')) as { paths: Record<string, Record<string, any>> }
  for (const [template, item] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const m = method.toUpperCase()
      if (m !== 'GET' && m !== 'POST' && m !== 'DELETE') continue
      const body = op.requestBody?.content?.['application/x-www-form-urlencoded']?.schema
      const query = ((op.parameters ?? []) as Array<{ in: string; name: string; required?: boolean }>).filter(p => p.in === 'query')
      const params = new Set<string>([...Object.keys(body?.properties ?? {}), ...query.map(p => p.name)])
      const required = new Set<string>([
        ...((body?.required ?? []) as string[]),
        ...query.filter(p => p.required === true).map(p => p.name)
      ])
      const re = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`)
      ops.set(m, [...(ops.get(m) ?? []), { template, re, params, required }])
    }
  }
  for (const { method, template, params } of OUTSIDE_THE_TRIM) {
    if ((ops.get(method) ?? []).some(o => o.template === template)) continue
    const re = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`)
    ops.set(method, [...(ops.get(method) ?? []), { template, re, params: new Set(params), required: new Set<string>() }])
  }
  for (const { method, template, file, params: name } of FROM_STRIPE_TYPES) {
    const { params, required } = typeParams(file, name)
    const re = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`)
    ops.set(method, [...(ops.get(method) ?? []), { template, re, params: new Set(params), required: new Set(required) }])
  }
  return ops
}

const operations = load()

/** The operation as it stands at `version` (YYYY-MM-DD…), after the later changes that apply. */
function atVersion (method: string, op: Operation, version: string): Operation {
  const date = version.slice(0, 10)
  const params = new Set(op.params)
  const required = new Set(op.required)
  for (const c of LATER_CHANGES) {
    if (c.op !== `${method} ${op.template}` || date < c.since) continue
    for (const p of c.removed) {
      params.delete(p)
      required.delete(p)
    }
    for (const p of c.added) params.add(p)
    for (const p of c.required) required.add(p)
  }
  return { ...op, params, required }
}

export function specProblems (method: string, path: string, params: Record<string, unknown>, version = SPEC_VERSION): string[] {
  if (!specAvailable) return []
  // the most specific template first: a literal segment beats a {param}
  const candidates = (operations.get(method) ?? [])
    .filter(o => o.re.test(path))
    .sort((a, b) => (a.template.match(/\{/g) ?? []).length - (b.template.match(/\{/g) ?? []).length)
  const found = candidates[0]
  if (found === undefined) return [`${method} ${path}: no such operation in Stripe's API`]
  const op = atVersion(method, found, version)
  return [
    ...Object.keys(params)
      .filter(k => !op.params.has(k))
      .map(k => `${method} ${op.template} (${version}): unknown parameter '${k}'`),
    ...[...op.required]
      .filter(k => params[k] === undefined)
      .map(k => `${method} ${op.template} (${version}): missing required parameter '${k}'`)
  ]
}
