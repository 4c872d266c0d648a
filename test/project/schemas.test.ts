// Fastify's Ajv does not check route schemas against the JSON Schema meta-schema at start (app.ts:
// `validateSchema: false`, about 35 ms of the cold start). This test does it instead, for every
// route the app registers: request parts and every response.
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
  t.notOk(ajv.validateSchema({ type: 'strnig' }), 'the check refuses a misspelt type')
  let checked = 0
  for (const route of routes) {
    const schema = route.schema as Record<string, unknown> | undefined
    if (schema === undefined) continue
    const parts: Array<[string, unknown]> = ['body', 'querystring', 'params', 'headers'].map(k => [k, schema[k]])
    for (const [status, s] of Object.entries((schema.response ?? {}) as Record<string, unknown>)) parts.push([`response ${status}`, s])
    for (const [part, s] of parts) {
      if (s === undefined) continue
      checked++
      if (!ajv.validateSchema(s as object)) t.fail(`${String(route.method)} ${route.url} ${part}: ${ajv.errorsText(ajv.errors)}`)
    }
  }
  t.ok(checked > 50, `${checked} schemas of ${routes.length} routes checked`)
})
