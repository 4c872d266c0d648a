import { once } from 'node:events'
import { createServer } from 'node:net'
import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance, type RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import Stripe from 'stripe'
import type { Test } from 'tap'
import app, { serverOptions } from '../../app.js'
import type { Clock } from '../../lib/clock.js'
import { loadConfig } from '../../lib/config.js'
import { FakeStripe } from './fake-stripe.js'

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL

export interface Built {
  app: FastifyInstance
  fake: FakeStripe
  /** every log line written, parsed */
  logs: Array<Record<string, any>>
  rawLogs: string[]
  /** every route the app registered, as Fastify's onRoute hook saw it */
  routes: RouteOptions[]
}

export interface BuildOptions {
  env?: Record<string, string | undefined>
  /** share one fake Stripe between several apps */
  fake?: FakeStripe
  /** the app's clock (test/support/clock.ts): advanced by the test instead of sleeping */
  clock?: Clock
}

/** Builds the real app, with injected variables, against a fake Stripe; closes both at the end. */
export async function build (t: Test, opts: BuildOptions = {}): Promise<Built> {
  const fake = opts.fake ?? (await new FakeStripe().start())
  const env: Record<string, string | undefined> = {
    STRIPE_TEST_SECRET_KEY: 'sk_test_123',
    STRIPE_API_BASE: fake.url,
    STRIPE_MAX_RETRIES: '0',
    DATABASE_URL: 'sqlite::memory:',
    LOG_LEVEL: 'info',
    ...opts.env
  }
  const rawLogs: string[] = []
  const logs: Array<Record<string, any>> = []
  const sink = new Writable({
    write (chunk, _enc, cb) {
      const line = chunk.toString()
      rawLogs.push(line)
      try {
        logs.push(JSON.parse(line))
      } catch {
        /* not JSON */
      }
      cb()
    }
  })
  const config = loadConfig(env)
  const server = Fastify(serverOptions(config, sink))
  const routes: RouteOptions[] = []
  server.addHook('onRoute', route => { routes.push(route) })
  try {
    await server.register(fp(app), { config, env, ...(opts.clock === undefined ? {} : { clock: opts.clock }) })
    await server.ready()
  } catch (err) {
    // a refused boot: release what was started, then let the test see the error
    await server.close().catch(() => {})
    if (opts.fake === undefined) await fake.stop()
    throw err
  }
  t.teardown(async () => {
    await server.close()
    if (opts.fake === undefined) await fake.stop()
    if (fake.specViolations.length > 0) throw new Error(`Stripe calls outside the OpenAPI spec:\n${fake.specViolations.join('\n')}`)
  })
  return { app: server, fake, logs, rawLogs, routes }
}

/** A Stripe-Signature header made by stripe-node's own helper. */
export const sign = (payload: string, secret: string, timestamp?: number): string =>
  Stripe.webhooks.generateTestHeaderString({ payload, secret, ...(timestamp === undefined ? {} : { timestamp }) })

/** A header with one v1 signature per secret, as Stripe sends during a secret rotation. */
export function signRotated (payload: string, secrets: string[], timestamp = Math.floor(Date.now() / 1000)): string {
  const sigs = secrets.map(secret => sign(payload, secret, timestamp).split('v1=')[1])
  return `t=${timestamp},${sigs.map(s => `v1=${s}`).join(',')}`
}

export const form = (params: Record<string, string>): string => new URLSearchParams(params).toString()

/**
 * A Postgres URL whose tables live in a fresh schema of their own (dropped at the end), so test
 * files can run side by side on one database. Undefined when TEST_DATABASE_URL is unset.
 */
export async function pgUrl (t: Test): Promise<string | undefined> {
  if (TEST_DATABASE_URL === undefined) return undefined
  const { default: pg } = await import('pg')
  const schema = `t_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL })
  await client.connect()
  await client.query(`create schema ${schema}`)
  await client.end()
  t.teardown(async () => {
    const c = new pg.Client({ connectionString: TEST_DATABASE_URL })
    await c.connect()
    await c.query(`drop schema ${schema} cascade`)
    await c.end()
  })
  const url = new URL(TEST_DATABASE_URL)
  url.searchParams.set('options', `-c search_path=${schema}`)
  // names this test's connections, so a fault test can cut exactly them (pg_terminate_backend)
  url.searchParams.set('application_name', schema)
  return url.toString()
}

/** Says plainly why a test that needs a service did not run. */
export const needs = (what: string, value: string | undefined): { skip: string | false } => ({
  skip: value === undefined ? `${what} is not set: set it to run this test (.ci/run does)` : false
})

/**
 * The environment for a child process (server.ts under tsx) without tap's coverage and process
 * tracking: the child's differently transpiled copy of the sources would garble the coverage map.
 */
export function childEnv (extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (k === 'NODE_V8_COVERAGE' || k === 'NODE_OPTIONS' || k.startsWith('_TAPJS') || k.startsWith('TAP')) continue
    env[k] = v
  }
  // tap's process tracking may still wrap the spawn: tell it explicitly to record no coverage
  return { ...env, _TAPJS_PROCESSINFO_COVERAGE_: '0', ...extra }
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort (): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1')
  await once(s, 'listening')
  const port = (s.address() as { port: number }).port
  s.close()
  return port
}
