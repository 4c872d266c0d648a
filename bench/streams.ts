/**
 * `npm run bench:streams`: what open reader event streams (GET /reader_events) cost one process.
 * Starts the service as production runs it (`node dist/server.js`, SQLite, LOG_LEVEL=info), opens
 * BENCH_STREAMS (1,000) streams of one reader, and reports the RSS each adds and the CPU the
 * process spends to fan one recorded change out to all of them (the webhook that records it
 * included), over BENCH_FANOUTS (5) changes. CPU is the process's own (/proc/<pid>/stat).
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import { createServer, type AddressInfo } from 'node:net'
import Stripe from 'stripe'
import { BENCH_KEY, serviceEnv } from './key.js'

const STREAMS = Number(process.env.BENCH_STREAMS ?? 1000)
const FANOUTS = Number(process.env.BENCH_FANOUTS ?? 5)
const WHSEC = 'whsec_bench_streams'
const TICK_MS = 10 // USER_HZ on Linux

const freePort = async (): Promise<number> => await new Promise(resolve => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address() as AddressInfo
    s.close(() => { resolve(port) })
  })
})
const rssKiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0)
const cpuMs = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

async function main (): Promise<void> {
  const port = await freePort()
  const env = {
    ...serviceEnv('http://127.0.0.1:9'),
    PORT: String(port),
    HOST: '127.0.0.1',
    STRIPE_WEBHOOK_SECRET: WHSEC,
    MAX_STREAMS_PER_KEY: String(STREAMS + 10),
    MAX_CONNECTIONS: String(STREAMS + 100),
    MAX_CONNECTIONS_PER_CLIENT: String(STREAMS + 100)
  }
  const child = spawn(process.execPath, ['dist/server.js'], {
    env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit']
  })
  const pid = child.pid!
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity })
  const get = async (path: string): Promise<number> => await new Promise(resolve => {
    http.get({ host: '127.0.0.1', port, path, agent }, res => {
      res.resume()
      resolve(res.statusCode ?? 0)
    }).on('error', () => { resolve(0) })
  })
  for (let i = 0; i < 200 && await get('/health') !== 200; i++) await new Promise(resolve => setTimeout(resolve, 50))
  await new Promise(resolve => setTimeout(resolve, 500))
  const before = rssKiB(pid)

  let received = 0
  let waiting: (() => void) | undefined
  const streams: http.ClientRequest[] = []
  await Promise.all(Array.from({ length: STREAMS }, async () => {
    await new Promise<void>((resolve, reject) => {
      const options = { host: '127.0.0.1', port, path: '/reader_events?reader_id=tmr_bench', agent, headers: { 'x-api-key': BENCH_KEY } }
      const req = http.get(options, res => {
        if (res.statusCode !== 200) reject(new Error(`stream answered ${res.statusCode ?? 0}`))
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          if (chunk.startsWith(': open')) resolve()
          if (chunk.includes('event: action')) {
            received++
            if (received % STREAMS === 0) waiting?.()
          }
        })
      })
      req.on('error', reject)
      streams.push(req)
    })
  }))
  await new Promise(resolve => setTimeout(resolve, 500))
  const open = rssKiB(pid)

  const cpu: number[] = []
  for (let i = 0; i < FANOUTS; i++) {
    const payload = JSON.stringify({
      id: `evt_bench_${i}`,
      object: 'event',
      type: 'terminal.reader.action_updated',
      livemode: false,
      created: 1_700_000_000 + i,
      data: {
        object: {
          id: 'tmr_bench', object: 'terminal.reader', metadata: {}, action: { type: 'process_payment_intent', status: 'in_progress' }
        }
      }
    })
    const signature = Stripe.webhooks.generateTestHeaderString({ payload, secret: WHSEC })
    const all = new Promise<void>(resolve => { waiting = resolve })
    const start = cpuMs(pid)
    await new Promise<void>(resolve => {
      const headers = { 'content-type': 'application/json', 'stripe-signature': signature }
      const req = http.request({ host: '127.0.0.1', port, path: '/webhooks', method: 'POST', agent, headers }, res => {
        res.resume()
        res.on('end', resolve)
      })
      req.end(payload)
    })
    await all
    cpu.push(cpuMs(pid) - start)
  }
  for (const req of streams) req.destroy()
  child.kill('SIGTERM')

  console.log(`| streams | RSS before | RSS with them open | per stream | CPU to fan one change out (median of ${FANOUTS}) | per stream |`)
  console.log('|---|---|---|---|---|---|')
  const perStream = ((open - before) / STREAMS).toFixed(1)
  const fan = median(cpu)
  const mb = (kib: number): string => `${(kib / 1024).toFixed(0)} MB`
  const each = `${(fan * 1000 / STREAMS).toFixed(0)} µs`
  console.log(`| ${STREAMS} | ${mb(before)} | ${mb(open)} | ${perStream} KiB | ${fan} ms (${cpu.join(', ')}) | ${each} |`)
}

main().catch(err => {
  console.error(err)
  process.exit(1)
})
