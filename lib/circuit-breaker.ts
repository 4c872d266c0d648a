/**
 * A circuit breaker for an optional dependency (Redis): the first failure opens it, and while it is
 * open callers skip the dependency at once instead of each waiting out a timeout. One probe at a
 * time, at most every `probeEveryMs`, started by a caller that finds it open, closes it when the
 * probe succeeds. `opened` and `closed` are called once per outage, for one log line each.
 */
export class CircuitBreaker {
  private openSince: number | undefined
  private lastProbe = -Infinity
  private probing = false

  constructor (
    private readonly probe: () => Promise<unknown>,
    private readonly on: { opened: (err: Error) => void, closed: () => void },
    private readonly probeEveryMs = 1_000,
    private readonly now: () => number = () => performance.now()
  ) {}

  get isOpen (): boolean {
    return this.openSince !== undefined
  }

  /** true when the dependency may be used; while open, may start a probe and says false */
  usable (): boolean {
    if (this.openSince === undefined) return true
    const now = this.now()
    if (!this.probing && now - this.lastProbe >= this.probeEveryMs) {
      this.probing = true
      this.lastProbe = now
      this.probe().then(() => { this.close() }, () => {}).finally(() => { this.probing = false })
    }
    return false
  }

  failed (err: Error): void {
    if (this.openSince !== undefined) return
    this.openSince = this.now()
    // the next probe waits a full interval: the dependency just failed
    this.lastProbe = this.openSince
    this.on.opened(err)
  }

  close (): void {
    if (this.openSince === undefined) return
    this.openSince = undefined
    this.on.closed()
  }
}
