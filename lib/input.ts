import { fail } from './errors.js'

export interface InputLimits {
  /** objects and lists nested deeper than this are refused */
  maxDepth: number
  /** at most this many keys and list items in all */
  maxKeys: number
}

const invalid = fail.invalid

/**
 * Checks decoded parameters before anything uses them: nesting depth, key count, and strings that
 * are well-formed UTF-16 (a lone surrogate makes stripe-node's encoder throw) without NUL. Throws a 400 that
 * names the limit or the parameter. Iterative, so hostile depth cannot exhaust the stack.
 */
export function checkInput (value: unknown, limits: InputLimits): void {
  let keys = 0
  const stack: Array<[unknown, string, number]> = [[value, '', 0]]
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [v, name, depth] = next
    if (typeof v === 'string') {
      if (!v.isWellFormed()) throw invalid(`Invalid parameter '${name}': not valid text (a lone UTF-16 surrogate).`, 'parameter_invalid')
      // the same answer on both engines: Postgres refuses a NUL in text where SQLite stores it
      if (v.includes('\u0000')) {
        throw invalid(`Invalid parameter '${name}': not valid text (a NUL character).`, 'parameter_invalid')
      }
      continue
    }
    if (typeof v !== 'object' || v === null) continue
    if (depth >= limits.maxDepth) {
      throw invalid(`Parameters nested too deeply: at most ${limits.maxDepth} levels.`, 'parameters_too_deep')
    }
    const entries = Array.isArray(v) ? v.map((item, i) => [String(i), item] as const) : Object.entries(v)
    keys += entries.length
    if (keys > limits.maxKeys) throw invalid(`Too many parameters: at most ${limits.maxKeys}.`, 'too_many_parameters')
    for (const [k, item] of entries) {
      if (!k.isWellFormed() || k.includes('\u0000')) {
        throw invalid('Invalid parameter name: not valid text (a lone UTF-16 surrogate or a NUL).', 'parameter_invalid')
      }
      stack.push([item, name === '' ? k : `${name}[${k}]`, depth + 1])
    }
  }
}
