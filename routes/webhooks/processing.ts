import fp from 'fastify-plugin'
import { idOf } from '../../lib/values.js'
import type Stripe from 'stripe'
import { defaultHandlers, type WebhookHandler } from './handlers.js'
import type { Delivery } from '../../db/repos/webhook-events.js'

export type { Delivery } from '../../db/repos/webhook-events.js'

declare module 'fastify' {
  interface FastifyInstance {
    webhookEvents: {
      /** Handles `type` with `handler`, inside the event's exactly-once transaction (replaces a default). */
      on: (type: string, handler: WebhookHandler) => void
      /**
       * Records the delivery and runs the handler of `event` (its snapshot: the delivery itself, or
       * what was fetched for a thin one) in one transaction; 'duplicate' when seen before.
       */
      process: (delivery: Delivery, event?: Stripe.Event) => Promise<'handled' | 'duplicate'>
    }
  }
}

/** Exactly-once event handling: the dedupe record and the handler's writes commit together. */
export default fp(async function webhookEvents (fastify) {
  const handlers = new Map<string, WebhookHandler>(Object.entries(defaultHandlers))
  fastify.decorate('webhookEvents', {
    on (type, handler) { handlers.set(type, handler) },
    async process (delivery, event) {
      const outcome = await fastify.store.transaction(async repos => {
        if (!await repos.webhookEvents.record(delivery)) return 'duplicate' as const
        if (event !== undefined) await handlers.get(event.type)?.(repos, event)
        return 'handled' as const
      })
      // committed: this replica's streams of the reader read the change (others hear Postgres's NOTIFY)
      const reader = event?.type.startsWith('terminal.reader.action_') === true ? idOf(event.data.object) : null
      if (outcome === 'handled' && reader !== null) fastify.readerEvents.changed(reader)
      return outcome
    }
  })
}, { name: 'webhook-events', dependencies: ['store', 'reader-events'], fastify: '5.x' })
