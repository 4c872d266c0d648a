// Database servers a fault test starts for itself, so it can stall them (SIGSTOP) without touching
// the machine's shared ones. A signal reaches every process of the server (Postgres's backends
// included), as a frozen machine would.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { freePort } from './helper.js'

export const REDIS_SERVER = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find(p => existsSync(p))
export const POSTGRES_BIN = ['18', '17', '16', '15', '14'].map(v => `/usr/lib/postgresql/${v}/bin`).find(d => existsSync(`${d}/initdb`))

export interface Started {
  port: number
  child: ChildProcess
  /** freeze or thaw every process of the server */
  signal: (signal: 'SIGSTOP' | 'SIGCONT') => void
}

/** resolves once the server prints `text`; rejects if it exits first */
async function waitFor (child: ChildProcess, text: string, what: string): Promise<void> {
  let out = ''
  await new Promise<void>((resolve, reject) => {
    const collect = (d: Buffer): void => {
      out += String(d)
      if (out.includes(text)) resolve()
    }
    child.stdout?.on('data', collect)
    child.stderr?.on('data', collect)
    child.once('exit', () => { reject(new Error(`${what} did not start: ${out.slice(-500)}`)) })
  })
}

/** the process and all its descendants (Postgres's backends start sessions of their own) */
function processTree (pid: number): number[] {
  const children = spawnSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' }).stdout
    .split('\n').map(s => Number(s.trim())).filter(n => n > 0)
  return [pid, ...children.flatMap(processTree)]
}

function group (t: Test, child: ChildProcess): Started['signal'] {
  const signal = (s: NodeJS.Signals): void => {
    for (const pid of processTree(child.pid!)) {
      try { process.kill(pid, s) } catch { /* already gone */ }
    }
  }
  t.teardown(async () => {
    signal('SIGCONT')
    signal('SIGKILL')
    if (child.exitCode === null && child.signalCode === null) await new Promise(resolve => child.once('exit', resolve))
  })
  return signal
}

export async function startRedis (t: Test, port?: number): Promise<Started> {
  const p = port ?? await freePort()
  const child = spawn(REDIS_SERVER!, ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'ignore'],
    detached: true
  })
  const signal = group(t, child)
  await waitFor(child, 'Ready to accept connections', 'redis-server')
  return { port: p, child, signal }
}

/** A throwaway Postgres cluster (initdb, trust auth, no fsync), run as the postgres user when this is root. */
export async function startPostgres (t: Test): Promise<Started> {
  const dir = mkdtempSync(join(tmpdir(), 'pg-fault-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const asRoot = process.getuid?.() === 0
  const run = (argv: string[]): string[] => asRoot ? ['runuser', '-u', 'postgres', '--', ...argv] : argv
  if (asRoot) {
    const { uid, gid } = userIds('postgres')
    chownSync(dir, uid, gid)
  }
  const [cmd, ...args] = run([`${POSTGRES_BIN!}/initdb`, '-D', dir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'])
  const init = spawnSync(cmd!, args, { encoding: 'utf8' })
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`)
  const port = await freePort()
  const [pcmd, ...pargs] = run([`${POSTGRES_BIN!}/postgres`, '-D', dir, '-p', String(port), '-k', dir,
    '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off'])
  const child = spawn(pcmd!, pargs, { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  const signal = group(t, child)
  await waitFor(child, 'ready to accept connections', 'postgres')
  return { port, child, signal }
}

function userIds (name: string): { uid: number, gid: number } {
  const out = spawnSync('id', ['-u', name], { encoding: 'utf8' }).stdout.trim()
  const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' }).stdout.trim()
  return { uid: Number(out), gid: Number(gid) }
}
