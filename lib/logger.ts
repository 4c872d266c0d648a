import { LogController, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import { REDACT_PATHS, redactSecrets, secretMasker } from './redact.js'

/**
 * pino options: JSON lines with the request id; secret headers removed by path and any
 * secret-looking value (sk_/rk_/whsec_/absec_, api_key=…) masked in the final line, wherever it
 * appears (an error message, a URL). pino-pretty only for a person at a terminal.
 */
export function loggerOptions (
  level: string,
  stream?: NodeJS.WritableStream,
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
  if (process.stdout.isTTY === true) return { ...base, transport: { target: 'pino-pretty' } }
  return base
}

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
      path: request.url.split('?', 1)[0]!.slice(0, 200),
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 100) / 100,
      ...(request.apiKeyId == null ? {} : { key: request.apiKeyId }),
      ...(request.stripeRequestIds === undefined ? {} : { stripe_request_ids: request.stripeRequestIds })
    }
    if (error == null) reply.log.info(line, 'request')
    else reply.log.error({ ...line, err: error }, 'request errored')
  }
}
