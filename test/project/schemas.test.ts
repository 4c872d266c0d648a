// Fastify's Ajv does not check route schemas against the JSON Schema meta-schema at start (app.ts:
// `validateSchema: false`, about 35 ms of the cold start). This test does it instead, for every
// route the app registers: request parts and every response. Fastify compiles each route's schemas
// on its first request, not at start (lib/lazy-schemas.ts), so this test also compiles them all
// with the same compilers, so that a schema Ajv or fast-json-stringify cannot build fails here, not on a till.
import AjvCompiler from '@fastify/ajv-compiler'
import SerializerSelector from '@fastify/fast-json-stringify-compiler'
import { Ajv } from 'ajv'
import Fastify, { type RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import t from 'tap'
import app, { serverOptions } from '../../app.js'
import { loadConfig } from '../../lib/config.js'

t.test('every route schema is valid JSON Schema', async t => {
  const env = { STRIPE_TEST_SECRET_KEY: 'sk_test_123', DATABASE_URL: 'sqlite::memory:', LOG_LEVEL: 'silent' }
  const config = loadConfig(env)
  const server = Fastify(serverOptions(config))
  const routes: RouteOptions[] = []
  server.addHook('onRoute', route => { routes.push(route) })
  await server.register(fp(app), { config, env })
  await server.ready()
  t.teardown(() => server.close())

  const ajv = new Ajv({ strict: false })
  // cast: the factory's options are Fastify's `ajv` server option, as Fastify passes them
  const compileValidator = (AjvCompiler() as (e: unknown, o: unknown) => (r: object) => unknown)({}, serverOptions(config).ajv)
  const compileSerializer = SerializerSelector()({}, {})
  t.notOk(ajv.validateSchema({ type: 'strnig' }), 'the check refuses a misspelt type')
  let checked = 0
  let compiled = 0
  for (const route of routes) {
    const schema = route.schema as Record<string, unknown> | undefined
    if (schema === undefined) continue
    const parts: Array<[string, unknown]> = ['body', 'querystring', 'params', 'headers'].map(k => [k, schema[k]])
    for (const [status, s] of Object.entries((schema.response ?? {}) as Record<string, unknown>)) parts.push([`response ${status}`, s])
    for (const [part, s] of parts) {
      if (s === undefined) continue
      checked++
      if (!ajv.validateSchema(s as object)) t.fail(`${String(route.method)} ${route.url} ${part}: ${ajv.errorsText(ajv.errors)}`)
      const [kind, status] = part.split(' ')
      const method = String(route.method)
      if (kind === 'response') compileSerializer({ schema: s, method, url: route.url, httpStatus: status! })
      else compileValidator({ schema: s, method, url: route.url, httpPart: kind })
      compiled++
    }
  }
  t.ok(checked > 50, `${checked} schemas of ${routes.length} routes checked`)
  t.equal(compiled, checked, 'and each compiled by the compilers Fastify uses')
})
