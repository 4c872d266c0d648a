import { EventEmitter } from 'node:events'
import fp from 'fastify-plugin'
import { listenForReaders } from '../../db/listen.js'

declare module 'fastify' {
  interface FastifyInstance {
    readerEvents: {
      /** Calls `changed` whenever the reader's action may have changed, on any replica; returns the unsubscribe. */
      subscribe: (readerId: string, changed: () => void) => () => void
      /** Tells this replica's streams that a reader changed (the webhook that recorded it, after its commit). */
      changed: (readerId: string) => void
      /** Keeps a stream's end for shutdown: every open stream is ended when the server closes. */
      track: (end: () => void) => () => void
    }
  }
}

/**
 * Fan-out of reader action changes to the event streams (GET /reader_events). A change is
 * announced in this process at once, and, with Postgres, by NOTIFY to every replica (the change
 * is already in Postgres, NOTIFY is sent with its commit, and no second system is needed). The
 * announcement only says which reader changed: each stream reads what it has not sent from the
 * event log, so a notice lost or heard twice changes nothing.
 */
export default fp(async function readerEvents (fastify) {
  const bus = new EventEmitter()
  // one listener per open stream
  bus.setMaxListeners(0)
  const streams = new Set<() => void>()
  const url = fastify.config.DATABASE_URL
  let lastWarn = 0
  const listener = /^postgres(ql)?:\/\//.test(url)
    ? listenForReaders(url, readerId => bus.emit(readerId), err => {
      const now = fastify.clock.now()
      if (now - lastWarn >= 10_000) fastify.log.warn({ err: { message: err.message } }, 'reader event listener lost: reconnecting')
      lastWarn = now
    })
    : undefined

  fastify.decorate('readerEvents', {
    subscribe (readerId, changed) {
      bus.on(readerId, changed)
      return () => { bus.off(readerId, changed) }
    },
    changed (readerId) { bus.emit(readerId) },
    track (end) {
      streams.add(end)
      return () => { streams.delete(end) }
    }
  })
  // streams never hold the shutdown: they end before the server waits for its requests
  fastify.addHook('preClose', (done) => {
    for (const end of streams) end()
    done()
  })
  fastify.addHook('onClose', async () => { await listener?.close() })
}, { name: 'reader-events', dependencies: ['config', 'store'], fastify: '5.x' })
