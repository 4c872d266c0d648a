import { Type } from '@sinclair/typebox'
import { OrNull, StripeObject } from './common.js'

/**
 * The signed JSON body of every /apps request: what `fetchStripeSignature(payload)` signed,
 * `{...payload, user_id, account_id}`. Parameters are read from it and nowhere else.
 */
const Signed = {
  user_id: Type.String({ pattern: '^usr_', description: 'added by the UI extension from userContext' }),
  account_id: Type.String({ pattern: '^acct_', description: 'added by the UI extension from userContext' }),
  nonce: Type.Optional(Type.String({ maxLength: 200, description: 'makes the request single-use' })),
  stripe_roles: Type.Optional(Type.Array(Type.Object({
    id: Type.Optional(Type.String()),
    type: Type.Optional(Type.String()),
    name: Type.Optional(Type.String())
  }), { description: 'userContext.roles, signed' }))
}

export const SessionBody = Type.Object(Signed)
export const CustomerCreateBody = Type.Object({
  ...Signed,
  email: Type.Optional(Type.String({ maxLength: 512 })),
  name: Type.Optional(Type.String({ maxLength: 256 })),
  description: Type.Optional(Type.String({ maxLength: 350 })),
  // Ajv does not check a Record's key schema: the key bound is `propertyNames`
  metadata: Type.Optional(Type.Record(Type.String(), Type.String({ maxLength: 500 }), {
    maxProperties: 50,
    propertyNames: { maxLength: 40 },
    description: 'a flat map of strings'
  }))
})
export const CustomerListBody = Type.Object({
  ...Signed,
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 10 })),
  starting_after: Type.Optional(Type.String({ pattern: '^cus_', maxLength: 255 }))
})
/** A page of the signed account's Terminal locations or readers (read-only: for a Dashboard view of the fleet). */
export const FleetListBody = Type.Object({
  ...Signed,
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 10 })),
  starting_after: Type.Optional(Type.String({ pattern: '^(tml|tmr)_', maxLength: 255 }))
})
export const ReaderListBody = Type.Object({
  ...FleetListBody.properties,
  location: Type.Optional(Type.String({ pattern: '^tml_', maxLength: 255, description: 'only this location\'s readers' }))
})
export const SettingsPutBody = Type.Object({
  ...Signed,
  settings: Type.Object({}, { additionalProperties: true, description: 'a JSON object, at most 16 KiB serialized' })
})

export const Installation = OrNull(Type.Object({
  status: Type.String(),
  livemode: Type.Boolean(),
  installed_at: OrNull(Type.String({ format: 'date-time' })),
  uninstalled_at: OrNull(Type.String({ format: 'date-time' }))
}))
export const Session = Type.Object({
  user_id: Type.String(),
  account_id: Type.String(),
  roles: Type.Array(Type.String()),
  installation: Installation
})
export { StripeObject }
export const Page = Type.Object({ data: Type.Array(StripeObject), has_more: Type.Boolean() })
export const CustomerList = Page
export const Settings = Type.Object({ settings: OrNull(Type.Object({}, { additionalProperties: true })) })

export const SETTINGS_MAX_BYTES = 16 * 1024
