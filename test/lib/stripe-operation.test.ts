import t from 'tap'
import { stripeOperation } from '../../lib/stripe/operation.js'

t.test('Stripe operations: bounded names from the path positions that are names, never ids', async t => {
  const cases: Array<[string, string, string]> = [
    ['POST', '/v1/terminal/connection_tokens', 'terminal.connection_tokens.create'],
    ['POST', '/v1/payment_intents', 'payment_intents.create'],
    ['POST', '/v1/payment_intents/pi_3Abc/capture', 'payment_intents.capture'],
    ['POST', '/v1/payment_intents/pi_abc', 'payment_intents.update'],
    ['GET', '/v1/terminal/readers?limit=100&location=tml_1', 'terminal.readers.list'],
    ['POST', '/v1/terminal/readers/tmr_1/process_payment_intent', 'terminal.readers.process_payment_intent'],
    ['POST', '/v1/test_helpers/terminal/readers/tmr_1/present_payment_method', 'test_helpers.terminal.readers.present_payment_method'],
    ['GET', '/v1/account', 'account.retrieve'],
    ['GET', '/v1/customers/cus_1', 'customers.retrieve'],
    ['DELETE', '/v1/customers/cus_1', 'customers.del'],
    ['POST', '/v1/customers/cus_1%2Fx/Bad-Action', 'customers.other'],
    ['GET', '/v1/pi_123', 'other'],
    ['GET', '/v1/terminal/ID123', 'terminal.other'],
    ['GET', '/', 'other']
  ]
  for (const [method, path, op] of cases) t.equal(stripeOperation(method, path), op, `${method} ${path}`)
})
