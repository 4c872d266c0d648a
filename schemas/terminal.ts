import { Type, type Static, type TOptional, type TProperties, type TSchema } from '@sinclair/typebox'
import { OrNull } from './common.js'

/**
 * Terminal API parameters (CONTRACT.md section 2). Bodies are the query merged with a form or JSON
 * body (body wins). Values are strings, as Rack gave them to the original backend; unknown
 * parameters are accepted and never forwarded. Length caps keep hostile input out of Stripe calls.
 */
const Str = (description: string) => Type.String({ maxLength: 5000, description })
/** a Stripe id: required and not empty */
const Id = (description: string) => Type.String({ minLength: 1, maxLength: 255, description })
const Params = Type.Record(Type.String(), Type.Unknown(), { description: 'nested parameters, passed to Stripe as given' })

type Optional<T extends TProperties> = { [K in keyof T]: TOptional<T[K]> }

/** An object of `required` and `optional` fields that also lets unknown parameters through (never forwarded). */
const Obj = <R extends TProperties, O extends TProperties>(required: R, optional: O, description?: string) => {
  const props: TProperties = { ...required }
  // casts: Object.entries loses the value type (every value of `optional` is a TSchema), and the
  // object built from both halves is R's fields plus O's made optional
  for (const [k, v] of Object.entries(optional)) props[k] = Type.Optional(v as TSchema)
  return Type.Object(props as R & Optional<O>, { additionalProperties: true, ...(description === undefined ? {} : { description }) })
}

// a Record's key schema is not checked by Ajv: the key bounds are `propertyNames`
const MetadataParam = Type.Record(Type.String(), Type.String({ maxLength: 500 }), {
  maxProperties: 50,
  propertyNames: { maxLength: 40 },
  description: 'metadata[key]=value (Stripe: 50 keys, key ≤ 40, value ≤ 500 characters; empty deletes)'
})
const Bool = (description: string) => Type.Boolean({ description })
/**
 * A list as a till may send it: `k[]=…` or a JSON array, or Rack's `k[0]=…` (an object of index
 * keys; stripe-node encodes it back to the same `k[0]=…`).
 */
const List = <T extends TSchema>(item: T, max: number, min = 0, description = 'a list: k[]=…, k[0]=… or a JSON array') => Type.Union([
  Type.Array(item, { minItems: min, maxItems: max }),
  Type.Unsafe<Record<string, Static<T>>>({
    type: 'object', patternProperties: { '^[0-9]{1,4}$': item }, additionalProperties: false, minProperties: min, maxProperties: max
  })
], { description })
const Amount = (description: string) => Type.Integer({ minimum: 0, maximum: 99_999_999, description })
/** Stripe's on-reader tipping and cancellation options, as process_config and collect_config share them */
const ReaderPaymentOptions = {
  skip_tipping: Bool('no tipping screen'),
  tipping: Type.Object({ amount_eligible: Amount('the amount tips are computed on') }, { additionalProperties: false }),
  enable_customer_cancellation: Bool('the customer may cancel on the reader'),
  allow_redisplay: Type.Union([Type.Literal('always'), Type.Literal('limited'), Type.Literal('unspecified')], {
    description: 'whether the saved card may be shown again'
  })
}
/** an object of optional fields and nothing else */
const Options = <T extends TProperties>(props: T, description: string) =>
  // cast: Object.fromEntries loses the key types; every field of `props` is made optional
  Type.Object(Object.fromEntries(Object.entries(props).map(([k, v]) => [k, Type.Optional(v)])) as Optional<T>,
    { additionalProperties: false, description })

export const PaymentMethodTypes = Type.Union([
  Type.Array(Type.String({ maxLength: 100 }), { maxItems: 20 }),
  Type.Record(Type.String(), Type.String({ maxLength: 100 })),
  Type.String({ maxLength: 100 })
], { description: 'payment_method_types[]=card_present (also [0]= forms); default ["card_present"]' })

