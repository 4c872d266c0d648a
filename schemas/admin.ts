import { Type, type TSchema } from '@sinclair/typebox'
import { OneOf, OrNull } from './common.js'

/** `/admin` bodies and answers (CONTRACT.md section 8). */
const REFUNDS = 'destination charges: who pays for a refund; merchant (the default) reverses the transfer and refunds the fee'
const chargeOf = <T extends TSchema, R extends TSchema>(type: T, refunds: R) => Type.Object({
  type,
  application_fee_amount: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000_000, description: 'minor units' })),
  application_fee_percent: Type.Optional(Type.Number({
    minimum: 0,
    maximum: 100,
    description: 'of the amount, rounded down to the minor unit'
  })),
  refunds: Type.Optional(refunds)
}, { additionalProperties: false })
export const Charge = chargeOf(
  Type.Union([Type.Literal('direct'), Type.Literal('destination')]),
  Type.Union([Type.Literal('merchant'), Type.Literal('platform')], { description: REFUNDS })
)
/** the same in answers, written for the serializer (schemas/common.ts) */
const ChargeOut = chargeOf(OneOf(['direct', 'destination']), OneOf(['merchant', 'platform'], { description: REFUNDS }))

export const CreateKeyBody = Type.Object({
  account: Type.String({ pattern: '^acct_[A-Za-z0-9]{1,250}$' }),
  // no control characters: stored, and Postgres refuses a NUL
  label: Type.String({ minLength: 1, maxLength: 255, pattern: '^[^\\u0000-\\u001f\\u007f]+$' }),
  location: Type.Optional(Type.String({ pattern: '^tml_[A-Za-z0-9]{1,250}$' })),
  charge: Type.Optional(Charge)
}, { additionalProperties: false })

export const ListKeysQuery = Type.Object({
  account: Type.Optional(Type.String({ pattern: '^acct_[A-Za-z0-9]{1,250}$' }))
}, { additionalProperties: false })

export const KeyParams = Type.Object({ id: Type.String({ pattern: '^mkey_[0-9a-f]{16}$' }) })

const Time = OrNull(Type.String({ format: 'date-time' }))
export const MerchantKey = Type.Object({
  id: Type.String(),
  account: Type.String(),
  label: Type.String(),
  location: OrNull(Type.String()),
  charge: ChargeOut,
  created_at: Type.String({ format: 'date-time' }),
  last_used_at: Time,
  revoked_at: Time
})
export const CreatedKey = Type.Object({
  id: Type.String(),
  key: Type.String({ description: 'shown only here' }),
  account: Type.String(),
  label: Type.String(),
  location: OrNull(Type.String()),
  charge: ChargeOut,
  created_at: Type.String({ format: 'date-time' })
})
export const KeyList = Type.Object({ data: Type.Array(MerchantKey) })
