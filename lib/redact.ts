/** Secret-looking values: Stripe keys, webhook and app signing secrets, and `api_key=` in URLs. */
// A key glued to a word (`pi_missing_rk_test_…`, `xstbk_…`) is still a key: no word boundary for the
// shapes that cannot be ordinary text (a mode after sk/rk/pk, the stbk_ prefix).
const SECRET = /(\b(?:sk|rk|whsec|absec)|stbk|(?:sk|rk)(?=_(?:test|live)_))_(test_|live_)?[A-Za-z0-9]+/g
const QUERY_KEY = /([?&](?:api_key|apikey|key|token)=)[^&"\s]*/gi

// idempotent: an already masked `sk_test_…mock` is left as it is (a mode must be followed by key characters)
const KIND = String.raw`(\b(?:sk|rk|pk|whsec|absec)|stbk|(?:sk|rk|pk)(?=_(?:test|live)_))`
const SECRET_IN_TEXT = new RegExp(`${KIND}_(?:(test_|live_)(?=[A-Za-z0-9_])|(?!test_|live_))([A-Za-z0-9_]+)`, 'g')
/**
 * Masks every secret-looking value in a text a caller will read, as Stripe does: the kind, the
 * mode and at most the last four characters (`sk_test_…mock`); a short key shows no characters.
 */
export function maskSecrets (text: string): string {
  return text.replace(SECRET_IN_TEXT, (_m, kind: string, mode: string | undefined, rest: string) =>
    `${kind}_${mode ?? ''}…${rest.length > 8 ? rest.slice(-4) : ''}`)
}

/** Masks every secret-looking value in a string (a log line, an error text). */
export function redactSecrets (text: string): string {
  // Every log line passes here: most hold none of `k_`, `sec_` and `=`, one of which every match needs
  if (!text.includes('k_') && !text.includes('sec_') && !text.includes('=')) return text
  return redactByPatterns(text)
}

/** The patterns themselves, whatever the text (redactSecrets skips them where they cannot match). */
export function redactByPatterns (text: string): string {
  return text.replace(SECRET, (_m, kind: string, mode: string | undefined) => `${kind}_${mode ?? ''}[REDACTED]`)
    .replace(QUERY_KEY, '$1[REDACTED]')
}

/** Header paths pino removes whatever their value. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers["stripe-signature"]',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers["stripe-signature"]',
  'headers.cookie'
]

/**
 * Masks every configured secret wherever it appears whole (a query parameter, a path segment, an
 * echoed id), also percent- or JSON-escaped: API keys have no recognisable shape, so the pattern
 * above cannot find them. Secrets under 8 characters are left alone (they would mask ordinary text).
 */
export function secretMasker (secrets: readonly string[]): (text: string) => string {
  const forms = [...new Set(secrets.filter(s => s.length >= 8).flatMap(s => [s, encodeURIComponent(s), JSON.stringify(s).slice(1, -1)]))]
    .sort((a, b) => b.length - a.length)
  if (forms.length === 0) return text => text
  return text => {
    let out = text
    for (const f of forms) if (out.includes(f)) out = out.split(f).join('[REDACTED]')
    return out
  }
}
