/**
 * Rack 2.2's `parse_nested_query`, the parser the original Sinatra backend used, so the official
 * client apps' form bodies mean the same here. Differences from `qs` that matter (research
 * terminal.md (f)): `k[a[b]]` is read as `k[a][b]` (Apps on Devices and older Android send it), a
 * duplicate scalar keeps the last value, a bare key without `=` is absent. Objects inherit nothing,
 * so `__proto__` is just a key.
 */
export type RackValue = string | null | RackValue[] | RackParams
export interface RackParams { [key: string]: RackValue }

export class RackParseError extends Error {
  readonly statusCode = 400
  constructor (message: string) {
    super(message)
    this.name = 'RackParseError'
  }
}

const MAX_DEPTH = 32
// Objects without Object.prototype in their chain, so `__proto__` or `constructor` are plain keys.
// `new Params()` rather than Object.create(null): V8 keeps these in fast mode, several times
// quicker to fill (bench/README.md).
// cast: a constructor function, typed as what `new` makes of it (a prototype-free object)
const Params = function () {} as unknown as new () => RackParams
Params.prototype = Object.create(null)
const make = (): RackParams => new Params()
const isParams = (v: unknown): v is RackParams => typeof v === 'object' && v !== null && !Array.isArray(v)

function unescape (s: string): string {
  // most names and values need no decoding
  if (s.indexOf('%') === -1 && s.indexOf('+') === -1) return s
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '))
  } catch {
    throw new RackParseError(`invalid %-encoding (${s.slice(0, 40)})`)
  }
}

function normalize (params: RackParams, name: string, v: string | null, depth: number): RackParams | RackValue[] | undefined {
  if (depth <= 0) throw new RackParseError('parameters nested too deeply')
  const m = /^[[\]]*([^[\]]+)\]*/.exec(name)
  const k = m?.[1] ?? ''
  const after = m === null ? '' : name.slice(m[0].length)
  if (k === '') {
    if (v !== null && name === '[]') return [v]
    return undefined
  }
  if (after === '') {
    params[k] = v
  } else if (after === '[') {
    params[name] = v
  } else if (after === '[]') {
    const arr = params[k] ??= []
    if (!Array.isArray(arr)) throw new RackParseError(`expected Array (got ${typeName(arr)}) for param '${k}'`)
    arr.push(v)
  } else {
    const child = /^\[\]\[([^[\]]+)\]$/.exec(after) ?? /^\[\](.+)$/.exec(after)
    if (child !== null) {
      const childKey = child[1] ?? ''
      const arr = params[k] ??= []
      if (!Array.isArray(arr)) throw new RackParseError(`expected Array (got ${typeName(arr)}) for param '${k}'`)
      const last = arr[arr.length - 1]
      if (isParams(last) && !(childKey in last)) normalize(last, childKey, v, depth - 1)
      // cast: normalize returns what it was given, and make() gives RackParams
      else arr.push(normalize(make(), childKey, v, depth - 1) as RackValue)
    } else {
      const hash = params[k] ??= make()
      if (!isParams(hash)) throw new RackParseError(`expected Hash (got ${typeName(hash)}) for param '${k}'`)
      // cast: normalize returns what it was given, here `hash` (checked isParams above)
      params[k] = normalize(hash, after, v, depth - 1) as RackParams
    }
  }
  return params
}

const typeName = (v: RackValue): string => Array.isArray(v) ? 'Array' : v === null ? 'nil' : typeof v === 'string' ? 'String' : 'Hash'

/** Parses `a=1&b[c]=2;d[]=3` the way Rack does. Throws RackParseError (status 400) on malformed input. */
export function parseNestedQuery (qs: string): RackParams {
  const params = make()
  for (const pair of qs.split(/[&;] */)) {
    if (pair === '') continue
    const eq = pair.indexOf('=')
    const k = unescape(eq === -1 ? pair : pair.slice(0, eq))
    const v = eq === -1 ? null : unescape(pair.slice(eq + 1))
    normalize(params, k, v, MAX_DEPTH)
  }
  return params
}

/** Drops absent (nil) values, as stripe-ruby did before encoding: a bare `key` means "not sent". */
export function present (value: RackValue | undefined): value is Exclude<RackValue, null> {
  return value !== null && value !== undefined
}

/** Removes absent values (null, from a bare key or JSON) in place, at every depth. */
export function dropAbsent (params: RackParams | RackValue[]): void {
  if (Array.isArray(params)) {
    for (let i = params.length - 1; i >= 0; i--) {
      const v = params[i]
      if (v === null || v === undefined) params.splice(i, 1)
      else if (typeof v === 'object') dropAbsent(v)
    }
    return
  }
  for (const k in params) {
    const v = params[k]
    if (v === null || v === undefined) delete params[k]
    else if (typeof v === 'object') dropAbsent(v)
  }
}
