import type { FastifyServerOptions } from 'fastify'
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
