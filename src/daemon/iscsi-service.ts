// Puts the configured targets on the wire: keeps one ScsiTarget per served target and one
// LogicalUnit (over a FileBlockDevice) per served LUN, in step with the target catalog, and runs the
// iSCSI portal over them.
//
// Invariants: a LUN's LogicalUnit is rebuilt only when its identity or settings change (so unit
// attentions and reservations survive unrelated edits); a grown volume keeps its LU and raises
// CAPACITY DATA HAS CHANGED; a target that stops being served has its sessions asked to log out;
// giving the virtual IP up cuts its sessions at once, with no answer to a command still in flight;
// every device opened here is closed (flushed) by `close()`.
import type { Logger } from 'pino';
import type { PrStateRepo } from '../config/repositories/pr-state-repo.js';
import { Mutex } from '../lib/mutex.js';
import type { HostPort } from '../lib/host-port.js';
import type { LoginTarget } from '../iscsi/login/login-machine.js';
import { IscsiPortal } from '../iscsi/transport/portal.js';
import { LogicalUnit } from '../scsi/lu/logical-unit.js';
import { prStateFromJson, prStateToJson } from '../scsi/lu/pr-state-json.js';
import { ScsiTarget } from '../scsi/lu/target-device.js';
import { FileBlockDevice } from '../storage/backends/file-device.js';
import type { BlockDevice } from '../storage/block-device.js';
import type { ServedLun, ServedTarget, TargetCatalog } from '../targets/target-catalog.js';

const VENDOR = 'TANDEM';
const PRODUCT = 'TANDEM VOLUME';

interface OpenLun {
  readonly iqn: string;
  readonly lun: number;
  readonly settingsKey: string;
  readonly volumeId: string;
  readonly device: BlockDevice;
  /** The device is the replication engine's mirror: flushed on close, never closed here. */
  readonly borrowed: boolean;
  readonly unit: LogicalUnit;
  size: number;
}

