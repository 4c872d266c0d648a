import t from 'tap'
import { parseNestedQuery, RackParseError } from '../../../lib/rack-query.js'

const parse = (s: string): unknown => JSON.parse(JSON.stringify(parseNestedQuery(s)))

t.test('Rack 2.2 parse_nested_query semantics (research/terminal.md (b))', async t => {
  t.same(parse('a[]=x&a[]=y'), { a: ['x', 'y'] }, 'k[] is an array')
  t.same(parse('a[0]=x&a[1]=y'), { a: { 0: 'x', 1: 'y' } }, 'k[0] is an index hash')
  t.same(parse('a[b][c]=v'), { a: { b: { c: 'v' } } })
  t.same(parse('a[b[c]]=v'), { a: { b: { c: 'v' } } }, 'the malformed form reads as a[b][c]')
  t.same(parse('o[card_present[x]]=1&o[card_present[y]]=2'), { o: { card_present: { x: '1', y: '2' } } })
  t.same(parse('a=1&a=2'), { a: '2' }, 'last duplicate scalar wins')
  t.same(parse('a'), { a: null }, 'a bare key is nil (absent)')
  t.same(parse('a='), { a: '' }, 'an empty value is present')
  t.same(parse('a%5B%5D=x&a%5B%5D=y'), { a: ['x', 'y'] }, 'percent-encoded brackets')
  t.same(parse('a=b+c%20d'), { a: 'b c d' }, '+ is a space')
  t.same(parse('a=1;b=2'), { a: '1', b: '2' }, '; separates too')
  t.same(parse('&&a=1&'), { a: '1' }, 'empty pairs are skipped')
  t.same(parse('a[][x]=1&a[][y]=2&a[][x]=3'), { a: [{ x: '1', y: '2' }, { x: '3' }] }, 'arrays of hashes')
  t.same(parse('[]=x&=y'), {}, 'no key name')
  t.same(parse('a[=x'), { 'a[': 'x' }, 'an unclosed bracket is part of the name')
  const plain = parseNestedQuery('a=1&n[b]=2')
  t.notOk(
    Reflect.has(plain, 'toString') || Reflect.has(plain, 'constructor') || Reflect.has(plain.n as object, 'hasOwnProperty'),
    'inherits nothing, nested objects neither'
  )
  t.same(
    Object.keys(parseNestedQuery('__proto__=x&constructor=y')),
    ['__proto__', 'constructor'],
    '__proto__ and constructor are plain keys'
  )
  t.same(parse('__proto__[x]=1'), { ['__proto__']: { x: '1' } })
  parseNestedQuery('__proto__[polluted]=1&constructor[prototype][polluted]=1')
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched')
})

t.test('malformed input is a 400 error', async t => {
  for (const s of ['a=%', 'a=%ZZ', 'a[]=1&a[b]=2', 'a[b]=1&a[]=2', 'a=1&a[b]=2', `${'a['.repeat(40)}=1`]) {
    t.throws(() => parseNestedQuery(s), RackParseError, s)
    try {
      parseNestedQuery(s)
    } catch (err) {
      t.equal((err as RackParseError).statusCode, 400)
    }
  }
})
