import type { FastifyInstance } from 'fastify'

/**
 * Makes every body in this scope (and only this scope) arrive as the exact bytes received: for
 * signature checks (a parsed and re-serialized body never verifies) and for the proxy. Not a
 * plugin: call it inside the route area that needs it.
 */
export function useRawBody (scope: FastifyInstance, bodyLimit?: number): void {
  scope.removeAllContentTypeParsers()
  scope.addContentTypeParser('*', { parseAs: 'buffer', ...(bodyLimit === undefined ? {} : { bodyLimit }) }, (_request, body, done) => {
    done(null, body)
  })
}
