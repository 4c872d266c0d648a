import { Type } from '@sinclair/typebox'

/** Stripe's error envelope, used by every JSON error this service writes. */
export const ErrorBody = Type.Object({
  error: Type.Object({
    type: Type.String({ description: 'invalid_request_error, authentication_error, api_error, …' }),
    message: Type.String(),
    code: Type.Optional(Type.Union([Type.String(), Type.Null()]))
  })
}, { description: 'Stripe-style error envelope' })