export class IscsiService {
  private readonly targets = new Map<string, ScsiTarget>();
  private readonly luns = new Map<string, OpenLun>(); // `${iqn}/${lun}` → open LU
  private readonly mutex = new Mutex();
  private readonly portal: IscsiPortal;
  /** The failover virtual IP served now: by its own portal, or covered by the main one (portal null). */
  private virtual: { host: string; portal: IscsiPortal | null } | undefined;
  private readonly log: Logger;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly catalog: TargetCatalog,
    private readonly prStates: PrStateRepo,
    private readonly options: {
      listen: HostPort;
      logger: Logger;
      revision: string;
      /** Replicated volumes are served through their mirror (or not at all on a secondary). */
      devices?: VolumeDevices;
    },
  ) {
    this.log = options.logger.child({ component: 'iscsi-service' });
    this.portal = this.newPortal(options.listen);
  }

  private newPortal(address: HostPort): IscsiPortal {
    return new IscsiPortal({
      host: address.host,
      port: address.port,
      logger: this.options.logger,
      targets: {
        loginTarget: (iqn) => this.loginTarget(iqn),
        discoverable: () =>
          this.catalog.served().map((t) => ({ iqn: t.iqn, allowedInitiators: t.allowedInitiators })),
        device: (iqn) => this.targets.get(iqn),
      },
    });
  }

  async start(): Promise<{ host: string; port: number }> {
    await this.sync();
    this.unsubscribe = this.catalog.onChange(() => void this.sync());
    const address = await this.portal.listen();
    return { host: address.address, port: address.port };
  }

  /**
   * Serves the targets on a virtual IP too (failover). When the main portal already listens on every
   * address at that port, the address is covered by it; otherwise a second portal listens on it.
   */
  async openVirtualPortal(address: { host: string; port: number }): Promise<void> {
    await this.closeVirtualPortal();
    this.portal.serveAddress(address.host);
    const main = this.options.listen;
    const covered = (main.host === '0.0.0.0' || main.host === '::') && main.port === address.port;
    if (covered) {
      this.virtual = { host: address.host, portal: null };
      return;
    }
    const portal = this.newPortal(address);
    await portal.listen();
    this.virtual = { host: address.host, portal };
    this.log.info({ portal: `${address.host}:${address.port}` }, 'serving on the virtual IP');
  }

  /**
   * Stops serving on the virtual IP at once (a release must not wait for initiators to leave): its
   * listener is closed and the sessions that came through it are cut, not asked to log out; a command
   * still in flight on them completes on the device but is never acknowledged. Connections to the
   * address that the main portal accepts later are cut too, until `openVirtualPortal`.
   */
  async closeVirtualPortal(): Promise<void> {
    const virtual = this.virtual;
    this.virtual = undefined;
    if (!virtual) return;
    const cut = this.portal.closeConnectionsTo(virtual.host);
    if (virtual.portal) await virtual.portal.close(0);
    this.log.info({ address: virtual.host, cut }, 'stopped serving on the virtual IP');
  }

  /** Re-reads which device serves each volume (replication roles changed). */
  refresh(): void {
    void this.sync();
  }

  /** Open sessions per target, on the main portal and the virtual IP's. */
  sessionsByTarget(): Map<string, number> {
    const counts = this.portal.sessionsByTarget();
    for (const [iqn, n] of this.virtual?.portal?.sessionsByTarget() ?? [])
      counts.set(iqn, (counts.get(iqn) ?? 0) + n);
    return counts;
  }

  /** Stop accepting, ask initiators to log out, then flush and close every volume. */
  async close(): Promise<void> {
    this.unsubscribe?.();
    await this.closeVirtualPortal();
    await this.portal.close();
    await this.mutex.run(async () => {
      for (const [key, open] of this.luns) {
        await this.closeLun(key, open);
      }
      this.targets.clear();
    });
  }

  private loginTarget(iqn: string): LoginTarget | undefined {
    const served = this.catalog.find(iqn);
    if (!served) return undefined;
    const outgoing = served.chapUsers.find((u) => u.direction === 'outgoing');
    return {
      iqn: served.iqn,
      alias: served.alias,
      allowedInitiators: served.allowedInitiators,
      chap: {
        incoming: served.chapUsers.filter((u) => u.direction === 'incoming'),
        ...(outgoing ? { outgoing } : {}),
      },
    };
  }

  /** Brings targets and LUs in line with the catalog. */
  private sync(): Promise<void> {
    return this.mutex.run(async () => {
      const served = new Map(this.catalog.served().map((t) => [t.iqn, t]));
      for (const [key, open] of this.luns) {
        const lun = served.get(open.iqn)?.luns.find((l) => l.lun === open.lun);
        if (!lun || this.settingsKey(open.iqn, lun) !== open.settingsKey) {
          this.targets.get(open.iqn)?.removeLogicalUnit(open.lun);
          await this.closeLun(key, open);
        }
      }
      for (const iqn of this.targets.keys()) if (!served.has(iqn)) this.targets.delete(iqn);
      for (const target of served.values()) await this.syncTarget(target);
      this.portal.dropSessionsOf((iqn) => served.has(iqn));
    });
  }

  private async syncTarget(served: ServedTarget): Promise<void> {
    let target = this.targets.get(served.iqn);
    if (!target) {
      target = new ScsiTarget({ vendor: VENDOR, product: PRODUCT, revision: this.options.revision });
      this.targets.set(served.iqn, target);
    }
    for (const lun of served.luns) {
      const key = `${served.iqn}/${lun.lun}`;
      const open = this.luns.get(key);
      if (open) {
        if (open.size !== lun.size && open.device instanceof FileBlockDevice) {
          open.size = await open.device.refreshSize();
          open.unit.resized();
        }
        continue;
      }
      try {
        const opened = await this.openLun(served.iqn, lun);
        this.luns.set(key, opened);
        target.addLogicalUnit(lun.lun, opened.unit);
      } catch (error) {
        this.log.error(
          { target: served.iqn, lun: lun.lun, volume: lun.volume, err: String(error) },
          'cannot open LUN',
        );
      }
    }
  }

  private async openLun(iqn: string, lun: ServedLun): Promise<OpenLun> {
    const replicated = this.options.devices?.deviceFor(lun.volumeId);
    if (replicated === null) {
      throw new Error(`volume ${lun.volume} is a replication secondary: it is served by the primary only`);
    }
    const device = replicated ?? (await FileBlockDevice.open(lun.path));
    const volumeId = lun.volumeId;
    const unit = new LogicalUnit({
      device,
      identity: {
        vendor: VENDOR,
        product: PRODUCT,
        revision: this.options.revision,
        serial: lun.serial,
        naa: lun.naa,
        targetName: iqn,
        targetPortName: `${iqn},t,0x0001`,
        relativeTargetPort: 1,
        thinProvisioned: lun.thin,
      },
      settings: { readOnly: lun.readOnly, writeBack: lun.writeBack },
      prStore: {
        load: () => {
          const text = this.prStates.load(volumeId);
          return text === undefined ? undefined : prStateFromJson(text);
        },
        save: (state) => {
          const json = prStateToJson(state);
          this.prStates.save(volumeId, json);
          this.options.devices?.prStateChanged?.(volumeId, json);
        },
      },
      // A replicated volume's reservations came from the primary (this node, or the peer before a
      // failover): they hold whatever APTPL says, as a failover is not a power loss.
      adoptSavedReservations: replicated !== undefined,
    });
    this.log.info({ target: iqn, lun: lun.lun, volume: lun.volume }, 'LUN online');
    return {
      iqn,
      lun: lun.lun,
      settingsKey: this.settingsKey(iqn, lun),
      volumeId,
      device,
      borrowed: replicated !== undefined,
      unit,
      size: device.size,
    };
  }

  private async closeLun(key: string, open: OpenLun): Promise<void> {
    this.luns.delete(key);
    try {
      await open.device.flush();
    } catch (error) {
      this.log.error({ lun: key, err: String(error) }, 'flush on close failed');
    }
    if (!open.borrowed) await open.device.close();
  }

  private settingsKey(iqn: string, lun: ServedLun): string {
    return settingsKey(iqn, lun, this.options.devices?.deviceKey(lun.volumeId) ?? 'plain');
  }
}

/** Where a replicated volume's device comes from (the replication service). */
export interface VolumeDevices {
  /** The device to serve; null: not served here now; undefined: not replicated, open the file. */
  deviceFor(volumeId: string): BlockDevice | null | undefined;
  /** Changes whenever deviceFor's answer does. */
  deviceKey(volumeId: string): string;
  /** A replicated volume's persistent reservations changed (JSON): the peer keeps a copy. */
  prStateChanged?(volumeId: string, state: string): void;
}

function settingsKey(iqn: string, lun: ServedLun, deviceKey: string): string {
  return JSON.stringify([
    deviceKey,
    iqn,
    lun.volumeId,
    lun.path,
    lun.readOnly,
    lun.writeBack,
    lun.serial,
    lun.naa,
    lun.thin,
  ]);
}
