import fp from 'fastify-plugin'
import type { Tracer } from '@opentelemetry/api'
import { redactSecrets } from '../../lib/redact.js'
import { VERSION } from '../../lib/version.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** set only when OTEL_EXPORTER_OTLP_ENDPOINT is: the Stripe client's spans come from it */
    tracer: Tracer | undefined
  }
}

/** The OTLP/HTTP traces URL from the standard base endpoint (the spec appends `v1/traces`). */
export const tracesUrl = (endpoint: string): string => new URL('v1/traces', endpoint.endsWith('/') ? endpoint : `${endpoint}/`).href

/**
 * OpenTelemetry traces, off (and not even loaded) unless OTEL_EXPORTER_OTLP_ENDPOINT is set: a span
 * per request through @fastify/otel, Fastify's own instrumentation (it accepts a caller's W3C
 * `traceparent`), exported over OTLP/HTTP in batches; the request's trace and span ids on each of
 * its log lines. Registered before every route, so every route is instrumented.
 */
export default fp(async function tracing (fastify) {
  const endpoint = fastify.config.OTEL_EXPORTER_OTLP_ENDPOINT
  if (endpoint === undefined || endpoint === '') {
    fastify.decorate('tracer', undefined)
    return
  }
  const [
    { NodeTracerProvider }, { BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }, { FastifyOtelInstrumentation }
  ] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'), import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/exporter-trace-otlp-http'), import('@opentelemetry/resources'), import('@fastify/otel')
  ])
  const name = fastify.config.OTEL_SERVICE_NAME ?? 'stripe-terminal-backend'
  const url = tracesUrl(endpoint)
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': name, 'service.version': VERSION }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }), { scheduledDelayMillis: 1000 })]
  })
  // the process-wide context manager (async context) and W3C propagator the instrumentation uses
  provider.register()
  const instrumentation = new FastifyOtelInstrumentation({
    registerOnInitialization: false,
    instrumentHooks: false,
    // url.path is the path only (the query may hold a key), with any key in it masked
    requestHook: (span, request) => {
      span.setAttribute('url.path', fastify.maskSecrets(redactSecrets((request.url.split('?', 1)[0] ?? ''))).slice(0, 200))
    }
  })
  instrumentation.setTracerProvider(provider)
  await fastify.register(instrumentation.plugin())

  fastify.addHook('onRequest', (request, reply, done) => {
    const info = request.opentelemetry()
    if (info.enabled) {
      const { traceId, spanId } = info.span.spanContext()
      reply.log = request.log = request.log.child({ trace_id: traceId, span_id: spanId })
    }
    done()
  })
  fastify.decorate('tracer', provider.getTracer('stripe-terminal-backend', VERSION))
  fastify.addHook('onClose', async () => { await provider.shutdown() })
  fastify.log.info({ endpoint: url }, 'tracing: exporting spans over OTLP/HTTP')
}, { name: 'tracing', dependencies: ['config'], fastify: '5.x' })
