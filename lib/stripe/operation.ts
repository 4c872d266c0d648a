/** Stripe's namespaces: path segments that prefix a resource (`/v1/terminal/readers`). */
const NAMESPACES = new Set([
  'terminal', 'test_helpers', 'billing', 'billing_portal', 'checkout', 'climate', 'entitlements', 'financial_connections',
  'forwarding', 'identity', 'issuing', 'radar', 'reporting', 'sigma', 'tax', 'treasury', 'apps'
])
const WORD = /^[a-z_]{1,40}$/
const VERBS: Record<string, [string, string]> = {
  // [without an id, with an id]
  GET: ['list', 'retrieve'],
  POST: ['create', 'update'],
  DELETE: ['del', 'del']
}

/**
 * A bounded metric label for a Stripe API call: `payment_intents.create`,
 * `terminal.readers.process_payment_intent`. Only the positions that are names in Stripe's paths
 * (`/v1/{namespace…}/{resource}/{id}/{action}`) are read; ids never reach the label.
 */
export function stripeOperation (method: string, path: string): string {
  const q = path.indexOf('?')
  const segments = (q === -1 ? path : path.slice(0, q)).split('/').filter(s => s !== '')
  if (segments[0] === 'v1' || segments[0] === 'v2') segments.shift()
  const names: string[] = []
  let i = 0
  for (let s = segments[i]; s !== undefined && NAMESPACES.has(s); s = segments[++i]) names.push(s)
  const resource = segments[i]
  if (resource === undefined || !WORD.test(resource)) return names.length > 0 ? `${names.join('.')}.other` : 'other'
  names.push(resource)
  const hasId = segments.length > i + 1
  const action = segments[i + 2]
  const [without, withId] = VERBS[method] ?? ['other', 'other']
  if (action !== undefined) names.push(WORD.test(action) ? action : 'other')
  else if (hasId) names.push(withId)
  // `/v1/account` is the one singular resource our calls retrieve without an id
  else names.push(method === 'GET' && resource === 'account' ? 'retrieve' : without)
  return names.join('.')
}