export const RegisterReaderBody = Obj({}, {
  registration_code: Str('the code the reader shows'),
  label: Str('a name for the reader'),
  location: Str('a Location id (tml_…)')
})
export const ConnectionTokenBody = Obj({}, { location: Str('scope the token to this Location (tml_…)') })
export const CreatePaymentIntentBody = Obj({}, {
  amount: Str('in the smallest currency unit'),
  currency: Str('default usd'),
  description: Str('default "Example PaymentIntent"'),
  capture_method: Str('default manual'),
  payment_method_types: PaymentMethodTypes,
  payment_method_options: Params,
  receipt_email: Str('sent a receipt by Stripe'),
  metadata: MetadataParam,
  customer: Type.String({ maxLength: 255, description: 'a Customer (cus_…)' }),
  statement_descriptor_suffix: Type.String({ maxLength: 22, description: 'appended to the statement descriptor (at most 22 characters)' })
})
export const CaptureBody = Obj(
  { payment_intent_id: Id('the PaymentIntent (pi_…)') },
  { amount_to_capture: Str('capture less than authorized') }
)
export const CancelBody = Obj({ payment_intent_id: Id('the PaymentIntent (pi_…)') }, {})
export const UpdateBody = Obj({ payment_intent_id: Id('the PaymentIntent (pi_…)') }, { receipt_email: Str('the only field updated') })
export const CreateSetupIntentBody = Obj({}, {
  payment_method_types: PaymentMethodTypes,
  customer: Str('a Customer id'),
  description: Str('free text'),
  on_behalf_of: Str('a connected account id')
})
export const AttachBody = Obj({ payment_method_id: Id('the PaymentMethod (pm_…)') }, {})
export const CreateLocationBody = Obj({}, {
  display_name: Str('the Location name'),
  address: Type.Record(Type.String(), Type.String({ maxLength: 500 }), { description: 'address[line1], address[city], address[country]…' })
})
export const ListReadersQuery = Type.Object({
  location: Type.Optional(Type.String({ maxLength: 255, description: 'only readers of this Location' })),
  status: Type.Optional(Type.Union([Type.Literal('online'), Type.Literal('offline')], { description: 'online or offline' }))
})
/** One page of a list: Stripe's cursor parameters, the answer still a top-level array (Stripe-Has-More and Link say the rest). */
const Paging = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'page size, 1–100 (default 100)' })),
  starting_after: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'the page after this id' })),
  ending_before: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'the page before this id' }))
}
export const ListLocationsQuery = Type.Object(Paging)
export const ListReadersPageQuery = Type.Object({ ...ListReadersQuery.properties, ...Paging })
const Address = CreateLocationBody.properties.address
export const LocationBody = Obj({ location_id: Id('the Location (tml_…)') }, {})
export const LocationQuery = Type.Object({ location_id: Id('the Location (tml_…)') }, { required: ['location_id'] })
export const UpdateLocationBody = Obj({ location_id: Id('the Location (tml_…)') }, {
  display_name: Str('the Location name'),
  address: Address,
  configuration_overrides: Type.String({
    maxLength: 255, description: 'a reader configuration (tmc_…) for this Location; empty clears it'
  }),
  metadata: MetadataParam
})
export const UpdateReaderBody = Obj({ reader_id: Id('the Reader (tmr_…)') }, {
  label: Str('a name for the reader'), metadata: MetadataParam
})
const Amounts = (what: string) => List(Type.Integer({ minimum: 0, maximum: 100_000_000 }), 3, 0, what)
const Tipping = Type.Record(Type.String(), Type.Object({
  percentages: Type.Optional(Amounts('up to 3 percentages offered')),
  fixed_amounts: Type.Optional(Amounts('up to 3 amounts offered, in the smallest unit')),
  smart_tip_threshold: Type.Optional(Type.Integer({
    minimum: 0, maximum: 100_000_000, description: 'below it fixed amounts, above it percentages'
  }))
}, { additionalProperties: false }), {
  maxProperties: 30, propertyNames: { pattern: '^[a-z]{3}$' }, description: 'tipping[usd][percentages][]=15, by currency'
})
const ConfigurationFields = {
  name: Str('a name for the configuration'),
  tipping: Tipping,
  offline: Type.Object({ enabled: Type.Boolean() }, { additionalProperties: false, description: 'offline[enabled]=true' }),
  reboot_window: Type.Object({
    start_hour: Type.Integer({ minimum: 0, maximum: 23 }),
    end_hour: Type.Integer({ minimum: 0, maximum: 23 })
  }, { additionalProperties: false, description: 'reboot_window[start_hour]=1&reboot_window[end_hour]=3' })
}
export const CreateConfigurationBody = Obj({}, ConfigurationFields)
export const UpdateConfigurationBody = Obj({ configuration_id: Id('the configuration (tmc_…)') }, ConfigurationFields)
export const ConfigurationBody = Obj({ configuration_id: Id('the configuration (tmc_…)') }, {})
export const ListConfigurationsQuery = Type.Object(Paging)
export const Deleted = Type.Object({ id: Type.String(), deleted: Type.Literal(true) }, { additionalProperties: true })
export const ProcessPaymentIntentBody = Obj({ reader_id: Id('the Reader (tmr_…)'), payment_intent_id: Id('the PaymentIntent (pi_…)') }, {
  process_config: Options({ ...ReaderPaymentOptions, return_url: Type.String({ maxLength: 2000, format: 'uri' }) },
    'process_config[skip_tipping], [tipping][amount_eligible], [enable_customer_cancellation], [return_url], [allow_redisplay]')
})
export const ProcessSetupIntentBody = Obj({ reader_id: Id('the Reader (tmr_…)'), setup_intent_id: Id('the SetupIntent (seti_…)') }, {
  process_config: Options({ enable_customer_cancellation: ReaderPaymentOptions.enable_customer_cancellation },
    'process_config[enable_customer_cancellation]')
})
const Line = Type.Object({
  description: Type.String({ minLength: 1, maxLength: 5000 }),
  amount: Type.Integer({ minimum: -99_999_999, maximum: 99_999_999 }),
  quantity: Type.Integer({ minimum: 1, maximum: 10_000 })
}, { additionalProperties: false })
export const SetReaderDisplayBody = Obj({
  reader_id: Id('the Reader (tmr_…)'),
  cart: Type.Object({
    currency: Type.String({ pattern: '^[a-zA-Z]{3}$' }),
    line_items: List(Line, 100, 1),
    tax: Type.Optional(Amount('tax, in the smallest unit')),
    total: Amount('the total, in the smallest unit')
  }, {
    additionalProperties: false,
    description: 'cart[currency], cart[line_items][0][description|amount|quantity], cart[tax], cart[total]'
  })
}, {})
const Text = (max: number) => Type.String({ minLength: 1, maxLength: max })
const Input = Type.Object({
  type: Type.Union(['signature', 'email', 'phone', 'text', 'numeric', 'selection'].map(v => Type.Literal(v))),
  custom_text: Type.Object({
    title: Text(40),
    description: Type.Optional(Text(500)),
    submit_button: Type.Optional(Text(14)),
    skip_button: Type.Optional(Text(14))
  }, { additionalProperties: false }),
  required: Type.Optional(Type.Boolean()),
  selection: Type.Optional(Type.Object({
    choices: List(Type.Object({
      id: Text(50), text: Text(30), style: Type.Optional(Type.Union([Type.Literal('primary'), Type.Literal('secondary')]))
    }, { additionalProperties: false }), 10, 1)
  }, { additionalProperties: false })),
  toggles: Type.Optional(List(Type.Object({
    title: Type.Optional(Text(50)),
    description: Type.Optional(Text(50)),
    default_value: Type.Optional(Type.Union([Type.Literal('enabled'), Type.Literal('disabled')]))
  }, { additionalProperties: false }), 3))
}, { additionalProperties: false })
export const CollectInputsBody = Obj({ reader_id: Id('the Reader (tmr_…)'), inputs: List(Input, 5, 1) }, {
  metadata: MetadataParam
})
const ReaderAndIntent = { reader_id: Id('the Reader (tmr_…)'), payment_intent_id: Id('the PaymentIntent (pi_…)') }
export const CollectPaymentMethodBody = Obj(ReaderAndIntent, {
  collect_config: Options(ReaderPaymentOptions,
    'collect_config[skip_tipping], [tipping][amount_eligible], [enable_customer_cancellation], [allow_redisplay]')
})
export const ConfirmPaymentIntentBody = Obj(ReaderAndIntent, {
  confirm_config: Options({ return_url: Type.String({ maxLength: 2000, format: 'uri' }) }, 'confirm_config[return_url]')
})
export const ReaderQuery = Type.Object({ reader_id: Id('the Reader (tmr_…)') }, { required: ['reader_id'] })
export const PaymentIntentQuery = Type.Object({ payment_intent_id: Id('the PaymentIntent (pi_…)') }, { required: ['payment_intent_id'] })
export const ReaderBody = Obj({ reader_id: Id('the Reader (tmr_…)') }, {})
export const SimulatePaymentBody = Obj({ reader_id: Id('the Reader (tmr_…)') }, {
  card_number: Type.String({ pattern: '^[0-9]{12,19}$', description: 'a test card number' })
})
export const RefundBody = Obj({}, {
  payment_intent_id: Id('the PaymentIntent to refund'),
  charge: Id('or the Charge to refund'),
  amount: Type.String({ pattern: '^[0-9]+$', maxLength: 12, description: 'part of the amount; default all' }),
  reader_id: Id('refund on this reader (in-person Interac)')
})
export const ReaderActionQuery = Type.Object({
  reader_id: Type.String({ minLength: 1, maxLength: 255, description: 'the Reader (tmr_…)' })
}, { required: ['reader_id'] })

export { StripeObject } from './common.js'
export const Secret = Type.Object({ secret: Type.String() })
export const IntentSecret = Type.Object({ intent: Type.String(), secret: Type.String() })
export const ReaderAction = Type.Object({
  reader_id: Type.String(),
  action: Type.Object({
    type: OrNull(Type.String()),
    status: OrNull(Type.String()),
    failure_code: OrNull(Type.String()),
    failure_message: OrNull(Type.String()),
    payment_intent: OrNull(Type.String({
      description: 'process_payment_intent, collect_payment_method, confirm_payment_intent, refund_payment'
    })),
    charge: OrNull(Type.String({ description: 'refund_payment of a charge' })),
    setup_intent: OrNull(Type.String({ description: 'process_setup_intent' })),
    inputs: OrNull(Type.Array(Type.Unknown(), { description: "collect_inputs: the inputs with the customer's answers" })),
    updated_at: Type.String({ format: 'date-time' })
  })
})

/** What every Terminal route's OpenAPI entry shares. */
export const tags = ['terminal']
export const security: Array<Record<string, string[]>> = [{ apiKey: [] }, { bearer: [] }]
export const consumes = ['application/x-www-form-urlencoded', 'application/json']
