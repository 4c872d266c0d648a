import AjvCompiler from '@fastify/ajv-compiler'
import SerializerSelector from '@fastify/fast-json-stringify-compiler'

type BuildValidator = ReturnType<typeof AjvCompiler>
type BuildSerializer = ReturnType<typeof SerializerSelector>
type Validate = ((data: unknown) => unknown) & { errors?: unknown }

/**
 * Fastify's own compilers (Ajv for requests, fast-json-stringify for responses), each route's
 * schema compiled on the route's first request instead of at start. Compiling every route's
 * schemas was the largest part of the cold start (about 40 % of it, most of the gap to a bare
 * server: docs/performance.md); a till's first call of a route pays a few ms once instead.
 * Schemas are still checked before anything ships: test/project/schemas.test.ts compiles them all.
 */
export function lazySchemaCompilers (): { buildValidator: BuildValidator, buildSerializer: BuildSerializer } {
  const validators = AjvCompiler()
  const serializers = SerializerSelector()
  return {
    // cast: the same factory signature as Fastify's default; only when its compile runs changes
    buildValidator: ((externalSchemas: unknown, options: unknown) => {
      // the Ajv instance too is made on the first compile
      let compile: ((route: unknown) => Validate) | undefined
      return (route: unknown) => {
        let validate: Validate | undefined
        // Fastify reads `errors` off the function it was given after a `false`
        const lazy: Validate = (data) => {
          compile ??= (validators as (...args: unknown[]) => (route: unknown) => Validate)(externalSchemas, options)
          validate ??= compile(route)
          const valid = validate(data)
          lazy.errors = validate.errors
          return valid
        }
        return lazy
      }
    }) as BuildValidator,
    buildSerializer: (externalSchemas, options) => {
      let compile: ReturnType<BuildSerializer> | undefined
      return route => {
        let serialize: ((doc: unknown) => string) | undefined
        return doc => (serialize ??= (compile ??= serializers(externalSchemas, options))(route))(doc)
      }
    }
  }
}
