// A simulated clock, sync source and peer for the resync rate controller. The peer is a FIFO server:
// each request waits for the ones before it, takes size / serviceRate to write, and its acknowledgement
// arrives `propagationMs` later. Application load is modelled by changing the peer over time (less
// service rate, more delay).
import type { ResyncRateController } from '../../../../src/replication/state/rate-controller.js';

export interface PeerConditions {
  readonly propagationMs: number;
  readonly serviceBytesPerSecond: number;
}

export interface SimulationOptions {
  readonly durationMs: number;
  readonly requestBytes: number;
  /** The peer at each moment. */
  readonly peer: (nowMs: number) => PeerConditions;
  /** Where the simulated clock starts; default 1000 (any monotonic origin must work). */
  readonly startMs?: number;
  /** Application write latency the engine observes, passed to `allowance` each millisecond. */
  readonly applicationLatencyMs?: (nowMs: number) => number | undefined;
}

export interface SimulationResult {
  readonly startMs: number;
  /** Bytes acknowledged in [fromMs, toMs), per second. */
  ackedRate(fromMs: number, toMs: number): number;
  /** Bytes sent in [fromMs, toMs), per second. */
  sentRate(fromMs: number, toMs: number): number;
  /** The largest number of bytes sent within any `spanMs` in [fromMs, toMs). */
  maxSentWithin(spanMs: number, fromMs: number, toMs: number): number;
  /** Mean acknowledgement latency of requests acknowledged in [fromMs, toMs). */
  meanLatency(fromMs: number, toMs: number): number;
  readonly totalAcked: number;
}

interface InFlight {
  readonly bytes: number;
  readonly sentMs: number;
  readonly ackMs: number;
}

export function simulate(controller: ResyncRateController, options: SimulationOptions): SimulationResult {
  const startMs = options.startMs ?? 1000;
  const ticks = options.durationMs;
  const sentPerTick = new Array<number>(ticks).fill(0);
  const ackedPerTick = new Array<number>(ticks).fill(0);
  const latencySumPerTick = new Array<number>(ticks).fill(0);
  const acksPerTick = new Array<number>(ticks).fill(0);
  let inFlight: InFlight[] = [];
  let inFlightBytes = 0;
  let peerFreeAtMs = startMs;

  for (let tick = 0; tick < ticks; tick++) {
    const now = startMs + tick;
    const arrived = inFlight.filter((r) => r.ackMs <= now);
    inFlight = inFlight.filter((r) => r.ackMs > now);
    for (const request of arrived) {
      const latency = now - request.sentMs;
      controller.record(now, request.bytes, latency);
      inFlightBytes -= request.bytes;
      ackedPerTick[tick] = (ackedPerTick[tick] ?? 0) + request.bytes;
      latencySumPerTick[tick] = (latencySumPerTick[tick] ?? 0) + latency;
      acksPerTick[tick] = (acksPerTick[tick] ?? 0) + 1;
    }
    const peer = options.peer(now);
    const applicationLatency = options.applicationLatencyMs?.(now);
    while (controller.allowance(now, inFlightBytes, applicationLatency) > 0) {
      const bytes = options.requestBytes;
      controller.sent(now, bytes);
      peerFreeAtMs = Math.max(peerFreeAtMs, now) + (bytes * 1000) / peer.serviceBytesPerSecond;
      inFlight.push({ bytes, sentMs: now, ackMs: peerFreeAtMs + peer.propagationMs });
      inFlightBytes += bytes;
      sentPerTick[tick] = (sentPerTick[tick] ?? 0) + bytes;
    }
  }

  const index = (ms: number): number => Math.min(ticks, Math.max(0, Math.round(ms - startMs)));
  const sum = (values: number[], fromMs: number, toMs: number): number =>
    values.slice(index(fromMs), index(toMs)).reduce((a, b) => a + b, 0);

  return {
    startMs,
    ackedRate: (fromMs, toMs) => (sum(ackedPerTick, fromMs, toMs) * 1000) / (toMs - fromMs),
    sentRate: (fromMs, toMs) => (sum(sentPerTick, fromMs, toMs) * 1000) / (toMs - fromMs),
    maxSentWithin(spanMs, fromMs, toMs) {
      let max = 0;
      for (let t = fromMs; t + spanMs <= toMs; t++) max = Math.max(max, sum(sentPerTick, t, t + spanMs));
      return max;
    },
    meanLatency(fromMs, toMs) {
      const count = sum(acksPerTick, fromMs, toMs);
      return count === 0 ? Number.NaN : sum(latencySumPerTick, fromMs, toMs) / count;
    },
    totalAcked: ackedPerTick.reduce((a, b) => a + b, 0),
  };
}
