import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { field } from '../lib/values.js'
import { TypeCompiler } from '@sinclair/typebox/compiler'

/**
 * What a signed event must hold to be taken, and no more: a string `id` and `type` (stored as the
 * dedupe record). Any other well-signed event is acknowledged and recorded whatever its object,
 * API version or extra fields, since Stripe retries a refused event for days and then disables the
 * endpoint. Only the types a handler acts on are checked further, for exactly the fields it reads;
 * a handled event whose fields do not fit is a 400 (retrying would not help), never a 500.
 */
/** printable, no control characters (Postgres refuses NUL), as every stored string */
const Key = Type.String({ minLength: 1, maxLength: 255, pattern: '^[^\\u0000-\\u001f\\u007f]+$' })
/** Stripe's generated ids: letters, digits and `_` (what a handler stores and compares) */
const Id = Type.String({ pattern: '^[A-Za-z0-9_]{1,255}$' })
/** text stored as is: bounded, and without NUL */
const Text = (maxLength: number) => Type.Union([Type.String({ maxLength, pattern: '^[^\\u0000]*$' }), Type.Null()])
const Obj = <T extends Record<string, TSchema>>(properties: T) => Type.Object(properties, { additionalProperties: true })

export const StripeEvent = Obj({ id: Key, type: Key })

/** A snapshot event's envelope, for the types the service acts on. */
const Snapshot = <T extends TSchema>(object: T) => Obj({
  // Unix seconds, whole, between 2010 and 2100
  created: Type.Integer({ minimum: 1_262_304_000, maximum: 4_102_444_800 }),
  livemode: Type.Boolean(),
  account: Type.Optional(Type.Union([Id, Type.Null()])),
  data: Obj({ object })
})

const Ref = Type.Optional(Type.Union([Id, Obj({ id: Id }), Type.Null()]))
/** what a reader action's own part names, by action type */
const Detail = Type.Optional(Type.Union([Type.Null(), Obj({ payment_intent: Ref, charge: Ref, setup_intent: Ref })]))
const ReaderEvent = Snapshot(Obj({
  id: Id,
  metadata: Type.Optional(Type.Union([Type.Null(), Obj({ merchant_account: Type.Optional(Id) })])),
  action: Type.Optional(Type.Union([Type.Null(), Obj({
    type: Type.Optional(Text(255)),
    status: Type.Optional(Text(64)),
    failure_code: Type.Optional(Text(255)),
    failure_message: Type.Optional(Text(5000)),
    process_payment_intent: Detail,
    collect_payment_method: Detail,
    confirm_payment_intent: Detail,
    refund_payment: Detail,
    process_setup_intent: Detail,
    collect_inputs: Type.Optional(Type.Union([Type.Null(), Obj({ inputs: Type.Optional(Type.Array(Type.Unknown(), { maxItems: 50 })) })]))
  })]))
}))
/** `account.application.*`: the object is the application */
const ApplicationEvent = Snapshot(Obj({ id: Type.Optional(Id) }))
/** `apps.install.*`: the object is the install, naming the account and the app */
const InstallEvent = Snapshot(Obj({ id: Id, account: Id, app: Type.Optional(Id), status: Type.Optional(Text(64)) }))

/** The thin payload of an event destination (`object: "v2.core.event"`): what the service reads to fetch the rest. */
export const ThinEvent = Obj({
  id: Key,
  type: Key,
  object: Type.Literal('v2.core.event'),
  // ISO 8601, as v2 events write times
  created: Type.String({ pattern: '^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d(:\\d\\d(\\.\\d{1,9})?)?(Z|[+-]\\d\\d:\\d\\d)$' }),
  livemode: Type.Optional(Type.Boolean()),
  context: Type.Optional(Type.Union([Id, Type.Null()])),
  snapshot_event: Type.Optional(Type.Union([Id, Type.Null()])),
  related_object: Type.Optional(Type.Union([Type.Null(), Obj({ id: Id, type: Type.Optional(Key) })]))
})

const base = TypeCompiler.Compile(StripeEvent)
const thin = TypeCompiler.Compile(ThinEvent)
/** A thin event (`v2.core.event`) of the shape the service reads */
export type Thin = Static<typeof ThinEvent>
export const isThin = (event: unknown): event is Thin => thin.Check(event)
const reader = TypeCompiler.Compile(ReaderEvent)
const application = TypeCompiler.Compile(ApplicationEvent)
const install = TypeCompiler.Compile(InstallEvent)
/** the shapes of the types a handler acts on (a Map: a type named `constructor` is a type like any other) */
const byType = new Map<string, ReturnType<typeof TypeCompiler.Compile>>([
  ['terminal.reader.action_succeeded', reader],
  ['terminal.reader.action_failed', reader],
  ['terminal.reader.action_updated', reader],
  ['account.application.authorized', application],
  ['account.application.deauthorized', application],
  ['apps.install.created', install],
  ['apps.install.updated', install],
  ['apps.install.deleted', install]
])

/** True for the types a handler acts on (the thin form of each is `v1.` and the same). */
export const handledType = (type: string): boolean => byType.has(type)

const first = (check: ReturnType<typeof TypeCompiler.Compile>, value: unknown): string | undefined => {
  const error = check.Errors(value).First()
  return error === undefined ? undefined : `${error.path === '' ? 'event' : error.path.slice(1).replace(/\//g, '.')}: ${error.message}`
}

/** The first problem of a parsed event (snapshot or thin), as `path: message`, or undefined when it can be taken. */
export function eventProblem (event: unknown): string | undefined {
  const problem = first(base, event)
  if (problem !== undefined) return problem
  if (field(event, 'object') === 'v2.core.event') return first(thin, event)
  const check = byType.get(String(field(event, 'type')))
  return check === undefined ? undefined : first(check, event)
}
