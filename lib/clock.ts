/** Where time-dependent code reads the time, so tests advance it instead of sleeping. */
export interface Clock {
  /** milliseconds since the epoch, as Date.now() */
  now: () => number
}

export const systemClock: Clock = { now: () => Date.now() }
