import { Type } from '@sinclair/typebox'

/** Stripe's error envelope, used by every JSON error this service writes. */
export const ErrorBody = Type.Object({
  error: Type.Object({
    type: Type.String({ description: 'invalid_request_error, authentication_error, api_error, …' }),
    message: Type.String(),
    code: Type.Optional(Type.Union([Type.String(), Type.Null()]))
  })
}, { description: 'Stripe-style error envelope' })

/** Stripe objects are returned as Stripe sent them: `id` and `object` declared, every other field kept. */
export const StripeObject = Type.Object({ id: Type.String(), object: Type.String() }, { additionalProperties: true })
