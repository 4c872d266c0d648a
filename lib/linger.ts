import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'

/** What a refused request may still send after its answer, and for how long, before its socket is closed anyway. */
export const LINGER_BYTES = 4 * 1024 * 1024
export const LINGER_MS = 5_000

/**
 * Closes the connection of a request answered before its body arrived (a 413, or a 401/403/429
 * refused before reading) the way nginx's lingering close does: after the answer, what the client
 * still sends is read and thrown away, up to LINGER_BYTES or LINGER_MS, and only then is the socket
 * closed. Closed at once, the unread bytes make the kernel reset the connection, and a client
 * still writing its body never reads the answer (a till shows "network error", not the text).
 * Node calls `destroySoon` on the socket of a `Connection: close` answer once it is written.
 */
/** sockets already closing their own way: lingering, or closed at once */
const closing = new WeakSet<Socket>()

/** The exception: this request's socket closes at once, unread (the webhooks' flood defence). */
export function closeAtOnce (request: IncomingMessage): void {
  closing.add(request.socket)
}

export function lingerOnClose (request: IncomingMessage): void {
  const socket = request.socket
  if (closing.has(socket)) return
  closing.add(socket)
  socket.destroySoon = function lingeringClose () {
    // the answer is out: say we are done writing, keep reading what is still on its way
    socket.end()
    let read = 0
    const close = (): void => {
      clearTimeout(timer)
      socket.destroy()
    }
    const timer = setTimeout(close, LINGER_MS)
    timer.unref()
    socket.on('data', (chunk: Buffer) => {
      read += chunk.length
      if (read > LINGER_BYTES) close()
    })
    // the whole body arrived (nothing left unread), or the client gave up
    request.once('end', close)
    socket.once('end', close)
    request.resume()
    socket.resume()
    return socket
  }
}
