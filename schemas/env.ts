import { Type, type Static } from '@sinclair/typebox'
import { DEFAULT_MAX_SOCKETS } from '../lib/stripe/agent.js'

const Str = (description: string, extra: Record<string, unknown> = {}) =>
  Type.Optional(Type.String({ description, ...extra }))

/**
 * Every variable the service reads (CONTRACT.md section 1). The one source of validation,
 * of the `Env` type and of the README's configuration table.
 */
export const EnvSchema = Type.Object({
  PORT: Type.Integer({ default: 4567, minimum: 0, maximum: 65535, description: 'listen port' }),
  HOST: Type.String({ default: '0.0.0.0', description: 'listen address' }),
  ENVIRONMENT: Str('`production` turns on production mode'),
  RACK_ENV: Str('same as ENVIRONMENT (name kept from the original backend)'),
  STRIPE_ENV: Type.Optional(Type.Union([Type.Literal('production'), Type.Literal('live'), Type.Literal('test')], {
    description: 'production/live uses STRIPE_SECRET_KEY, test uses STRIPE_TEST_SECRET_KEY'
  })),
  STRIPE_SECRET_KEY: Str('live secret (sk_) or restricted (rk_) key'),
  STRIPE_TEST_SECRET_KEY: Str('test secret (sk_) or restricted (rk_) key'),
  STRIPE_API_BASE: Type.String({ default: 'https://api.stripe.com', description: 'base URL of the Stripe API' }),
  STRIPE_API_VERSION: Str('pinned Stripe API version'),
  STRIPE_TIMEOUT_MS: Type.Integer({ default: 30000, minimum: 1, description: 'timeout of each outbound attempt' }),
  STRIPE_MAX_RETRIES: Type.Integer({ default: 2, minimum: 0, maximum: 10, description: 'stripe-node network retries' }),
  STRIPE_MAX_SOCKETS: Type.Integer({
    default: DEFAULT_MAX_SOCKETS,
    minimum: 1,
    maximum: 10000,
    description: 'sockets to Stripe at most; beyond them calls wait (and are counted)'
  }),
  API_KEY: Str('client API key(s), comma-separated for rotation'),
  ADMIN_API_KEY: Str('key(s) of the /admin area (merchant keys), comma-separated, each 32+ characters'),
  ALLOWED_ORIGINS: Str('browser origins for the Terminal API and proxy, comma-separated'),
  STRIPE_APP_SECRET: Str('Stripe App signing secret(s) absec_…, comma-separated'),
  STRIPE_WEBHOOK_SECRET: Str('webhook signing secret(s) whsec_…, comma-separated'),
  DATABASE_URL: Type.String({ default: 'sqlite:./data/app.db', description: 'sqlite:<path> or postgres://…' }),
  REDIS_URL: Str('shared rate-limit store for several replicas'),
  RATE_LIMIT_MAX: Type.Integer({ default: 100, minimum: 1, description: 'requests per client per window' }),
  RATE_LIMIT_WINDOW: Type.String({ default: '1 minute', description: 'rate-limit window' }),
  TRUST_PROXY: Str('proxy addresses/CIDRs whose X-Forwarded-* is believed'),
  PROXY_CONFIG: Str('path of a YAML file of proxy adapters'),
  STRIPE_PROXY_KEY: Str('one proxy adapter `stripe` with this (restricted) key'),
  LOG_BUFFER_BYTES: Type.Integer({
    default: 16777216, minimum: 65536, description: 'log bytes held while stdout is not read; beyond, lines are dropped (counted)'
  }),
  MAX_CONNECTIONS: Type.Integer({ default: 800, minimum: 1, description: 'open sockets at most; past it new connections get 503' }),
  MAX_CONNECTIONS_PER_CLIENT: Type.Integer({
    default: 100, minimum: 1, description: 'open sockets per client address (not applied behind TRUST_PROXY: the proxy caps its clients)'
  }),
  MAX_STREAMS_PER_KEY: Type.Integer({
    default: 100, minimum: 1, description: 'open reader event streams (GET /reader_events) per API key, merchant key or address'
  }),
  SHUTDOWN_GRACE_MS: Type.Integer({
    default: 25000, minimum: 1000, description: 'SIGTERM: in-flight requests finish within this (Kubernetes waits 30 s by default)'
  }),
  DATABASE_TIMEOUT_MS: Type.Integer({
    default: 5000, minimum: 100, description: 'a database statement, lock wait or connection attempt fails after this (503 "retry")'
  }),
  WEBHOOK_RETENTION_DAYS: Type.Integer({ default: 30, minimum: 1, description: 'days webhook event ids are kept' }),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map(l => Type.Literal(l)), {
    default: 'info', description: 'pino log level'
  }),
  METRICS_TOKEN: Str('Bearer token of GET /metrics; without it /metrics answers loopback callers only'),
  OTEL_EXPORTER_OTLP_ENDPOINT: Str('OTLP/HTTP base URL (the collector, e.g. http://otel-collector:4318): turns tracing on'),
  OTEL_SERVICE_NAME: Str('service.name of the traces (default stripe-terminal-backend)'),
  DOCS_ENABLED: Type.Optional(Type.Boolean({ description: 'Swagger UI at /docs (default on in development)' }))
})

export type Env = Static<typeof EnvSchema>
