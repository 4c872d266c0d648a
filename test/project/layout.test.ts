// Where each kind of code lives (issue "one home for each kind of code"): the service's SQL is in
// db/ only. Every product file is read, so a query added later anywhere else fails here.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const root = fileURLToPath(new URL('../..', import.meta.url))
const PRODUCT = ['app.ts', 'server.ts', 'lib', 'plugins', 'routes', 'schemas', 'scripts']

function files (path: string): string[] {
  const full = join(root, path)
  if (statSync(full).isFile()) return path.endsWith('.ts') ? [path] : []
  return readdirSync(full).flatMap(name => files(join(path, name)))
}

/** Kysely's query builders and raw SQL, and reaching past the repositories to the connection */
const SQL = new RegExp('\\b(selectFrom|insertInto|updateTable|deleteFrom|replaceInto|mergeInto)\\s*\\(' +
  '|\\bsql\\s*(<[^>]*>)?\\s*`|\\.transaction\\(\\)|store\\.db\\b')

t.test('no SQL outside db/: routes, plugins, lib and scripts go through the repositories', async t => {
  const all = PRODUCT.flatMap(files)
  t.ok(all.length > 40, `${all.length} product files read`)
  const offending = all.filter(f => SQL.test(readFileSync(join(root, f), 'utf8'))).map(f => relative(root, join(root, f)))
  t.same(offending, [], 'files outside db/ that write SQL')
  const repos = files('db').filter(f => SQL.test(readFileSync(join(root, f), 'utf8')))
  t.ok(repos.length >= 6, `the SQL is in db/ (${repos.length} files)`)
})

/** policy code a route area may only reach through the policy plugins (plugins/app/) */
const POLICY = [
  ['@fastify/cors', /from '@fastify\/cors'/, 'strictOrigins / extensionOrigins (plugins/app/cors.ts)'],
  ['a body parser', /\baddContentTypeParser\s*\(|\bremoveAllContentTypeParsers\s*\(/, 'rawBody / rackParams (plugins/app/bodies.ts)'],
  ['a credential check', /credentials\.gate\s*\(|appSignature\.verify|presentedKey\s*\(|bearerToken\s*\(/,
    'requireCredentials (plugins/app/credentials.ts)']
] as const

t.test('route areas reach CORS, body parsing and credentials through the registered policy plugins', async t => {
  const areas = files('routes')
  for (const [what, pattern, instead] of POLICY) {
    const offending = areas.filter(f => pattern.test(readFileSync(join(root, f), 'utf8')))
    t.same(offending, [], `no route file uses ${what} itself: it registers ${instead}`)
  }
  // each area that is not open declares what it accepts
  for (const area of ['terminal', 'apps', 'proxy', 'admin', 'metrics']) {
    const text = readFileSync(join(root, 'routes', area, 'index.ts'), 'utf8')
    t.match(text, /register\(requireCredentials, \{ accepts: \[/, `${area} declares its credentials`)
  }
})

t.test("an area's security decisions run in its one gate (plugins/app/gate.ts), not as a hook each", async t => {
  // webhooks are the exception, said in credentials.ts: their flood guard answers on its own schedule
  const areas = files('routes').filter(f => !f.startsWith(join('routes', 'webhooks')))
  const HOOK = /addHook\(\s*'(onRequest|preHandler|preValidation)'/
  t.same(areas.filter(f => HOOK.test(readFileSync(join(root, f), 'utf8'))), [], 'no route file adds a request hook')
  t.same(areas.filter(f => /\.rateLimit\(\)/.test(readFileSync(join(root, f), 'utf8'))), [],
    'the rate limit is registered as `rateLimited`, a step of the gate')
  for (const policy of ['cors.ts', 'credentials.ts']) {
    const text = readFileSync(join(root, 'plugins', 'app', policy), 'utf8')
    t.notMatch(text, /addHook\(\s*'onRequest'/, `${policy} adds its step to the gate, not a hook`)
  }
})
