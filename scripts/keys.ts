/**
 * `npm run keys -- create|list|revoke …`: merchant keys from a shell, on the same store as /admin
 * (DATABASE_URL). Prints JSON; the key itself only on create. Exit 1 on a usage error.
 *   create --account acct_… --label "Till 1" [--location tml_…] [--destination [--platform-pays-refunds]]
 *          [--fee-amount N | --fee-percent P]
 *   list [--account acct_…]
 *   revoke mkey_…
 */
import { parseArgs } from 'node:util'
import { loadConfig, readEnv } from '../lib/config.js'
import type { Charge } from '../lib/merchant-keys.js'
import { migrate } from '../db/migrations.js'
import { openDatabase } from '../db/connect.js'
import { merchantKeys } from '../db/repos/merchant-keys.js'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    account: { type: 'string' },
    label: { type: 'string' },
    location: { type: 'string' },
    destination: { type: 'boolean' },
    'platform-pays-refunds': { type: 'boolean' },
    'fee-amount': { type: 'string' },
    'fee-percent': { type: 'string' }
  }
})
const usage = (message: string): never => {
  console.error(`${message}\nusage: npm run keys -- create --account acct_… --label … [--location tml_…] ` +
    '[--destination [--platform-pays-refunds]] ' +
    '[--fee-amount N | --fee-percent P] | list [--account acct_…] | revoke mkey_…')
  process.exit(1)
}

const config = loadConfig(readEnv())
const { db, engine } = openDatabase(config.DATABASE_URL)
try {
  await migrate(db, engine === 'postgres')
  const keys = merchantKeys(db)
  const [command, id] = positionals
  if (command === 'create') {
    if (values.account?.startsWith('acct_') !== true) usage('--account acct_… is required')
    if (values.label === undefined || values.label === '') usage('--label is required')
    if (values.location !== undefined && !values.location.startsWith('tml_')) usage('--location is a tml_… id')
    const charge: Charge = { type: values.destination === true ? 'destination' : 'direct' }
    if (values['platform-pays-refunds'] === true) {
      if (charge.type !== 'destination') usage('--platform-pays-refunds goes with --destination')
      charge.refunds = 'platform'
    }
    if (values['fee-amount'] !== undefined) charge.application_fee_amount = Number.parseInt(values['fee-amount'], 10)
    if (values['fee-percent'] !== undefined) charge.application_fee_percent = Number(values['fee-percent'])
    if (Number.isNaN(charge.application_fee_amount ?? 0) || Number.isNaN(charge.application_fee_percent ?? 0)) usage('a fee is a number')
    const created = await keys.create({ account: values.account!, label: values.label!, location: values.location ?? null, charge })
    console.log(JSON.stringify(created, null, 2))
  } else if (command === 'list') {
    console.log(JSON.stringify({ data: await keys.list(values.account) }, null, 2))
  } else if (command === 'revoke') {
    if (id === undefined) usage('revoke takes a key id (mkey_…)')
    const revoked = await keys.revoke(id!)
    if (revoked === undefined) usage(`no merchant key ${id!}`)
    console.log(JSON.stringify(revoked, null, 2))
  } else {
    usage(`unknown command ${command ?? '(none)'}`)
  }
} finally {
  await db.destroy()
}
