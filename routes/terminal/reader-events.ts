import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { EVENTS_PAGE } from '../../db/repos/reader-actions.js'
import { fail } from '../../lib/errors.js'
import { errorFields } from '../../lib/values.js'
import * as S from '../../schemas/terminal.js'

const { tags, security } = S

/** a comment line this often keeps proxies and load balancers from closing an idle stream */
export const HEARTBEAT_MS = 15_000

/**
 * `GET /reader_events?reader_id=tmr_…`: the reader's action changes pushed to the till as
 * Server-Sent Events. Each change the webhooks record (in progress, succeeded, failed) is sent as
 * `event: action` with the JSON of GET /reader_action and its `id:`; a reconnect with
 * `Last-Event-ID` gets what it missed. Without it, a stream starts at the next change (the present
 * state is GET /reader_action's). Authenticated and merchant-scoped like every Terminal route: a
 * merchant key hears only its own merchant's readers.
 */
const readerEventRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const open = new Map<string, number>()
  const cap = fastify.config.MAX_STREAMS_PER_KEY

  fastify.get('/reader_events', {
    config: { errorPrefix: 'Error streaming reader events!', streams: true },
    schema: {
      tags,
      security,
      summary: 'The reader\'s action changes, pushed (text/event-stream)',
      description: 'Server-Sent Events: `event: action`, `data:` the JSON of GET /reader_action, `id:` for Last-Event-ID.',
      querystring: S.ReaderQuery
    }
  }, async (request, reply) => {
    const readerId = request.query.reader_id
    const holder = fastify.credentials.bucket(request)
    const held = open.get(holder) ?? 0
    if (held >= cap) {
      throw fail.tooMany(`At most ${cap} open reader event streams per key (MAX_STREAMS_PER_KEY).`, 'too_many_streams', 5)
    }
    const account = request.merchant?.account
    const livemode = fastify.stripe.livemode
    const resume = request.headers['last-event-id']
    const from = typeof resume === 'string' && /^[0-9]{1,15}$/.test(resume) ? Number(resume) : undefined
    let last = from ?? await fastify.repos.readerActions.lastEventId()

    open.set(holder, held + 1)
    reply.hijack()
    const raw = reply.raw
    // hijacked: the headers the hooks set so far (CORS, security headers) are written here
    for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) raw.setHeader(name, value)
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
      'x-request-id': request.id
    })
    raw.write(': open\n\n')

    let ended = false
    let pumping = false
    let again = false
    /** sends what the stream has not sent yet, in order; a change heard meanwhile runs it again */
    const pump = async (): Promise<void> => {
      if (pumping) {
        again = true
        return
      }
      pumping = true
      try {
        do {
          again = false
          const rows = await fastify.repos.readerActions.eventsSince(readerId, livemode, last, account)
          for (const row of rows) {
            if (ended) return
            raw.write(`id: ${row.id}\nevent: action\ndata: ${row.body}\n\n`)
            last = row.id
          }
          if (rows.length === EVENTS_PAGE) again = true
        } while (again)
      } finally {
        pumping = false
      }
    }
    const release = (): void => {
      unsubscribe()
      untrack()
      clearInterval(heartbeat)
      const left = (open.get(holder) ?? 1) - 1
      if (left === 0) open.delete(holder)
      else open.set(holder, left)
    }
    const end = (): void => {
      if (ended) return
      ended = true
      release()
      raw.end()
    }
    const failed = (err: unknown): void => {
      // the database could not answer: the till reconnects with Last-Event-ID and misses nothing
      request.log.warn({ err: { message: errorFields(err).message }, reader: readerId }, 'reader event stream ended')
      end()
    }
    const unsubscribe = fastify.readerEvents.subscribe(readerId, () => { pump().catch(failed) })
    const untrack = fastify.readerEvents.track(end)
    const heartbeat = setInterval(() => { raw.write(': heartbeat\n\n') }, HEARTBEAT_MS)
    heartbeat.unref()
    raw.once('close', () => {
      if (ended) return
      ended = true
      release()
    })
    await pump().catch(failed)
  })
}

export default readerEventRoutes
