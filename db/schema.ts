import type { Generated } from 'kysely'

/** The schema every repository is typed by (db/migrations.ts creates it). */
/** The tables every area shares. Times are ISO 8601 UTC strings; event `created` is Unix seconds. */
/** `livemode` is 0/1: better-sqlite3 cannot bind booleans, and one representation serves both engines. */
export interface Database {
  schema_migrations: { name: string, applied_at: string }
  installations: {
    account: string
    livemode: number
    app_id: string | null
    status: 'installed' | 'uninstalled'
    installed_at: string | null
    uninstalled_at: string | null
    /** `created` of the newest event applied, so an older one never overwrites it */
    event_created: number
    updated_at: string
  }
  webhook_events: {
    id: string
    type: string
    account: string | null
    livemode: number
    created: number
    received_at: string
  }
  nonces: { nonce: string, account: string, expires_at: string }
  /** `kind account id` of an object a destination merchant owns (routes/terminal/ownership.ts) */
  owned_objects: { fact: string, expires_at: string }
  app_settings: { account: string, settings: string, updated_at: string }
  reader_actions: {
    reader_id: string
    livemode: number
    type: string | null
    status: string | null
    failure_code: string | null
    failure_message: string | null
    payment_intent: string | null
    /** refund_payment's charge, process_setup_intent's SetupIntent, collect_inputs' results (JSON) */
    charge: string | null
    setup_intent: string | null
    inputs: string | null
    updated_at: string
    /** the connected account whose reader it is (Connect events carry it); null on the platform */
    account: string | null
  }
  reader_action_events: {
    /** increasing: a stream's `Last-Event-ID` */
    id: Generated<number>
    reader_id: string
    livemode: number
    account: string | null
    /** the JSON GET /reader_action answered at that change */
    body: string
    created_at: string
  }
  merchant_keys: {
    id: string
    /** SHA-256 of the key, hex: the key itself is shown once and never stored */
    key_hash: string
    account: string
    label: string
    location: string | null
    /** the charge mode as JSON: {"type":"direct"|"destination", application_fee_amount?, application_fee_percent?} */
    charge: string
    created_at: string
    last_used_at: string | null
    revoked_at: string | null
  }
}
