/**
 * `npm run bench`: autocannon against this service and a bare Fastify + stripe-node baseline,
 * side by side in one run, each in its own process, both calling the same fake Stripe; then the
 * cold start of each (spawn to first 200). Prints Markdown tables.
 *
 * This machine's speed drifts by a third within a minute (shared cores), so one long run of each
 * says little. Both servers stay up, warmed, and take turns in short slices (bare, service,
 * service, bare, …); each round's ratio compares two slices measured seconds apart, and the table
 * keeps the median of those ratios.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { availableParallelism } from 'node:os'
import autocannon from 'autocannon'
import { request } from 'undici'
import { BENCH_KEY, serviceEnv } from './key.js'

const list = (v: string): string[] => v.split(',').map(x => x.trim()).filter(x => x !== '')
const DURATION = Number(process.env.BENCH_SECONDS ?? 3)
const CONNECTIONS = list(process.env.BENCH_CONNECTIONS ?? '10,100').map(Number)
const LEVELS = list(process.env.BENCH_LOG_LEVELS ?? 'warn,info')
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8)
/** cold starts of each server (alternating); 0 skips the measure */
const STARTS = Number(process.env.BENCH_STARTS ?? 5)
/** run only the scenarios whose name contains this text */
const ONLY = process.env.BENCH_ONLY ?? ''
const COMPARE_METRICS = process.env.BENCH_COMPARE === 'metrics'
/** another build's compiled `bench/servers.js`: its service is the baseline (what a change was worth) */
const BASELINE = process.env.BENCH_BASELINE
const SERVERS = new URL('./servers.js', import.meta.url).pathname
// The servers measured run on the last core, the load generator (this process) and the fake Stripe
// on the others, so a server's req/s is what one core gives it, not what it wins from the load
// generator. BENCH_PIN=off leaves placement to the OS (also where taskset or a second core is missing).
const CORES = availableParallelism()
const PIN = process.env.BENCH_PIN !== 'off' && CORES >= 2 && spawnSync('taskset', ['-V']).status === 0
if (PIN) spawnSync('taskset', ['-a', '-cp', `0-${CORES - 2}`, String(process.pid)])

interface Started { port: number, child: ChildProcess, merchantKeys?: { direct: string, destination: string } }
/** node with these arguments: on the measured core, the others, or any (children inherit this process's pinning) */
function node (args: string[], cores: 'measured' | 'others' | 'any'): [string, string[]] {
  if (!PIN) return [process.execPath, args]
  const list = cores === 'measured' ? String(CORES - 1) : cores === 'others' ? `0-${CORES - 2}` : `0-${CORES - 1}`
  return ['taskset', ['-c', list, process.execPath, ...args]]
}

