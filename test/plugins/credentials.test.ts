import t from 'tap'
import { createHash } from 'node:crypto'
import { build } from '../support/helper.js'
import { KeySet } from '../../lib/api-key.js'

const KEY_A = 'a'.repeat(40)
const KEY_B = 'b'.repeat(40)

t.test('API keys: rotation, wrong keys, where a key may come from', async t => {
  const { app } = await build(t, { env: { API_KEY: `${KEY_A}, ${KEY_B}` } })
  const post = (headers: Record<string, string>, url = '/connection_token') => app.inject({ method: 'POST', url, headers })

  t.equal((await post({ 'x-api-key': KEY_A })).statusCode, 200, 'first key via X-API-Key')
  t.equal((await post({ authorization: `Bearer ${KEY_B}` })).statusCode, 200, 'second key via Bearer (rotation)')
  t.equal((await post({ authorization: `bearer ${KEY_A}` })).statusCode, 200, 'the scheme is case-insensitive')

  for (const [name, headers] of [
    ['no key', {}],
    ['wrong key of the same length', { 'x-api-key': 'c'.repeat(40) }],
    ['wrong key of another length', { 'x-api-key': 'c'.repeat(7) }],
    ['a prefix of a valid key', { 'x-api-key': KEY_A.slice(0, 39) }],
    ['a valid key with more after it', { 'x-api-key': `${KEY_A}a` }],
    ['a valid key with a multibyte character after it', { 'x-api-key': `${KEY_A}\u00e9` }],
    ['a valid key with NUL bytes after it', { 'x-api-key': `${KEY_A.slice(0, 39)}\u0000` }],
    ['Basic instead of Bearer', { authorization: `Basic ${KEY_A}` }]
  ] as Array<[string, Record<string, string>]>) {
    const res = await post(headers)
    t.equal(res.statusCode, 401, name)
    t.equal(res.headers['www-authenticate']?.toString().startsWith('Bearer'), true, `${name}: WWW-Authenticate`)
    t.equal(res.json().error.type, 'authentication_error', `${name}: JSON error`)
  }

  const query = await app.inject({ method: 'POST', url: `/connection_token?api_key=${KEY_A}&key=${KEY_A}` })
  t.equal(query.statusCode, 401, 'a key in the query string is refused')
  t.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200, 'ops routes need no key')
})

t.test('development with no API_KEY leaves the Terminal API open, with a boot warning', async t => {
  const { app, logs } = await build(t)
  t.equal((await app.inject({ method: 'POST', url: '/connection_token' })).statusCode, 200)
  t.ok(
    logs.some(l => l.level === 40 && /API_KEY is not set/.test(l.msg)),
    'warned at boot'
  )
})

t.test('KeySet: exact matches only, in constant time against fixed-width copies; ids are the SHA-256 fingerprints', async t => {
  const short = 'k'.repeat(32)
  const keys = new KeySet([KEY_A, short, 'ключ'.repeat(8)])
  t.equal(keys.match(KEY_A), 0)
  t.equal(keys.match(short), 1, 'a shorter key among longer ones')
  t.equal(keys.match('ключ'.repeat(8)), 2, 'a multibyte key')
  for (const wrong of ['', short.slice(1), `${short}\u0000`, `${short}k`, KEY_A.slice(0, 32), 'x'.repeat(10_000), 'ключ'.repeat(7)]) {
    t.equal(keys.match(wrong), -1, `${JSON.stringify(wrong).slice(0, 20)} refused`)
  }
  t.equal(keys.match(short), 1, 'the scratch buffer of a long refused key leaves no trace')
  t.same(keys.ids, [KEY_A, short, 'ключ'.repeat(8)].map(k => createHash('sha256').update(k).digest('hex').slice(0, 16)),
    'the ids logs and rate limits have always used')
  t.equal(new KeySet([]).match(''), -1, 'no keys match nothing')
})
