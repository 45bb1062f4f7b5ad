// A virtual IP driver that tells an observer before it may add the address and after it removed it:
// the daemon's watchdog (src/ha/watchdog/) learns this way which address to remove should the
// daemon die or hang while holding it. "Before": an address added by a process that dies before it
// could say so would otherwise stay bound.
import type { VirtualIp, VirtualIpDriver, VirtualIpDriverKind } from './types.js';

export interface VipObserver {
  /** Awaited before acquire() starts. Should not throw: an error refuses the acquire. */
  willHold(vip: VirtualIp, driver: VirtualIpDriverKind): Promise<void>;
  /** Awaited after release() succeeded (not after a failed one: the address may still be bound). */
  released(vip: VirtualIp, driver: VirtualIpDriverKind): Promise<void>;
}

export function observeVipDriver(driver: VirtualIpDriver, observer: VipObserver): VirtualIpDriver {
  return {
    kind: driver.kind,
    inUse: (vip) => driver.inUse(vip),
    held: (vip) => driver.held(vip),
    async acquire(vip) {
      // A failed acquire leaves the observer's record in place: removing an address that is not
      // bound is a no-op, and the driver's rollback could itself have failed.
      await observer.willHold(vip, driver.kind);
      await driver.acquire(vip);
    },
    async release(vip) {
      await driver.release(vip);
      await observer.released(vip, driver.kind);
    },
  };
}
