import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import fp from 'fastify-plugin'
import { errorBody } from '../../lib/errors.js'

const refusal = (message: string): string => {
  const body = JSON.stringify(errorBody({ type: 'api_error', message, code: 'connection_limit' }))
  return 'HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
}
const FULL = refusal('The server is at its connection limit; retry shortly.')
const CLIENT_FULL = refusal('This address holds too many connections to the server; close some and retry.')

/**
 * The server's sockets, bounded and drained:
 * - at most MAX_CONNECTIONS open, and at most MAX_CONNECTIONS_PER_CLIENT from one address (not
 *   behind TRUST_PROXY, where every socket is the proxy's and the proxy caps its clients). Past
 *   either, a new connection is answered 503 at once and closed — never a silent reset — and a warn
 *   line (at most one per 10 s, with the count) says so. Without the caps, enough slow or idle
 *   sockets exhaust the process's descriptors, or one client holds every slot and the tills get 503.
 * - on close (SIGTERM), every socket that is not carrying a whole request being answered — idle
 *   keep-alive, headers or body still arriving — is closed at once, so the drain waits only for
 *   requests it can finish (Node's own closeIdleConnections leaves the incomplete ones open).
 */
export default fp(async function connectionCap (fastify) {
  const max = fastify.config.MAX_CONNECTIONS
  const perClient = fastify.config.TRUST_PROXY === undefined ? fastify.config.MAX_CONNECTIONS_PER_CLIENT : Infinity
  const byAddress = new Map<string, number>()
  /** open sockets, with the request each is answering */
  const sockets = new Map<Socket, IncomingMessage | undefined>()
  let refused = 0
  let lastWarn = 0
  const refuse = (socket: Socket, answer: string, reason: string): void => {
    socket.pause()
    socket.end(answer, () => { socket.destroy() })
    socket.on('error', () => {})
    refused++
    const now = Date.now()
    if (now - lastWarn >= 10_000) {
      const limits = { max_connections: max, ...(perClient === Infinity ? {} : { max_connections_per_client: perClient }) }
      fastify.log.warn({ ...limits, refused }, `${reason}: new connections are answered 503`)
      lastWarn = now
      refused = 0
    }
  }
  // before Node's own listener, so a refused socket never reaches the HTTP parser
  fastify.server.prependListener('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? ''
    const mine = byAddress.get(address) ?? 0
    if (sockets.size >= max) return refuse(socket, FULL, 'connection limit reached')
    if (mine >= perClient) return refuse(socket, CLIENT_FULL, 'per-client connection limit reached')
    byAddress.set(address, mine + 1)
    sockets.set(socket, undefined)
    socket.once('close', () => {
      sockets.delete(socket)
      const left = (byAddress.get(address) ?? 1) - 1
      if (left === 0) byAddress.delete(address)
      else byAddress.set(address, left)
    })
  })
  fastify.server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const socket = request.socket
    if (!sockets.has(socket)) return
    sockets.set(socket, request)
    // 'close' follows the end of every response, finished or not
    response.once('close', () => { if (sockets.get(socket) === request) sockets.set(socket, undefined) })
  })
  fastify.addHook('preClose', (done) => {
    // `complete`: the parser has the whole request, body included, whether or not it was read yet
    for (const [socket, request] of sockets) if (request?.complete !== true) socket.destroy()
    done()
  })
}, { name: 'connection-cap', dependencies: ['config'], fastify: '5.x' })
