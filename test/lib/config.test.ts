import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import Fastify from 'fastify'
import fp from 'fastify-plugin'
import app from '../../app.js'
import { checklist, loadConfig, readEnv } from '../../lib/config.js'

const LIVE_OK = {
  ENVIRONMENT: 'production',
  STRIPE_SECRET_KEY: 'sk_live_abcdefghijklmnop',
  API_KEY: 'k'.repeat(32),
  ALLOWED_ORIGINS: 'https://pos.example.com,http://localhost:3000',
  DATABASE_URL: 'sqlite::memory:',
  LOG_LEVEL: 'silent'
}

async function boot (env: Record<string, string>): Promise<Error | undefined> {
  const server = Fastify({ logger: false })
  try {
    await server.register(fp(app), { env })
    await server.ready()
    return undefined
  } catch (err) {
    return err as Error
  } finally {
    await server.close()
  }
}

t.test('a valid production environment boots', async t => {
  t.equal(await boot(LIVE_OK), undefined)
})

t.test('each checklist failure stops a production boot, with its message and no secret', async t => {
  const cases: Array<[string, Record<string, string | undefined>, RegExp]> = [
    ['no API key', { API_KEY: undefined }, /API_KEY is not set/],
    ['short API key', { API_KEY: `${'k'.repeat(32)},short-key-123` }, /API_KEY: every key must be at least 32 characters/],
    ['short admin key', { ADMIN_API_KEY: 'short-admin-key' }, /ADMIN_API_KEY: every key must be at least 32 characters/],
    ['no live Stripe key', { STRIPE_SECRET_KEY: undefined }, /STRIPE_SECRET_KEY is not set/],
    ['test key in live mode', { STRIPE_SECRET_KEY: 'sk_test_secretvalue123' }, /STRIPE_SECRET_KEY must be a live key/],
    ['publishable key', { STRIPE_SECRET_KEY: 'pk_live_secretvalue123' }, /publishable key/],
    ['pk anywhere', { STRIPE_PROXY_KEY: 'pk_live_secretvalue123' }, /STRIPE_PROXY_KEY holds a publishable key/],
    ['no origins', { ALLOWED_ORIGINS: undefined }, /ALLOWED_ORIGINS is not set/],
    ['wildcard origin', { ALLOWED_ORIGINS: '*' }, /ALLOWED_ORIGINS must not contain \*/],
    ['not an origin', { ALLOWED_ORIGINS: 'https://pos.example.com/path' }, /is not an origin/]
  ]
  for (const [name, change, message] of cases) {
    const env = { ...LIVE_OK, ...change } as Record<string, string>
    for (const k of Object.keys(change)) if (change[k] === undefined) delete env[k]
    const err = await boot(env)
    t.match(err?.message, message, name)
    t.notMatch(err?.message ?? '', /secretvalue|kkkkkkkk/, `${name}: no secret in the message`)
  }
})

t.test('every failing item is listed at once', async t => {
  const err = await boot({ ENVIRONMENT: 'production', DATABASE_URL: 'sqlite::memory:' })
  t.match(err?.message, /API_KEY is not set[\s\S]*STRIPE_SECRET_KEY is not set[\s\S]*ALLOWED_ORIGINS is not set/)
})

t.test('RACK_ENV=production also means production; NODE_ENV does not', async t => {
  t.equal(loadConfig({ RACK_ENV: 'production' }).production, true)
  t.equal(loadConfig({ NODE_ENV: 'production' }).production, false)
})

t.test('production with STRIPE_ENV=test is a staging setup: boots with a warning', async t => {
  const config = loadConfig({ ...LIVE_OK, STRIPE_ENV: 'test', STRIPE_TEST_SECRET_KEY: 'sk_test_123', STRIPE_SECRET_KEY: undefined })
  const { failures, warnings } = checklist(config)
  t.same(failures, [])
  t.match(warnings.join('\n'), /staging/)
  t.equal(await boot({ ...LIVE_OK, STRIPE_ENV: 'test', STRIPE_TEST_SECRET_KEY: 'rk_test_123' }), undefined)
})

t.test('development starts with nothing set', async t => {
  t.equal(await boot({ DATABASE_URL: 'sqlite::memory:', LOG_LEVEL: 'silent' }), undefined)
  const config = loadConfig({})
  t.equal(config.PORT, 4567)
  t.equal(config.allowedOrigins, '*')
  t.equal(config.stripeMode, 'test')
  t.equal(config.docsEnabled, true)
})

t.test('a malformed variable is refused with its name', async t => {
  t.throws(() => loadConfig({ PORT: 'eighty' }), /PORT/)
  t.throws(() => loadConfig({ STRIPE_ENV: 'staging' }), /STRIPE_ENV/)
})

t.test('.env is read but never overrides a real variable', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'env-'))
  const file = join(dir, '.env')
  writeFileSync(file, 'PORT=9999\nAPI_KEY=from-dotenv\n# comment\n')
  const raw = readEnv(file, { PORT: '1234' })
  t.equal(raw.PORT, '1234', 'the environment wins')
  t.equal(raw.API_KEY, 'from-dotenv', '.env fills what the environment lacks')
  t.same(readEnv(join(dir, 'missing.env'), { PORT: '1' }), { PORT: '1' }, 'no .env is fine')
  t.equal(loadConfig(raw).PORT, 1234)
})
