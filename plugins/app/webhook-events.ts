import fp from 'fastify-plugin'
import type Stripe from 'stripe'
import { defaultHandlers, type WebhookHandler } from '../../lib/webhook-handlers.js'

/** What is recorded of every delivery, whatever its type or shape: the dedupe record. */
export interface Delivery { id: string, type: string, account: string | null, livemode: boolean, created: number }

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
      return await fastify.store.db.transaction().execute(async trx => {
        // On Postgres a concurrent insert of the same id waits for the first transaction: if that
        // commits, this one does nothing (duplicate); if it rolls back, this one handles the event.
        const inserted = await trx.insertInto('webhook_events').values({
          id: delivery.id,
          type: delivery.type,
          account: delivery.account,
          livemode: delivery.livemode ? 1 : 0,
          created: delivery.created,
          received_at: new Date().toISOString()
        }).onConflict(oc => oc.column('id').doNothing()).executeTakeFirst()
        if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 0) return 'duplicate' as const
        if (event !== undefined) await handlers.get(event.type)?.(trx, event)
        return 'handled' as const
      })
    }
  })
}, { name: 'webhook-events', dependencies: ['store'], fastify: '5.x' })
