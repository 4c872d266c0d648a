import { createHash } from 'node:crypto'
import fp from 'fastify-plugin'
import { sql, type Transaction } from 'kysely'
import type { Database } from '../../lib/migrations.js'

declare module 'fastify' {
  interface FastifyInstance {
    scheduler: {
      /** Runs `job` every `everyMs` (first run after one interval). */
      add: (name: string, everyMs: number, job: Job) => void
      /** Runs a job now: 'skipped' when another replica (or this one) is running it. */
      run: (name: string) => Promise<'ran' | 'skipped'>
    }
  }
}

type Job = (trx: Transaction<Database>) => Promise<void>

const lockId = (name: string): number => createHash('sha256').update(`job:${name}`).digest().readInt32BE(0)

/**
 * A small scheduler for upkeep. Each run is one transaction; on Postgres it first takes a
 * transaction-scoped advisory lock named after the job, so with several replicas only one runs a
 * job at a time and the others skip. Timers stop, and running jobs finish, on close.
 */
export default fp(async function scheduler (fastify) {
  const { db, engine } = fastify.store
  const jobs = new Map<string, Job>()
  const timers: NodeJS.Timeout[] = []
  const running = new Map<string, Promise<'ran' | 'skipped'>>()

  const run = async (name: string): Promise<'ran' | 'skipped'> => {
    const job = jobs.get(name)
    if (job === undefined) throw new Error(`no job named ${name}`)
    if (running.has(name)) return 'skipped'
    const result = db.transaction().execute(async trx => {
      if (engine === 'postgres') {
        const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_xact_lock(${lockId(name)}) as locked`.execute(trx)
        if (rows[0]?.locked !== true) return 'skipped' as const
      }
      await job(trx)
      return 'ran' as const
    }).finally(() => running.delete(name))
    running.set(name, result)
    return await result
  }

  fastify.decorate('scheduler', {
    add (name, everyMs, job) {
      jobs.set(name, job)
      const timer = setInterval(() => {
        run(name).catch(err => { fastify.log.error({ err, job: name }, 'scheduled job failed') })
      }, everyMs)
      timer.unref()
      timers.push(timer)
    },
    run
  })

  fastify.addHook('preClose', async () => {
    for (const t of timers) clearInterval(t)
    await Promise.allSettled(running.values())
  })

  const HOUR = 3600_000
  const days = fastify.config.WEBHOOK_RETENTION_DAYS
  fastify.scheduler.add('prune-webhook-events', HOUR, async trx => {
    const before = new Date(Date.now() - days * 24 * HOUR).toISOString()
    const res = await trx.deleteFrom('webhook_events').where('received_at', '<', before).executeTakeFirst()
    fastify.log.info({ deleted: Number(res.numDeletedRows) }, 'pruned webhook event ids')
  })
  fastify.scheduler.add('prune-nonces', HOUR, async trx => {
    const res = await trx.deleteFrom('nonces').where('expires_at', '<', new Date().toISOString()).executeTakeFirst()
    fastify.log.info({ deleted: Number(res.numDeletedRows) }, 'pruned used nonces')
  })
}, { name: 'scheduler', dependencies: ['store', 'config'], fastify: '5.x' })
