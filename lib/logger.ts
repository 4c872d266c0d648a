import { createRequire } from 'node:module'
import { LogController, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import pino, { type DestinationStream } from 'pino'
import { REDACT_PATHS, redactSecrets, secretMasker } from './redact.js'

/**
 * pino options: JSON lines with the request id; secret headers removed by path and any
 * secret-looking value (sk_/rk_/whsec_/absec_, api_key=…) masked in the final line, wherever it
 * appears (an error message, a URL). pino-pretty only for a person at a terminal; server.ts gives
 * everyone else `bufferedStdout()`.
 */
export function loggerOptions (
  level: string,
  stream?: DestinationStream,
  secrets: readonly string[] = []
): FastifyServerOptions['logger'] {
  const mask = secretMasker(secrets)
  const base = {
    level,
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    // configured secrets too, wherever a caller put them (`?api_key=…`, a path segment)
    hooks: { streamWrite: (line: string) => mask(redactSecrets(line)) }
  }
  if (stream !== undefined) return { ...base, stream }
  if (process.stdout.isTTY === true && prettyInstalled()) return { ...base, transport: { target: 'pino-pretty' } }
  return base
}

/**
 * pino-pretty is a devDependency: a production install (`npm ci --omit=dev`, the image) at a
 * terminal (`docker run -it`, a Heroku console) writes JSON lines instead of failing to start.
 */
function prettyInstalled (): boolean {
  try {
    createRequire(import.meta.url).resolve('pino-pretty')
    return true
  } catch {
    return false
  }
}

/**
 * stdout through a 32 KiB buffer written asynchronously (pino's sonic-boom): a write per hundred
 * lines or so instead of a synchronous one per line, which on a pipe (a container's log) cost more
 * than anything else per request. Up to 256 KiB per write, so a reader that fell behind (a full
 * pipe) is caught up at once rather than 16 KiB per retry while lines pile up. With 4 KiB and
 * sonic-boom's 16 KiB writes, a pipe read by a busy process cost 70 µs of CPU per request at
 * `info` and a third of the throughput (docs/performance.md). Nothing is lost on the way out: the
 * buffer is written every second, and pino writes it synchronously at `process.exit`, which is
 * how server.ts ends after every signal and crash (close-with-grace). A SIGKILL loses at most the
 * last second. A reader that stops (a blocked log driver) must not grow the process until it is
 * killed: beyond `maxBytes` held, new lines are dropped whole and counted (droppedLogLines).
 */
export function bufferedStdout (maxBytes = 16 * 1024 * 1024): ReturnType<typeof pino.destination> {
  const stream = pino.destination({
    dest: 1, sync: false, minLength: 32 * 1024, maxWrite: 256 * 1024, maxLength: maxBytes, periodicFlush: 1000, contentMode: 'buffer'
  })
  // Lines held as Buffers, not one growing string: for a string, sonic-boom measures its pending
  // chunk (`Buffer.byteLength`) at every line, which copies it whole (up to maxWrite) — 13 µs and
  // most of the garbage of a request at `info` (profiled). In buffer mode it adds up lengths.
  // cast: sonic-boom's types describe its string mode only
  const writeBuffer = stream.write.bind(stream) as unknown as (chunk: Buffer) => boolean
  stream.write = (line: string) => writeBuffer(Buffer.from(line))
  stream.on('drop', () => { dropped++ })
  return stream
}

let dropped = 0
/** log lines dropped so far because stdout's reader fell `maxBytes` behind (the `log_lines_dropped_total` metric) */
export const droppedLogLines = (): number => dropped

/**
 * One access line per request instead of Fastify's two (incoming, completed): method, route
 * template, path, status, ms, the API key's id and Stripe's request ids of the calls it made. The
 * same moment records the request's metrics.
 */
export class AccessLog extends LogController {
  override incomingRequest (): void {}
  override routeNotFound (): void {}

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    request.server.metrics?.request(request, reply)
    const line = {
      method: request.method,
      route: request.routeOptions.url,
      // masked before it is cut: a secret cut in two would no longer be recognised
      path: request.server.maskSecrets(redactSecrets((request.url.split('?', 1)[0] ?? ''))).slice(0, 200),
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 100) / 100,
      ...(request.apiKeyId == null ? {} : { key: request.apiKeyId }),
      ...(request.stripeRequestIds === undefined ? {} : { stripe_request_ids: request.stripeRequestIds })
    }
    if (error == null) reply.log.info(line, 'request')
    else reply.log.error({ ...line, err: error }, 'request errored')
  }
}
