import { createHash } from 'node:crypto'
import fp from 'fastify-plugin'
import type { Repos } from '../../db/index.js'

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

type Job = (repos: Repos) => Promise<void>

const lockId = (name: string): number => createHash('sha256').update(`job:${name}`).digest().readInt32BE(0)

/**
 * A small scheduler for upkeep. Each run is one transaction; on Postgres it first takes a
 * transaction-scoped advisory lock named after the job, so with several replicas only one runs a
 * job at a time and the others skip. Timers stop, and running jobs finish, on close.
 */
export default fp(async function scheduler (fastify) {
  const jobs = new Map<string, Job>()
  const timers: NodeJS.Timeout[] = []
  const running = new Map<string, Promise<'ran' | 'skipped'>>()

  const run = async (name: string): Promise<'ran' | 'skipped'> => {
    const job = jobs.get(name)
    if (job === undefined) throw new Error(`no job named ${name}`)
    if (running.has(name)) return 'skipped'
    const result = fastify.store.exclusively(lockId(name), job).finally(() => running.delete(name))
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
  fastify.scheduler.add('prune-webhook-events', HOUR, async repos => {
    const before = new Date(Date.now() - days * 24 * HOUR)
    const deleted = await repos.webhookEvents.prune(before)
    // the reader streams' log is kept as long: a till resuming after longer starts afresh
    const changes = await repos.readerActions.pruneEvents(before)
    fastify.log.info({ deleted, reader_changes: changes }, 'pruned webhook event ids')
  })
  fastify.scheduler.add('prune-nonces', HOUR, async repos => {
    fastify.log.info({ deleted: await repos.nonces.prune(new Date()) }, 'pruned used nonces')
  })
  fastify.scheduler.add('prune-owned-objects', HOUR, async repos => {
    fastify.log.info({ deleted: await repos.ownedObjects.prune(new Date(fastify.clock.now())) }, 'pruned what merchants were found to own')
  })
}, { name: 'scheduler', dependencies: ['store', 'config'], fastify: '5.x' })
