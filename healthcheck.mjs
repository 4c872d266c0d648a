// The container's HEALTHCHECK: GET /health on the service's own port. Node only, no curl needed.
const port = process.env.PORT || 4567
fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(3000) })
  .then(res => process.exit(res.ok ? 0 : 1), () => process.exit(1))
