import { Type, type Static, type TSchema } from '@sinclair/typebox'

// Response schemas only. fast-json-stringify writes a type list and an enum itself; for an anyOf it
// builds an Ajv instance per serializer at start-up (~8 ms each; there were 34). Request schemas
// keep Type.Union: Ajv coerces a type list differently and words its errors differently.
/** the schema's type or null, as a type list */
export const OrNull = <T extends TSchema & { type: string }>(schema: T) =>
  Type.Unsafe<Static<T> | null>({ ...schema, type: [schema.type, 'null'] })
/** one of these strings, as an enum */
export const OneOf = <T extends string[]>(values: [...T], options: object = {}) =>
  Type.Unsafe<T[number]>({ type: 'string', enum: values, ...options })

/** Stripe's error envelope, used by every JSON error this service writes. */
export const ErrorBody = Type.Object({
  error: Type.Object({
    type: Type.String({ description: 'invalid_request_error, authentication_error, api_error, …' }),
    message: Type.String(),
    code: Type.Optional(OrNull(Type.String()))
  })
}, { description: 'Stripe-style error envelope' })

/** Stripe objects are returned as Stripe sent them: `id` and `object` declared, every other field kept. */
export const StripeObject = Type.Object({ id: Type.String(), object: Type.String() }, { additionalProperties: true })
