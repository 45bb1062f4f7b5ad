// Limits password guessing on the API. Failed sign-ins are counted per client address and per user
// name (rate-limiter-flexible keeps the counters and lets them expire); after a few free failures each
// further one makes the key wait longer before the next attempt is even checked, and enough failures
// lock the key out for a while. A correct password resets both counters.
import { RateLimiterMemory } from 'rate-limiter-flexible';

export interface ThrottlePolicy {
  /** Failures that cost nothing (typos). */
  readonly freeFailures: number;
  /** Failures after which an address is locked out. */
  readonly addressLockAfter: number;
  /** Failures after which a user name is locked out (whatever address tries it). */
  readonly userLockAfter: number;
  readonly lockSeconds: number;
  /** The longest wait between attempts before the lockout. */
  readonly maxDelaySeconds: number;
  /** How long a failure is remembered. */
  readonly windowSeconds: number;
}

export const DEFAULT_THROTTLE_POLICY: ThrottlePolicy = {
  freeFailures: 3,
  addressLockAfter: 20,
  userLockAfter: 10,
  lockSeconds: 15 * 60,
  maxDelaySeconds: 30,
  windowSeconds: 15 * 60,
};

/** Seconds a key must wait after its `failures`-th failure: none while free, then 1, 2, 4, ... up to
 * the cap, and the lockout once `lockAfter` failures are reached. */
export function waitAfterFailure(failures: number, lockAfter: number, policy: ThrottlePolicy): number {
  if (failures >= lockAfter) return policy.lockSeconds;
  if (failures < policy.freeFailures) return 0;
  return Math.min(2 ** (failures - policy.freeFailures), policy.maxDelaySeconds);
}

export interface ThrottleVerdict {
  /** Milliseconds until the next attempt is checked; 0 = go ahead. */
  readonly waitMs: number;
  /** Which key is waiting: the address or the user name. */
  readonly reason: 'address' | 'user' | null;
}

export class LoginThrottle {
  readonly #failures: RateLimiterMemory;
  readonly #waits: RateLimiterMemory;

  constructor(readonly policy: ThrottlePolicy = DEFAULT_THROTTLE_POLICY) {
    // A counter only: nothing is ever refused by it (the points are out of reach); it expires.
    this.#failures = new RateLimiterMemory({
      keyPrefix: 'failures',
      points: Number.MAX_SAFE_INTEGER,
      duration: policy.windowSeconds,
    });
    // One point a second: a key blocked here must wait.
    this.#waits = new RateLimiterMemory({ keyPrefix: 'wait', points: 1, duration: 1 });
  }

  /** Whether an attempt from `address` for `user` may be checked now. */
  async check(address: string, user: string): Promise<ThrottleVerdict> {
    const [byAddress, byUser] = await Promise.all([
      this.#waitMs(addressKey(address)),
      this.#waitMs(userKey(user)),
    ]);
    if (byAddress === 0 && byUser === 0) return { waitMs: 0, reason: null };
    return byAddress >= byUser
      ? { waitMs: byAddress, reason: 'address' }
      : { waitMs: byUser, reason: 'user' };
  }

  async failed(address: string, user: string): Promise<void> {
    await Promise.all([
      this.#count(addressKey(address), this.policy.addressLockAfter),
      this.#count(userKey(user), this.policy.userLockAfter),
    ]);
  }

  async succeeded(address: string, user: string): Promise<void> {
    await Promise.all(
      [addressKey(address), userKey(user)].map((key) =>
        Promise.all([this.#failures.delete(key), this.#waits.delete(key)]),
      ),
    );
  }

  async #count(key: string, lockAfter: number): Promise<void> {
    const counted = await this.#failures.penalty(key, 1);
    const seconds = waitAfterFailure(counted.consumedPoints, lockAfter, this.policy);
    if (seconds > 0) await this.#waits.block(key, seconds);
  }

  async #waitMs(key: string): Promise<number> {
    const state = await this.#waits.get(key);
    if (!state || state.consumedPoints <= 1) return 0;
    return Math.max(0, state.msBeforeNext);
  }
}

const addressKey = (address: string): string => `a:${address}`;
const userKey = (user: string): string => `u:${user}`;
