// A stand-in for the daemon in the watchdog tests: starts the real VipWatchdog client, takes the
// virtual IP through an observed driver (as the failover service does through node.ts), and then
// does what the test says:
//   SIGTERM  clean shutdown: release the address (unless `keepOnStop`), stop the watchdog, exit 0
//   SIGUSR1  block the event loop (a hang of the main loop alone) for `blockMs`
// Run: node --import tsx test/helpers/fake-vip-daemon.ts '<json FakeDaemonConfig>'
// Prints one JSON line on stdout once it holds the address: {"ready":true,"watchdogPid":N}.
import { createServer, type Server } from 'node:net';
import { Iproute2VipDriver } from '../../src/ha/vip/iproute2-driver.js';
import { LoopbackVipDriver } from '../../src/ha/vip/loopback-driver.js';
import { observeVipDriver } from '../../src/ha/vip/observed-driver.js';
import type { VirtualIp, VirtualIpDriver } from '../../src/ha/vip/types.js';
import { VipWatchdog } from '../../src/ha/watchdog/client.js';
import { createLogger } from '../../src/observability/logger.js';

export interface FakeDaemonConfig {
  readonly vip: VirtualIp;
  readonly driver: 'iproute2' | 'loopback';
  readonly timers: { readonly intervalMs: number; readonly deadTimeMs: number };
  readonly keepOnStop?: boolean;
  readonly blockMs?: number;
}

const config = JSON.parse(process.argv[2] ?? '{}') as FakeDaemonConfig;
const logger = createLogger({ level: 'info', destination: process.stderr });
const watchdog = new VipWatchdog({ logger, timers: () => config.timers });
const inner: VirtualIpDriver =
  config.driver === 'iproute2' ? new Iproute2VipDriver() : new LoopbackVipDriver();
const driver = observeVipDriver(inner, watchdog);

await watchdog.start();
await driver.acquire(config.vip);
// The loopback driver's address is held by serving on it, as the daemon's iSCSI portal does.
let portal: Server | undefined;
if (config.driver === 'loopback') {
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(config.vip.port, config.vip.address, resolve));
  portal = server;
}

process.on('SIGTERM', () => {
  void (async () => {
    if (config.keepOnStop !== true) {
      portal?.close();
      await driver.release(config.vip);
    }
    await watchdog.stop();
    process.stdout.write(`${JSON.stringify({ stopped: true })}\n`);
    process.exit(0);
  })();
});
process.on('SIGUSR1', () => {
  const until = performance.now() + (config.blockMs ?? 60_000);
  while (performance.now() < until) {
    // A main loop that never yields: no beat leaves.
  }
});
process.stdout.write(`${JSON.stringify({ ready: true, watchdogPid: watchdog.pid })}\n`);
setInterval(() => undefined, 60_000);