async function start (role: string, env: Record<string, string> = {}, script = SERVERS): Promise<Started> {
  // the compiled build, as in production (no TypeScript loader, no source-mapped stacks)
  const child = spawn(...node([script, role], role === 'fake' ? 'others' : 'measured'), {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const [port, direct, destination] = await new Promise<[number, string?, string?]>((resolve, reject) => {
    let out = ''
    const ready = (d: Buffer): void => {
      out += String(d)
      const m = /READY (\d+)(?: (\S+) (\S+))?\n/.exec(out)
      if (m === null) return
      // from here on the service's log lines are read and dropped, as a log collector would
      child.stdout!.off('data', ready).on('data', () => {})
      resolve([Number(m[1]), m[2], m[3]])
    }
    child.stdout!.on('data', ready)
    child.on('exit', code => reject(new Error(`${role} exited ${code}`)))
  })
  return { port, child, ...(direct === undefined || destination === undefined ? {} : { merchantKeys: { direct, destination } }) }
}

interface Scenario {
  name: string
  method: 'GET' | 'POST'
  path: string
  body?: string
  /** the service is called with one of its merchant keys instead of the platform's API key */
  merchant?: 'direct' | 'destination'
  /** measured at every connection count and log level (else once: the first count, the last level) */
  matrix?: boolean
}
const scenarios: Scenario[] = [
  { name: 'POST /connection_token', method: 'POST', path: '/connection_token', matrix: true },
  {
    name: 'POST /create_payment_intent (form body)',
    method: 'POST',
    path: '/create_payment_intent',
    body: 'amount=1000&currency=usd&payment_method_types[]=card_present',
    matrix: true
  },
  { name: 'POST /connection_token (merchant key, direct)', method: 'POST', path: '/connection_token', merchant: 'direct' },
  // a destination key's acting call first reads the object to establish it is the merchant's (one more Stripe call)
  {
    name: 'POST /capture_payment_intent (merchant key, destination: ownership read)',
    method: 'POST',
    path: '/capture_payment_intent',
    body: 'payment_intent_id=pi_bench',
    merchant: 'destination'
  },
  {
    name: 'POST /capture_payment_intent (platform key)',
    method: 'POST',
    path: '/capture_payment_intent',
    body: 'payment_intent_id=pi_bench'
  },
  { name: 'GET /v1/apis/http/stripe/v1/customers (proxied)', method: 'GET', path: '/v1/apis/http/stripe/v1/customers?limit=3' }
]
const HEADERS = { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://pos.example.com' }

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

function options (port: number, s: Scenario, connections: number, key = BENCH_KEY): autocannon.Options {
  return {
    url: `http://127.0.0.1:${port}${s.path}`,
    method: s.method,
    connections,
    headers: { ...HEADERS, 'x-api-key': key },
    ...(s.body === undefined ? {} : { body: s.body })
  }
}

async function measure (port: number, s: Scenario, connections: number, pid?: number, key?: string): Promise<Result> {
  const before = cpuMicros(pid)
  const r = await autocannon({ ...options(port, s, connections, key), duration: DURATION })
  const after = cpuMicros(pid)
  // CPU per request is steadier than req/s when the load generator shares the machine
  const cpuPerRequest = before === undefined || after === undefined ? undefined : (after - before) / r.requests.total
  return { rps: r.requests.average, p99: r.latency.p99, errors: r.errors + r.non2xx, cpuPerRequest }
}

const pct = (ratio: number): string => `${(ratio * 100).toFixed(0)}%`
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const range = (xs: number[]): string => `${pct(median(xs))} (${pct(Math.min(...xs))}–${pct(Math.max(...xs))})`

/** the baseline the service is compared with: the bare server, or the service of BENCH_BASELINE / BENCH_COMPARE */
function startBaseline (env: Record<string, string>): Promise<Started> {
  if (COMPARE_METRICS) return start('service', { ...env, BENCH_METRICS: 'off' })
  if (BASELINE !== undefined) return start('service', env, BASELINE)
  return start('bare', env)
}

/** a port nothing listens on now (a random one collided with the fake Stripe's sockets) */
async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise(resolve => server.close(resolve))
  return port
}

/** Spawn to the first 200 of `POST /connection_token`, in ms. */
async function coldStart (args: string[], env: Record<string, string>, port: number): Promise<number> {
  const started = performance.now()
  // on every core, as a deployment starts it
  const child = spawn(...node(args, 'any'), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
  child.stdout!.on('data', () => {})
  try {
    for (;;) {
      try {
        const headers = { ...HEADERS, 'x-api-key': BENCH_KEY }
        const res = await request(`http://127.0.0.1:${port}/connection_token`, { method: 'POST', headers })
        await res.body.dump()
        if (res.statusCode === 200) return performance.now() - started
      } catch {}
      if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited ${child.exitCode}`)
      await new Promise(resolve => setTimeout(resolve, 5))
    }
  } finally {
    child.kill('SIGTERM')
    await new Promise(resolve => child.once('exit', resolve))
  }
}

const fake = await start('fake')
const base = { STRIPE_API_BASE: `http://127.0.0.1:${fake.port}` }
const rows: string[] = []
const starts: string[] = []
try {
  for (const level of LEVELS) {
    const env = { ...base, LOG_LEVEL: level }
    const servers = { bare: await startBaseline(env), service: await start('service', env) }
    for (const connections of CONNECTIONS) {
      const once = connections === CONNECTIONS[0] && level === LEVELS.at(-1)
      for (const s of scenarios.filter(s => s.name.includes(ONLY) && (s.matrix === true || once))) {
        const keyOf = (server: Started): string | undefined => s.merchant === undefined ? undefined : server.merchantKeys?.[s.merchant]
        for (const server of Object.values(servers)) {
          await autocannon({ ...options(server.port, s, connections, keyOf(server)), duration: 3 }) // warm-up
        }
        const runs: Record<'bare' | 'service', Result[]> = { bare: [], service: [] }
        const ratios: number[] = []
        /** CPU µs/req the service spends over its baseline, per round */
        const added: number[] = []
        for (let round = 0; round < ROUNDS; round++) {
          // ABBA order, so a drift in machine speed does not favour either side
          for (const role of round % 2 === 0 ? (['bare', 'service'] as const) : (['service', 'bare'] as const)) {
            const r = await measure(servers[role].port, s, connections, servers[role].child.pid, keyOf(servers[role]))
            const cpu = r.cpuPerRequest?.toFixed(0) ?? '?'
            console.error(`${s.name} ${connections}c ${level} round ${round + 1} ${role}: ${r.rps.toFixed(0)} req/s, ${cpu} µs/req`)
            runs[role].push(r)
          }
          ratios.push(runs.service[round]!.rps / runs.bare[round]!.rps)
          added.push((runs.service[round]!.cpuPerRequest ?? NaN) - (runs.bare[round]!.cpuPerRequest ?? NaN))
        }
        const summary = (rs: Result[]) => ({
          rps: median(rs.map(r => r.rps)),
          p99: median(rs.map(r => r.p99)),
          errors: rs.reduce((a, r) => a + r.errors, 0),
          cpu: median(rs.map(r => r.cpuPerRequest ?? NaN))
        })
        const bare = summary(runs.bare)
        const service = summary(runs.service)
        rows.push(
          `| ${s.name} | ${connections} | ${level} | ${bare.rps.toFixed(0)} | ${bare.p99} | ${bare.cpu.toFixed(0)} ` +
            `| ${service.rps.toFixed(0)} | ${service.p99} | ${service.cpu.toFixed(0)} ` +
            `| ${range(ratios)} | ${median(added).toFixed(1)} | ${bare.errors + service.errors} |`
        )
      }
    }
    for (const server of Object.values(servers)) server.child.kill('SIGTERM')
  }

  // cold start: the service as production starts it (`node dist/server.js`, the bundle `npm run
  // build` makes; `npm run bench` builds it first), the bare server as its own script; alternating,
  // a free port each time
  const times: Record<'bare' | 'service', number[]> = { bare: [], service: [] }
  for (let i = 0; i < STARTS; i++) {
    for (const role of i % 2 === 0 ? (['bare', 'service'] as const) : (['service', 'bare'] as const)) {
      const port = await freePort()
      const ms = role === 'bare'
        ? await coldStart([SERVERS, 'bare'], { ...base, BENCH_PORT: String(port) }, port)
        : await coldStart([new URL('../../dist/server.js', import.meta.url).pathname],
          { ...serviceEnv(base.STRIPE_API_BASE), LOG_LEVEL: 'info', HOST: '127.0.0.1', PORT: String(port) }, port)
      console.error(`cold start ${i + 1} ${role}: ${ms.toFixed(0)} ms`)
      times[role].push(ms)
    }
  }
  if (STARTS > 0) {
    const ratios = times.service.map((ms, i) => ms / times.bare[i]!)
    starts.push(`| ${median(times.bare).toFixed(0)} | ${median(times.service).toFixed(0)} | ${(median(ratios)).toFixed(2)}× ` +
      `(${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}) |`)
  }
} finally {
  fake.child.kill('SIGTERM')
}
console.log(
  `\nmedians of ${ROUNDS} rounds of ${DURATION}s slices (ABBA order, after a 3s warm-up each), node ${process.version}\n`
)
if (COMPARE_METRICS) console.log('"bare" below is the service with its metrics not recorded (BENCH_COMPARE=metrics)\n')
if (BASELINE !== undefined) console.log(`"bare" below is the service of ${BASELINE} (BENCH_BASELINE)\n`)
console.log(
  '| scenario | connections | LOG_LEVEL | bare req/s | bare p99 ms | bare CPU µs/req | service req/s | service p99 ms ' +
    '| service CPU µs/req | service / bare req/s: median of the rounds (range) | CPU µs/req added: median | errors |'
)
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|')
for (const r of rows) console.log(r)
if (starts.length > 0) {
  console.log(`\ncold start, spawn to the first 200 of POST /connection_token, median of ${STARTS}\n`)
  console.log('| bare ms | service ms | service / bare (range) |')
  console.log('|---|---|---|')
  for (const r of starts) console.log(r)
}
