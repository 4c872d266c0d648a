import Fastify from 'fastify'
import fp from 'fastify-plugin'
import closeWithGrace from 'close-with-grace'
import app, { serverOptions } from './app.js'
import { loadConfig, readEnv, shutdownGraceMs } from './lib/config.js'

const env = readEnv()
let config
try {
  config = loadConfig(env)
} catch (err) {
  console.error(`Invalid configuration: ${(err as Error).message}`)
  process.exit(1)
}

const server = Fastify(serverOptions(config))
server.register(fp(app), { config, env })

// SIGTERM/SIGINT: stop accepting, let in-flight requests finish, close the store and Redis, exit 0.
const grace = shutdownGraceMs(config)
closeWithGrace({ delay: grace }, async ({ signal, err }) => {
  if (err !== undefined) server.log.error({ err }, 'closing after an error')
  else server.log.info({ signal, grace_ms: grace }, 'closing: finishing in-flight requests')
  await server.close()
})

try {
  await server.listen({ host: config.HOST, port: config.PORT })
} catch (err) {
  // A failed production checklist lands here: print it plainly, without values.
  server.log.fatal({ err: { message: (err as Error).message } }, 'boot refused')
  console.error((err as Error).message)
  process.exit(1)
}
