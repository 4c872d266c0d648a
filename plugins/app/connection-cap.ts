import type { Socket } from 'node:net'
import fp from 'fastify-plugin'
import { errorBody } from '../../lib/errors.js'

const BODY = JSON.stringify(errorBody({
  type: 'api_error',
  message: 'The server is at its connection limit; retry shortly.',
  code: 'connection_limit'
}))
const REFUSAL = 'HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\n' +
  `Content-Length: ${Buffer.byteLength(BODY)}\r\n\r\n${BODY}`

/**
 * At most MAX_CONNECTIONS open sockets. Past it a new connection is answered 503 at once and
 * closed — never a silent reset — and a warn line (at most one per 10 s, with the count) says so.
 * Without a cap, enough slow or idle sockets exhaust the process's descriptors and every request,
 * the tills' included, is reset with nothing logged.
 */
export default fp(async function connectionCap (fastify) {
  const max = fastify.config.MAX_CONNECTIONS
  let open = 0
  let refused = 0
  let lastWarn = 0
  // before Node's own listener, so a refused socket never reaches the HTTP parser
  fastify.server.prependListener('connection', (socket: Socket) => {
    if (open < max) {
      open++
      socket.once('close', () => { open-- })
      return
    }
    socket.pause()
    socket.end(REFUSAL, () => { socket.destroy() })
    socket.on('error', () => {})
    refused++
    const now = Date.now()
    if (now - lastWarn >= 10_000) {
      fastify.log.warn({ max_connections: max, refused }, 'connection limit reached: new connections are answered 503')
      lastWarn = now
      refused = 0
    }
  })
}, { name: 'connection-cap', dependencies: ['config'], fastify: '5.x' })
