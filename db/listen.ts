import { createRequire } from 'node:module'
import { READER_CHANNEL } from './repos/reader-actions.js'

const require = createRequire(import.meta.url)

export interface Listener { close: () => Promise<void> }

/**
 * Listens on Postgres for the reader changes any replica records (db/repos/reader-actions.ts
 * `append`), on a connection of its own (LISTEN holds it), reconnecting after a loss. `heard` gets
 * each changed reader's id; `lost` is told once per loss.
 */
export function listenForReaders (url: string, heard: (readerId: string) => void, lost: (err: Error) => void): Listener {
  // cast: createRequire returns any; the pg driver is loaded only when configured
  const pg = require('pg') as typeof import('pg')
  let client: import('pg').Client | undefined
  let closed = false
  let timer: NodeJS.Timeout | undefined
  const connect = (): void => {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 })
    client = c
    let failed = false
    const retry = (err: Error): void => {
      if (failed || closed) return
      failed = true
      lost(err)
      c.end().catch(() => {})
      timer = setTimeout(connect, 1_000)
      timer.unref()
    }
    c.on('notification', n => { if (n.channel === READER_CHANNEL && n.payload !== undefined) heard(n.payload) })
    c.on('error', retry)
    c.on('end', () => { retry(new Error('connection ended')) })
    c.connect().then(async () => { await c.query(`LISTEN ${READER_CHANNEL}`) }).catch(retry)
  }
  connect()
  return {
    async close () {
      closed = true
      clearTimeout(timer)
      // a stalled server never answers the goodbye: the close does not wait for it beyond a second
      let waited: NodeJS.Timeout | undefined
      const giveUp = new Promise<void>(resolve => { waited = setTimeout(resolve, 1_000) })
      await Promise.race([client?.end().catch(() => {}), giveUp])
      clearTimeout(waited)
    }
  }
}
