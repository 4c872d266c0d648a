import Stripe from 'stripe'

type MakeRequest = Stripe.StripeResource['_makeRequest']
const WITHOUT_STACK = Symbol('withoutCallSiteStack')

/**
 * stripe-node formats its caller's stack (`new Error().stack`) at the start of every call, only to
 * append it to the error should the call fail (stripe-node #2688). This service never shows or logs
 * a Stripe error's stack (lib/errors.ts logs Stripe's type, code, message and request id), and the
 * formatting was the largest single cost of a Terminal request: about 20 µs of CPU per call, more
 * under Fastify's deep stacks (docs/performance.md). Every call of every resource goes through
 * `StripeResource#_makeRequest` (in stripe-node's declarations); it runs here with
 * `Error.stackTraceLimit` at 0 for its synchronous part, where the stack is taken, and the limit is
 * back before it returns. A failed call's error keeps its own stack.
 *
 * Idempotent. Returns false, changing nothing, when stripe-node no longer has the method (its
 * test fails then, on the upgrade that removed it).
 */
export function withoutCallSiteStacks (resource: typeof Stripe.StripeResource = Stripe.StripeResource): boolean {
  const proto = resource.prototype
  const makeRequest: MakeRequest | undefined = proto._makeRequest
  if (typeof makeRequest !== 'function') return false
  if (WITHOUT_STACK in makeRequest) return true
  const withoutStack: MakeRequest = function (this: Stripe.StripeResource, ...args) {
    const limit = Error.stackTraceLimit
    Error.stackTraceLimit = 0
    try {
      return makeRequest.apply(this, args)
    } finally {
      Error.stackTraceLimit = limit
    }
  }
  Object.defineProperty(withoutStack, WITHOUT_STACK, { value: true })
  proto._makeRequest = withoutStack
  return true
}
