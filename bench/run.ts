/**
 * `npm run bench`: autocannon against this service, a bare Fastify + stripe-node baseline and the
 * same on bare Express, side by side in one run, each in its own process, all calling the same
 * fake Stripe, which answers at once and then after 300 ms (Stripe's usual latency); then the peak
 * RSS of each and the cold start (spawn to first 200). Prints Markdown tables.
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
/** Stripe's latency in each pass, ms */
const LATENCIES = list(process.env.BENCH_LATENCIES ?? '0,300').map(Number)
/** connection counts: at 300 ms, 200 is where a 128-socket pool used to queue */
const connectionsAt = (latency: number): number[] =>
  list(process.env.BENCH_CONNECTIONS ?? (latency === 0 ? '10,100,1000' : '10,200,1000')).map(Number)
const LEVELS = list(process.env.BENCH_LOG_LEVELS ?? 'info')
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6)
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

type Role = 'bare' | 'express' | 'service'

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
  /** measured at every latency, connection count and log level (else once: no latency, the first count, the last level) */
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
  // a destination key's acting call reads the object once to establish it is the merchant's; an intent's owner never
  // changes, so later calls on it (the till's capture after its create) skip the read (routes/terminal/ownership.ts)
  {
    name: 'POST /capture_payment_intent (merchant key, destination)',
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

/** A process's peak resident set so far (VmHWM), in MB; Linux only. */
function peakRss (pid: number | undefined): number | undefined {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m === null ? undefined : Number(m[1]) / 1024
}

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
const x = (ratio: number): string => Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : '?'

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

const rows: string[] = []
const memory: string[] = []
const starts: string[] = []
/** bare Express beside bare Fastify, unless the baseline is another build of the service */
const ROLES: Role[] = BASELINE === undefined && !COMPARE_METRICS && process.env.BENCH_EXPRESS !== 'off'
  ? ['bare', 'express', 'service']
  : ['bare', 'service']
for (const latency of LATENCIES) {
  const fake = await start('fake', { BENCH_UPSTREAM_MS: String(latency) })
  const base = { STRIPE_API_BASE: `http://127.0.0.1:${fake.port}` }
  try {
    for (const level of LEVELS) {
      const env = { ...base, LOG_LEVEL: level }
      const servers: Partial<Record<Role, Started>> = {}
      for (const role of ROLES) servers[role] = role === 'bare' ? await startBaseline(env) : await start(role, env)
      const connections = connectionsAt(latency)
      for (const count of connections) {
        const once = latency === LATENCIES[0] && count === connections[0] && level === LEVELS.at(-1)
        for (const s of scenarios.filter(s => s.name.includes(ONLY) && (s.matrix === true || once))) {
          // the merchant scenarios need the service's own keys; bare servers take no key
          const keyOf = (role: Role): string | undefined =>
            s.merchant === undefined ? undefined : servers[role]?.merchantKeys?.[s.merchant]
          for (const role of ROLES) {
            await autocannon({ ...options(servers[role]!.port, s, count, keyOf(role)), duration: 3 }) // warm-up
          }
          const runs: Record<Role, Result[]> = { bare: [], express: [], service: [] }
          for (let round = 0; round < ROUNDS; round++) {
            // ABC then CBA, so a drift in machine speed favours no one
            for (const role of round % 2 === 0 ? ROLES : [...ROLES].reverse()) {
              const r = await measure(servers[role]!.port, s, count, servers[role]!.child.pid, keyOf(role))
              const cpu = r.cpuPerRequest?.toFixed(0) ?? '?'
              console.error(`${s.name} ${latency}ms ${count}c ${level} round ${round + 1} ${role}: ${r.rps.toFixed(0)} req/s, ` +
                `p99 ${r.p99} ms, ${cpu} µs/req`)
              runs[role].push(r)
            }
          }
          /** per round: a over b, so each ratio compares slices measured seconds apart */
          const ratios = (a: Role, b: Role, f: (r: Result) => number): number[] =>
            runs[a].map((r, i) => f(r) / f(runs[b][i]!))
          const med = (role: Role, f: (r: Result) => number): number => median(runs[role].map(f))
          const cpu = (r: Result): number => r.cpuPerRequest ?? NaN
          const errors = ROLES.reduce((a, role) => a + runs[role].reduce((b, r) => b + r.errors, 0), 0)
          const express = ROLES.includes('express')
          rows.push(
            `| ${s.name} | ${latency} | ${count} | ${level} | ${med('bare', r => r.rps).toFixed(0)} | ${med('bare', r => r.p99)} ` +
              `| ${range(ratios('service', 'bare', r => r.rps))} ` +
              `| ${express ? pct(median(ratios('express', 'bare', r => r.rps))) : '–'} ` +
              `| ${express ? pct(median(ratios('service', 'express', r => r.rps))) : '–'} ` +
              `| ${x(median(ratios('service', 'bare', r => r.p99)))} ` +
              `| ${med('bare', cpu).toFixed(0)} | ${median(runs.service.map((r, i) => cpu(r) - cpu(runs.bare[i]!))).toFixed(0)} ` +
              `| ${express ? median(runs.express.map((r, i) => cpu(r) - cpu(runs.bare[i]!))).toFixed(0) : '–'} | ${errors} |`
          )
        }
      }
      // the peak each reached over the whole pass (every connection count), read before they stop
      const peaks = Object.fromEntries(ROLES.map(role => [role, peakRss(servers[role]!.child.pid) ?? NaN])) as Record<Role, number>
      const expressPeak = ROLES.includes('express') ? peaks.express.toFixed(0) : '–'
      memory.push(`| ${latency} | ${level} | ${Math.max(...connections)} | ${peaks.bare.toFixed(0)} ` +
        `| ${expressPeak} | ${peaks.service.toFixed(0)} | ${x(peaks.service / peaks.bare)} |`)
      for (const role of ROLES) servers[role]!.child.kill('SIGTERM')
    }
  } finally {
    fake.child.kill('SIGTERM')
  }
}
// against a Stripe that answers at once, so its latency does not dilute the difference
if (STARTS > 0) await coldStarts(await start('fake'))

/**
 * Cold start: the service as production starts it (`node dist/server.js`, the bundle `npm run
 * build` makes; `npm run bench` builds it first), the bare server as its own script; alternating,
 * a free port each time.
 */
async function coldStarts (fake: Started): Promise<void> {
  const fakeUrl = `http://127.0.0.1:${fake.port}`
  try {
    const times: Record<'bare' | 'service', number[]> = { bare: [], service: [] }
    for (let i = 0; i < STARTS; i++) {
      for (const role of i % 2 === 0 ? (['bare', 'service'] as const) : (['service', 'bare'] as const)) {
        const port = await freePort()
        const ms = role === 'bare'
          ? await coldStart([SERVERS, 'bare'], { STRIPE_API_BASE: fakeUrl, BENCH_PORT: String(port) }, port)
          : await coldStart([new URL('../../dist/server.js', import.meta.url).pathname],
            { ...serviceEnv(fakeUrl), LOG_LEVEL: 'info', HOST: '127.0.0.1', PORT: String(port) }, port)
        console.error(`cold start ${i + 1} ${role}: ${ms.toFixed(0)} ms`)
        times[role].push(ms)
      }
    }
    const ratios = times.service.map((ms, i) => ms / times.bare[i]!)
    starts.push(`| ${median(times.bare).toFixed(0)} | ${median(times.service).toFixed(0)} | ${x(median(ratios))} ` +
      `(${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}) |`)
  } finally {
    fake.child.kill('SIGTERM')
  }
}

console.log(
  `\nmedians of ${ROUNDS} rounds of ${DURATION}s slices (ABC/CBA order, after a 3s warm-up each), node ${process.version}\n`
)
if (COMPARE_METRICS) console.log('"bare" below is the service with its metrics not recorded (BENCH_COMPARE=metrics)\n')
if (BASELINE !== undefined) console.log(`"bare" below is the service of ${BASELINE} (BENCH_BASELINE)\n`)
console.log(
  '| scenario | upstream ms | connections | LOG_LEVEL | bare Fastify req/s | bare p99 ms ' +
    '| service / bare req/s: median of the rounds (range) | Express / bare req/s | service / Express req/s ' +
    '| service p99 / bare p99 | bare CPU µs/req | service CPU µs/req added | Express CPU µs/req added | errors |'
)
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|')
for (const r of rows) console.log(r)
console.log('\npeak RSS (VmHWM) of each server over a whole pass, MB\n')
console.log('| upstream ms | LOG_LEVEL | connections at most | bare Fastify | bare Express | service | service / bare |')
console.log('|---|---|---|---|---|---|---|')
for (const r of memory) console.log(r)
if (starts.length > 0) {
  console.log(`\ncold start, spawn to the first 200 of POST /connection_token, median of ${STARTS}\n`)
  console.log('| bare ms | service ms | service / bare (range) |')
  console.log('|---|---|---|')
  for (const r of starts) console.log(r)
}
