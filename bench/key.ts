/** The API key the benchmark's service requires and its load generator sends. */
export const BENCH_KEY = 'bench-key-0123456789abcdef0123456789'

/** the environment of the service in the benchmark (also run as server.ts for the cold start) */
export const serviceEnv = (base: string): Record<string, string> => ({
  STRIPE_TEST_SECRET_KEY: 'sk_test_bench',
  STRIPE_API_BASE: base,
  STRIPE_MAX_RETRIES: '0',
  STRIPE_PROXY_KEY: 'rk_test_bench',
  API_KEY: BENCH_KEY,
  ALLOWED_ORIGINS: 'https://pos.example.com',
  RATE_LIMIT_MAX: '1000000000',
  // one load generator is one client address with up to 1,000 sockets (production behind a proxy
  // sets TRUST_PROXY, where the per-client cap does not apply)
  MAX_CONNECTIONS: '5000',
  MAX_CONNECTIONS_PER_CLIENT: '5000',
  DATABASE_URL: 'sqlite::memory:',
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
  // the pool size to measure (the default is the service's own)
  ...(process.env.STRIPE_MAX_SOCKETS === undefined ? {} : { STRIPE_MAX_SOCKETS: process.env.STRIPE_MAX_SOCKETS })
})
