import http from 'node:http'
import https from 'node:https'

/** sockets per Stripe origin: beyond that, calls queue for a free one */
export const POOL_CONNECTIONS = 128

/**
 * The agent under stripe-node's own node client: keep-alive, a bounded number of sockets per
 * origin, TLS verified (Node's default). A client on undici was tried in its place: it cost more
 * CPU per call at 10 connections and the same at 100 (bench/README.md), so stripe-node's stayed.
 */
export function stripeAgent (protocol: 'http' | 'https'): http.Agent {
  const options = { keepAlive: true, maxSockets: POOL_CONNECTIONS }
  return protocol === 'http' ? new http.Agent(options) : new https.Agent(options)
}
