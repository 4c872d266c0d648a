import Stripe from 'stripe'
import type { Test } from 'tap'
import { build, type BuildOptions } from './helper.js'
import type { Call } from './fake-stripe.js'

/** Parity with the original backend: its API version. */
export const PARITY = { STRIPE_API_VERSION: '2020-03-02' }

/** The client replays run under the original's version and the pinned package's default. */
export const VERSIONS = [PARITY.STRIPE_API_VERSION, Stripe.API_VERSION] as const

/** Builds the app pinned to `version`. */
export const buildAt = async (t: Test, version: string, opts: BuildOptions = {}) =>
  await build(t, { ...opts, env: { STRIPE_API_VERSION: version, ...opts.env } })

/** The form body Stripe received, decoded, in the notation of research/terminal-probes.txt. */
export const decoded = (call: Call | undefined): string => decodeURIComponent((call?.rawBody ?? '').replace(/\+/g, ' '))
