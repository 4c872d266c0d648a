// @fastify/rate-limit ships its two stores as plain CommonJS files without types; the plugin
// accepts any class of this shape as `store` (its README, "Custom store").
declare module '@fastify/rate-limit/store/*.js' {
  export interface RateLimitResult { current: number, ttl: number }
  export default class Store {
    constructor (continueExceeding: boolean, exponentialBackoff: boolean, ...rest: unknown[])
    incr (key: string, cb: (err: Error | null, res?: RateLimitResult) => void, timeWindow: number, max: number): void
    child (routeOptions: object): Store
  }
}
