/**
 * `npm run check-config`: prints the production checklist for the current environment (and .env)
 * and exits 1 when production mode would refuse to start. Names variables, never prints values.
 */
import { checklist, loadConfig, readEnv } from '../lib/config.js'

let config
try {
  config = loadConfig(readEnv())
} catch (err) {
  console.error(`✗ invalid configuration: ${(err as Error).message}`)
  process.exit(1)
}
const { failures, warnings } = checklist(config)
console.log(`mode: ${config.production ? 'production' : 'development'}; Stripe: ${config.stripeMode} keys`)
for (const f of failures) console.log(`✗ ${f}`)
for (const w of warnings) console.log(`! ${w}`)
if (failures.length === 0) {
  console.log(config.production ? '✓ production checklist passes' : '✓ development mode starts (items above would stop a production boot)')
}
process.exit(failures.length === 0 ? 0 : 1)
