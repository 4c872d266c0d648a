/**
 * `npm run bench`: autocannon against this service and a bare Fastify + stripe-node baseline,
 * side by side in one run, each in its own process, both calling the same fake Stripe.
 * Prints a Markdown table of requests/s, p99 latency and the service/bare ratio.
 *
 * This machine's speed drifts by a third within a minute (shared cores), so one long run of each
 * says little. Both servers stay up, warmed, and take turns in short slices (bare, service,
 * service, bare, …); each round's ratio compares two slices measured seconds apart, and the table
 * keeps the median of those ratios.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import autocannon from 'autocannon'
import { BENCH_KEY } from './key.js'

const DURATION = Number(process.env.BENCH_SECONDS ?? 3)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10)
/** run only the scenarios whose name contains this text */
const ONLY = process.env.BENCH_ONLY ?? ''
const COMPARE_METRICS = process.env.BENCH_COMPARE === 'metrics'

interface Started { port: number, child: ChildProcess, merchantKey?: string }
async function start (role: string, env: Record<string, string> = {}): Promise<Started> {
  // the compiled build, as in production (no TypeScript loader, no source-mapped stacks)
  const child = spawn(process.execPath, [new URL('./servers.js', import.meta.url).pathname, role], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const [port, merchantKey] = await new Promise<[number, string | undefined]>((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', d => {
      out += String(d)
      const m = /READY (\d+)(?: (\S+))?\n/.exec(out)
      if (m) resolve([Number(m[1]), m[2]])
    })
    child.on('exit', code => reject(new Error(`${role} exited ${code}`)))
  })
  return { port, child, ...(merchantKey === undefined ? {} : { merchantKey }) }
}

interface Scenario {
  name: string
  method: 'GET' | 'POST'
  path: string
  body?: string
  /** the service is called with its merchant key instead of the platform's API key */
  merchant?: boolean
}
const scenarios: Scenario[] = [
  { name: 'POST /connection_token', method: 'POST', path: '/connection_token' },
  { name: 'POST /connection_token (merchant key, direct)', method: 'POST', path: '/connection_token', merchant: true },
  {
    name: 'POST /create_payment_intent (form body)',
    method: 'POST',
    path: '/create_payment_intent',
    body: 'amount=1000&currency=usd&payment_method_types[]=card_present'
  },
  { name: 'GET /v1/apis/http/stripe/v1/customers (proxied)', method: 'GET', path: '/v1/apis/http/stripe/v1/customers?limit=3' }
]

/** CPU time (user + system) a process has used, in µs; Linux only (undefined elsewhere). */
function cpuMicros (pid: number | undefined): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10_000 // clock ticks of 10 ms
  } catch {
    return undefined
  }
}

interface Result {
  rps: number
  p99: number
  errors: number
  cpuPerRequest?: number
}

function options (port: number, s: Scenario, key = BENCH_KEY): autocannon.Options {
  return {
    url: `http://127.0.0.1:${port}${s.path}`,
    method: s.method,
    connections: CONNECTIONS,
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-api-key': key, origin: 'https://pos.example.com' },
    ...(s.body === undefined ? {} : { body: s.body })
  }
}

async function measure (port: number, s: Scenario, pid?: number, key?: string): Promise<Result> {
  const before = cpuMicros(pid)
  const r = await autocannon({ ...options(port, s, key), duration: DURATION })
  const after = cpuMicros(pid)
  // CPU per request is steadier than req/s when the load generator shares the machine
  const cpuPerRequest = before === undefined || after === undefined ? undefined : (after - before) / r.requests.total
  return { rps: r.requests.average, p99: r.latency.p99, errors: r.errors + r.non2xx, cpuPerRequest }
}

const fake = await start('fake')
const base = { STRIPE_API_BASE: `http://127.0.0.1:${fake.port}` }
const rows: string[] = []
try {
  for (const s of scenarios.filter(s => s.name.includes(ONLY))) {
    // BENCH_COMPARE=metrics: the baseline is the service itself with its metrics not recorded
    const baseline = COMPARE_METRICS ? start('service', { ...base, BENCH_METRICS: 'off' }) : start('bare', base)
    const servers = { bare: await baseline, service: await start('service', base) }
    const keyOf = (server: { merchantKey?: string }): string | undefined => s.merchant === true ? server.merchantKey : undefined
    for (const server of Object.values(servers)) await autocannon({ ...options(server.port, s, keyOf(server)), duration: 3 }) // warm-up
    const runs: Record<'bare' | 'service', Result[]> = { bare: [], service: [] }
    const ratios: number[] = []
    /** CPU µs/req the service spends over its baseline, per round */
    const added: number[] = []
    for (let round = 0; round < ROUNDS; round++) {
      // ABBA order, so a drift in machine speed does not favour either side
      for (const role of round % 2 === 0 ? (['bare', 'service'] as const) : (['service', 'bare'] as const)) {
        const r = await measure(servers[role].port, s, servers[role].child.pid, keyOf(servers[role]))
        console.error(`${s.name} round ${round + 1} ${role}: ${r.rps.toFixed(0)} req/s, ${r.cpuPerRequest?.toFixed(0) ?? '?'} µs/req`)
        runs[role].push(r)
      }
      ratios.push(runs.service[round]!.rps / runs.bare[round]!.rps)
      added.push((runs.service[round]!.cpuPerRequest ?? NaN) - (runs.bare[round]!.cpuPerRequest ?? NaN))
    }
    for (const server of Object.values(servers)) server.child.kill('SIGTERM')
    const pct = (ratio: number): string => `${(ratio * 100).toFixed(0)}%`
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
    const summary = (rs: Result[]) => ({
      rps: median(rs.map(r => r.rps)),
      p99: median(rs.map(r => r.p99)),
      errors: rs.reduce((a, r) => a + r.errors, 0),
      cpu: median(rs.map(r => r.cpuPerRequest ?? NaN))
    })
    const bare = summary(runs.bare)
    const service = summary(runs.service)
    rows.push(
      `| ${s.name} | ${bare.rps.toFixed(0)} | ${bare.p99} | ${bare.cpu.toFixed(0)} ` +
        `| ${service.rps.toFixed(0)} | ${service.p99} | ${service.cpu.toFixed(0)} ` +
        `| ${pct(median(ratios))} (${pct(Math.min(...ratios))}–${pct(Math.max(...ratios))}) ` +
        `| ${median(added).toFixed(1)} | ${bare.errors + service.errors} |`
    )
  }
} finally {
  fake.child.kill('SIGTERM')
}
console.log(
  `\nmedians of ${ROUNDS} rounds of ${DURATION}s slices (ABBA order, after a 3s warm-up each), ` +
    `${CONNECTIONS} connections, node ${process.version}\n`
)
if (COMPARE_METRICS) console.log('"bare" below is the service with its metrics not recorded (BENCH_COMPARE=metrics)\n')
console.log(
  '| scenario | bare req/s | bare p99 ms | bare CPU µs/req | service req/s | service p99 ms | service CPU µs/req ' +
    '| service / bare req/s: median of the rounds (range) | CPU µs/req added: median of the rounds | errors |'
)
console.log('|---|---|---|---|---|---|---|---|---|---|')
for (const r of rows) console.log(r)
