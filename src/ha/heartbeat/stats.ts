// Small pure estimators for one link: inter-arrival jitter and NTP-style clock offset / RTT.

export interface Percentiles {
  readonly samples: number;
  readonly p50: number | null;
  readonly p99: number | null;
  readonly max: number | null;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? null;
}

/** |inter-arrival − expected interval| over the last `capacity` scheduled beats. */
export class JitterWindow {
  readonly #samples: number[] = [];
  #lastArrival: number | null = null;

  constructor(
    readonly intervalMs: number,
    readonly capacity = 120,
  ) {}

  /** A scheduled beat arrived at `arrivalMs` (monotonic). */
  arrival(arrivalMs: number): void {
    if (this.#lastArrival !== null) {
      this.#samples.push(Math.abs(arrivalMs - this.#lastArrival - this.intervalMs));
      if (this.#samples.length > this.capacity) this.#samples.shift();
    }
    this.#lastArrival = arrivalMs;
  }

  /** The sender restarted or the link was cut: the next interval is not a sample. */
  reset(): void {
    this.#lastArrival = null;
  }

  stats(): Percentiles {
    const sorted = [...this.#samples].sort((a, b) => a - b);
    return {
      samples: sorted.length,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      max: sorted.length === 0 ? null : (sorted[sorted.length - 1] ?? null),
    };
  }
}

/**
 * One exchange, NTP's four timestamps: t1 we sent (our wall clock), t2 the peer received and t3 it
 * sent (its wall clock; t2 = t3 − held), t4 we received (our wall clock). `roundTripMs` is measured
 * on our monotonic clock when available, which is steadier than wall-clock subtraction.
 */
export interface ClockSample {
  readonly roundTripMs: number;
  /** Peer clock minus our clock. */
  readonly offsetMs: number;
}

export function clockSample(
  t1: number,
  t3: number,
  heldMs: number,
  t4: number,
  roundTripMs?: number,
): ClockSample {
  const t2 = t3 - heldMs;
  return {
    roundTripMs: roundTripMs ?? Math.max(0, t4 - t1 - heldMs),
    offsetMs: (t2 - t1 + (t3 - t4)) / 2,
  };
}

/** Keeps recent samples; reports the latest RTT and the offset of the lowest-RTT sample (NTP's filter). */
export class ClockEstimator {
  readonly #samples: ClockSample[] = [];

  constructor(readonly capacity = 16) {}

  add(sample: ClockSample): void {
    this.#samples.push(sample);
    if (this.#samples.length > this.capacity) this.#samples.shift();
  }

  reset(): void {
    this.#samples.length = 0;
  }

  get rttMs(): number | null {
    return this.#samples.at(-1)?.roundTripMs ?? null;
  }

  get offsetMs(): number | null {
    let best: ClockSample | undefined;
    for (const sample of this.#samples) if (!best || sample.roundTripMs < best.roundTripMs) best = sample;
    return best?.offsetMs ?? null;
  }
}
