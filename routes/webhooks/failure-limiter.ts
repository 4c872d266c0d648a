/**
 * Counts failures per key (an IP) in fixed windows of `windowMs`, in this process. Bounded: past
 * `maxKeys` the oldest key is forgotten.
 */
export class FailureLimiter {
  private readonly windows = new Map<string, { count: number, resetAt: number }>()

  constructor (readonly windowMs: number, readonly maxKeys = 10_000) {}

  /** The failures of `key` in its current window, and the seconds until that window ends. */
  count (key: string, now = Date.now()): { failures: number, resetInSeconds: number } {
    const w = this.windows.get(key)
    if (w === undefined || w.resetAt <= now) return { failures: 0, resetInSeconds: 0 }
    return { failures: w.count, resetInSeconds: Math.ceil((w.resetAt - now) / 1000) }
  }

  fail (key: string, now = Date.now()): void {
    const w = this.windows.get(key)
    if (w !== undefined && w.resetAt > now) {
      w.count++
      return
    }
    this.windows.delete(key)
    if (this.windows.size >= this.maxKeys) {
      const oldest = this.windows.keys().next()
      if (oldest.done !== true) this.windows.delete(oldest.value)
    }
    this.windows.set(key, { count: 1, resetAt: now + this.windowMs })
  }
}
