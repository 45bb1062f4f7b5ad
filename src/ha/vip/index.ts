// Picks the virtual IP driver a node is configured with.
import type { ProgramRunner } from '../../network/interfaces.js';
import { Iproute2VipDriver } from './iproute2-driver.js';
import { LoopbackVipDriver } from './loopback-driver.js';
import type { VirtualIpDriver, VirtualIpDriverKind } from './types.js';

export type { VirtualIp, VirtualIpDriver, VirtualIpDriverKind } from './types.js';
export { VIRTUAL_IP_DRIVER_KINDS } from './types.js';
export { Iproute2VipDriver } from './iproute2-driver.js';
export { LoopbackVipDriver } from './loopback-driver.js';

export function createVipDriver(
  kind: VirtualIpDriverKind,
  options: { run?: ProgramRunner } = {},
): VirtualIpDriver {
  switch (kind) {
    case 'iproute2':
      return new Iproute2VipDriver(options.run ? { run: options.run } : {});
    case 'loopback':
      return new LoopbackVipDriver();
  }
}
