import type { Clock } from '../../lib/clock.js'

/** A clock that moves only when the test says so. */
export class TestClock implements Clock {
  constructor (private time = Date.UTC(2026, 0, 1)) {}
  now (): number { return this.time }
  advance (ms: number): void { this.time += ms }
}
