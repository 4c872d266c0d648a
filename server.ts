import Fastify from 'fastify'
import fp from 'fastify-plugin'
import closeWithGrace from 'close-with-grace'
import app, { serverOptions } from './app.js'
import { loadConfig, readEnv } from './lib/config.js'
import { bufferedStdout } from './lib/logger.js'
import { errorFields } from './lib/values.js'

const env = readEnv()
let config
try {
  config = loadConfig(env)
} catch (err) {
  console.error(`Invalid configuration: ${errorFields(err).message}`)
  process.exit(1)
}

// a person at a terminal reads pino-pretty's lines; a log collector gets them buffered
const logs = process.stdout.isTTY === true ? undefined : bufferedStdout(config.LOG_BUFFER_BYTES)
const server = Fastify(serverOptions(config, logs))
server.register(fp(app), { config, env })

// SIGTERM/SIGINT: stop accepting, close idle and incomplete sockets, let whole requests finish
// (Stripe calls still in flight are cut 2 s before the grace ends and answered 504), close the
// store and Redis, exit 0. SHUTDOWN_GRACE_MS (25 s) fits Kubernetes' default 30 s.
const grace = config.SHUTDOWN_GRACE_MS
closeWithGrace({ delay: grace }, async ({ signal, err }) => {
  if (err !== undefined) server.log.error({ err }, 'closing after an error')
  else server.log.info({ signal, grace_ms: grace }, 'closing: finishing in-flight requests')
  await server.close()
})

try {
  await server.listen({ host: config.HOST, port: config.PORT })
  // the log is buffered: say "listening" now, not within the second
  logs?.flush()
} catch (err) {
  // A failed production checklist lands here: print it plainly, without values.
  server.log.fatal({ err: { message: errorFields(err).message } }, 'boot refused')
  console.error(errorFields(err).message)
  process.exit(1)
}
