/** Reading a signed event's envelope, snapshot (`object: "event"`) or thin (`object: "v2.core.event"`). */
import type { Delivery } from '../../db/repos/webhook-events.js'

/** printable, at most 255 characters: what a stored column takes (Postgres refuses NUL) */
// eslint-disable-next-line no-control-regex
const STORED = /^[^\u0000-\u001f\u007f]{1,255}$/

/** The dedupe record of a delivery: every field read defensively, since any well-signed event is taken. */
export function deliveryOf (event: Record<string, unknown>): Delivery {
  const thin = event.object === 'v2.core.event'
  const account = thin ? event.context : event.account
  const created = thin ? Math.floor(Date.parse(String(event.created)) / 1000) : event.created
  return {
    id: String(event.id),
    type: String(event.type),
    account: typeof account === 'string' && STORED.test(account) ? account : null,
    livemode: event.livemode === true,
    created: typeof created === 'number' && Number.isSafeInteger(created) && created > 0 ? created : Math.floor(Date.now() / 1000)
  }
}

/** The snapshot type a thin event stands for (`v1.terminal.reader.action_succeeded` → `terminal.reader.action_succeeded`), if any. */
export const snapshotType = (thinType: string): string | undefined => thinType.startsWith('v1.') ? thinType.slice(3) : undefined
