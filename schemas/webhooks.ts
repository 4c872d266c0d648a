import { Type, type TSchema } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'

/**
 * The fields of a signed Stripe event that the handlers read and store. A well-signed event that
 * does not fit is a 400 (Stripe does not send such events; retrying would not help), never a 500
 * that Stripe would redeliver for days. Ids are Stripe's shape: letters, digits and `_`.
 */
const Id = Type.String({ pattern: '^[A-Za-z0-9_]{1,255}$' })
/** text stored as is: bounded, and without NUL (Postgres refuses it) */
const Text = (maxLength: number) => Type.Union([Type.String({ maxLength, pattern: '^[^\\u0000]*$' }), Type.Null()])
const Obj = <T extends Record<string, TSchema>>(properties: T) => Type.Object(properties, { additionalProperties: true })

export const StripeEvent = Obj({
  id: Id,
  type: Type.String({ pattern: '^[a-z0-9_.]{1,255}$' }),
  // Unix seconds, whole, between 2010 and 2100
  created: Type.Integer({ minimum: 1_262_304_000, maximum: 4_102_444_800 }),
  livemode: Type.Boolean(),
  account: Type.Optional(Type.Union([Id, Type.Null()])),
  data: Obj({ object: Obj({ id: Type.Optional(Id) }) })
})

const Ref = Type.Optional(Type.Union([Id, Obj({ id: Id }), Type.Null()]))
const ReaderEvent = Obj({
  data: Obj({
    object: Obj({
      id: Id,
      action: Type.Optional(Type.Union([Type.Null(), Obj({
        type: Type.Optional(Text(255)),
        status: Type.Optional(Text(64)),
        failure_code: Type.Optional(Text(255)),
        failure_message: Type.Optional(Text(5000)),
        process_payment_intent: Type.Optional(Type.Union([Type.Null(), Obj({ payment_intent: Ref })])),
        refund_payment: Type.Optional(Type.Union([Type.Null(), Obj({ payment_intent: Ref })]))
      })]))
    })
  })
})

const base = TypeCompiler.Compile(StripeEvent)
/** stricter shapes for the types whose handlers read more */
const byType: Record<string, ReturnType<typeof TypeCompiler.Compile>> = {
  'terminal.reader.action_succeeded': TypeCompiler.Compile(ReaderEvent),
  'terminal.reader.action_failed': TypeCompiler.Compile(ReaderEvent)
}

/** The first problem of a parsed event, as `path: message`, or undefined when it fits. */
export function eventProblem (event: unknown): string | undefined {
  for (const check of [base, byType[(event as { type?: string } | null)?.type ?? '']]) {
    if (check === undefined) continue
    const first = check.Errors(event).First()
    if (first !== undefined) return `${first.path === '' ? 'event' : first.path.slice(1).replace(/\//g, '.')}: ${first.message}`
  }
  return undefined
}
