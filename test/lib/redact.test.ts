import t from 'tap'
import { redactByPatterns as patterns, redactSecrets } from '../../lib/redact.js'

// redactSecrets skips its patterns for lines that cannot match them (every log line passes
// through it); whatever it skips, the patterns themselves must agree.

const kinds = ['sk', 'rk', 'pk', 'whsec', 'absec', 'stbk', 'ak', 'sec', 'k']
const modes = ['', 'test_', 'live_', 'TEST_']
const before = ['', ' ', 'x', 'pi_missing_', '"', '/', '=']
const rests = ['abc123XYZ', '', '_', '…mock']
const queries = ['', '?api_key=abc', '&TOKEN=x y', '?key=', '?limit=3', 'a=b', '&apikey="q"']

t.test('redactSecrets gives what its patterns give, for every shape of key, query and text around them', async t => {
  let checked = 0
  let masked = 0
  for (const kind of kinds) {
    for (const mode of modes) {
      for (const b of before) {
        for (const rest of rests) {
          for (const q of queries) {
            const text = `{"msg":"request","path":"${b}${kind}_${mode}${rest}${q}"}`
            const out = redactSecrets(text)
            if (out !== patterns(text)) t.fail(`${text} → ${out}, the patterns give ${patterns(text)}`)
            if (out !== text) masked++
            checked++
          }
        }
      }
    }
  }
  t.equal(checked, kinds.length * modes.length * before.length * rests.length * queries.length)
  t.ok(masked > checked / 2, `most of them hold a secret or a key in a query and were masked (${masked} of ${checked})`)
  const plain = '{"msg":"request","route":"/connection_token","status":200}'
  t.equal(redactSecrets(plain), plain)
  t.equal(redactSecrets('failed with sk_live_abcdef123'), 'failed with sk_live_[REDACTED]')
  t.equal(redactSecrets('GET /x?token=abc&b=1'), 'GET /x?token=[REDACTED]&b=1')
})
