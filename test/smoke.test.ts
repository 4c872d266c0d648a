import t from 'tap'
import { build } from './helper.js'

t.test('smoke', async t => {
  const { app, fake } = await build(t)
  let res = await app.inject({ method: 'POST', url: '/connection_token' })
  t.equal(res.statusCode, 200, res.body)
  res = await app.inject({ method: 'POST', url: '//create_payment_intent', payload: 'amount=5200&payment_method_types[]=card_present', headers: { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' } })
  t.equal(res.statusCode, 200, res.body)
  console.log(res.body, fake.calls.map(c => [c.path, c.rawBody, c.stripeVersion]))
  res = await app.inject({ method: 'POST', url: '/capture_payment_intent', payload: '', headers: { 'content-type': 'application/json' } })
  console.log(res.statusCode, res.headers['content-type'], res.body)
  res = await app.inject({ method: 'GET', url: '/list_locations' })
  console.log(res.statusCode, res.headers['content-type'], res.body.slice(0, 100))
  res = await app.inject({ method: 'GET', url: '/health' })
  console.log(res.statusCode, res.body)
  res = await app.inject({ method: 'GET', url: '/ready' })
  console.log(res.statusCode, res.body)
  res = await app.inject({ method: 'GET', url: '/nope' })
  console.log(res.statusCode, res.body)
})
