/**
 * Stripe's own example objects (../shared/stripe-openapi/fixtures3.json, the objects stripe-mock
 * serves), for tests that need a Stripe object: a test overrides only the fields it is about.
 * Users' clones do not have the file: `fixturesAvailable` says so, and tests that need it skip.
 */
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const FIXTURES_PATH = fileURLToPath(new URL('../../../shared/stripe-openapi/fixtures3.json', import.meta.url))
export const fixturesAvailable = existsSync(FIXTURES_PATH)

export const resources: Record<string, Record<string, any>> = fixturesAvailable
  ? (JSON.parse(readFileSync(FIXTURES_PATH, 'utf8')) as { resources: Record<string, Record<string, any>> }).resources
  : {}

/** A deep copy of Stripe's example `name` object with `fields` over it. */
type Fixture<T> = Record<string, any> & T & { id: string, object: string }
export function fixture<T extends Record<string, unknown>> (name: string, fields: T): Fixture<T> {
  const base = resources[name]
  if (base === undefined) throw new Error(`no fixture ${name} (is ${FIXTURES_PATH} there?)`)
  return { ...structuredClone(base), ...fields } as Fixture<T>
}
