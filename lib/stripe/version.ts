/**
 * Request parameters whose shape depends on the pinned API version (Stripe's changelog), in one
 * table: one row per change, `[operation, first version with the change, params before, params
 * from then on]`. Routes ask `versioned(operation, version)` and spread the answer into the call.
 */
type Params = Record<string, string | boolean>
const CHANGES: Array<[operation: string, since: string, before: Params, after: Params]> = [
  // 2024-09-30.acacia: customer_consent_collected removed, allow_redisplay required
  ['terminal.readers.process_setup_intent', '2024-09-30', { customer_consent_collected: true }, { allow_redisplay: 'always' }]
]

/** `2024-09-30.acacia` → `2024-09-30`: versions compare by their date. */
export const versionDate = (version: string): string => version.slice(0, 10)

/** The version-dependent parameters of `operation` for the pinned `version`. */
export function versioned (operation: string, version: string): Params {
  const date = versionDate(version)
  let params: Params = {}
  for (const [op, since, before, after] of CHANGES) {
    if (op === operation) params = { ...params, ...(date >= since ? after : before) }
  }
  return params
}
