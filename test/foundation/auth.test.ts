import t from 'tap'
import { build } from '../helper.js'

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
