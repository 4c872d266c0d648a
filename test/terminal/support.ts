import type { Test } from 'tap'
import { build, type BuildOptions } from '../helper.js'
import type { Call } from '../support/fake-stripe.js'

/** Parity with the original backend: its API version. */
export const PARITY = { STRIPE_API_VERSION: '2020-03-02' }

export const buildParity = async (t: Test, opts: BuildOptions = {}) => await build(t, { ...opts, env: { ...PARITY, ...opts.env } })

/** The form body Stripe received, decoded, in the notation of research/terminal-probes.txt. */
export const decoded = (call: Call | undefined): string => decodeURIComponent((call?.rawBody ?? '').replace(/\+/g, ' '))
