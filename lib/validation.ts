import type { FastifySchemaValidationError } from 'fastify'

/** `/address/line1` → `address[line1]`: the name the client sent. */
function paramName (instancePath: string, child?: string): string {
  const parts = instancePath.split('/').filter(Boolean)
  if (child !== undefined) parts.push(child)
  const [head, ...rest] = parts
  return head === undefined ? 'body' : head + rest.map(p => `[${p}]`).join('')
}

/**
 * The one text of a schema validation failure, in every area: one plain sentence naming the
 * parameter as the client sent it, in the original Terminal backend's form for a missing id
 * (`'payment_intent_id' is a required parameter`).
 */
export function validationMessage (errors: FastifySchemaValidationError[], context?: string): string {
  const first = errors[0]
  if (first === undefined) return 'Invalid parameters.'
  const params = first.params
  if (first.keyword === 'required') return `'${paramName(first.instancePath, String(params.missingProperty))}' is a required parameter`
  const name = paramName(first.instancePath)
  if (first.keyword === 'minLength' && params.limit === 1) return `'${name}' is a required parameter`
  if (name === 'body' || (context === 'querystring' && first.instancePath === '')) {
    return `Invalid parameters: ${first.message ?? 'not valid'}`
  }
  return `Invalid parameter '${name}': ${first.message ?? 'not valid'}`
}
