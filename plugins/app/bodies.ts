import fp from 'fastify-plugin'
import { fail } from '../../lib/errors.js'
import { checkInput, type InputLimits } from '../../lib/input.js'
import { dropAbsent, parseNestedQuery, type RackParams } from '../../lib/rack-query.js'

/**
 * Makes every body of the area that registers it (and only that area) arrive as the exact bytes
 * received: for signature checks (a parsed and re-serialized body never verifies) and for the proxy.
 */
export const rawBody = fp<{ bodyLimit?: number }>(async function rawBody (scope, { bodyLimit }) {
  scope.removeAllContentTypeParsers()
  scope.addContentTypeParser('*', { parseAs: 'buffer', ...(bodyLimit === undefined ? {} : { bodyLimit }) }, (_request, body, done) => {
    done(null, body)
  })
}, { name: 'raw-body', fastify: '5.x' })

/** Parses a form or JSON body the way Sinatra's `params` saw it; anything else is no parameters. */
function parseParams (contentType: string, text: string): RackParams {
  if (text.trim() === '') return {}
  const type = (contentType.split(';', 1)[0] ?? '').trim().toLowerCase()
  if (type === 'application/x-www-form-urlencoded') return parseNestedQuery(text)
  if (type === 'application/json' || type.endsWith('+json')) {
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      throw fail.invalid('The JSON body is not valid JSON.')
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw fail.invalid('A JSON body must be an object of parameters.')
    }
    // cast: a JSON object's values are strings, numbers, booleans, nulls, lists and objects: RackValues
    return parsed as RackParams
  }
  // text/plain, multipart and anything else: ignored, as the original did
  return {}
}

/**
 * Sinatra's `params` for every route of this scope: form bodies with Rack's nested keys, JSON
 * bodies, any or no Content-Type (never refused for it), the query string merged under a POST's
 * body (the body wins), GET queries read by Rack's rules too. Then bounded (`limits`), and absent
 * values (a bare key, a JSON null) removed before validation, which would turn them into "".
 * Registered inside an area, it applies to that area only.
 */
export const rackParams = fp<{ bodyLimit: number, limits: InputLimits }>(async function rackParams (scope, { bodyLimit, limits }) {
  scope.removeAllContentTypeParsers()
  // the two usual types are named beside the catch-all because Fastify caches lookups only for named types
  const types = ['application/x-www-form-urlencoded', 'application/json', '*']
  scope.addContentTypeParser(types, { parseAs: 'string', bodyLimit }, (request, body, done) => {
    try {
      done(null, parseParams(request.headers['content-type'] ?? '', body.toString()))
    } catch (err) {
      done(err instanceof Error ? err : new Error(String(err)), undefined)
    }
  })
  // callback-style: no promise per request on the hot path
  scope.addHook('preValidation', (request, _reply, done) => {
    const q = request.url.indexOf('?')
    const query = q === -1 ? {} : parseNestedQuery(request.url.slice(q + 1))
    if (request.method === 'POST') {
      // cast: this scope's parser made the body (parseParams above)
      const body = (request.body ?? {}) as RackParams
      const params = q === -1 ? body : { ...query, ...body }
      checkInput(params, limits)
      dropAbsent(params)
      request.body = params
    } else {
      checkInput(query, limits)
      dropAbsent(query)
      request.query = query
    }
    done()
  })
}, { name: 'rack-params', fastify: '5.x' })
