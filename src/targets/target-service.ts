// The iSCSI target manager: targets, their LUN maps, CHAP users, initiator allow lists.
//
// Invariants: IQNs are unique and valid (RFC 7143 §4.2.7); a LUN number appears once per target; a
// volume is exported by at most one LUN, and only iSCSI volumes are exported; serials and NAA ids are
// unique on this node; CHAP sets follow chap.ts. Every change is validated in full before it is saved
// as one transaction, then announced on the change feed so the running portal follows it.
import { randomUUID } from 'node:crypto';
import type { ChangeFeed } from '../config/change-feed.js';
import type { Repositories } from '../config/repositories/index.js';
import type {
  ChapDirection,
  ChapUserRecord,
  LunRecord,
  TargetRecord,
} from '../config/repositories/targets-repo.js';
import { conflict, invalid, notFound } from '../lib/errors.js';
import { defaultTargetIqn, normalizeIscsiName } from '../lib/iscsi-name.js';
import { validateChapSet } from './chap.js';
import { defaultNaa, defaultSerial, validateNaa, validateSerial } from './identity.js';

export const MAX_LUN = 255;
const ALIAS_PATTERN = /^[\x20-\x7e]{0,255}$/;

export interface LunInput {
  readonly lun: number;
  readonly volume: string;
  readonly serial?: string;
  readonly naa?: string;
  readonly readOnly?: boolean;
  readonly writeBack?: boolean;
}

export interface LunUpdate {
  readonly serial?: string;
  readonly naa?: string;
  readonly readOnly?: boolean;
  readonly writeBack?: boolean;
}

export interface CreateTargetInput {
  readonly iqn?: string;
  readonly alias?: string | null;
  readonly enabled?: boolean;
  readonly luns?: readonly LunInput[];
  readonly chapUsers?: readonly ChapUserRecord[];
  readonly allowedInitiators?: readonly string[];
}

export interface LunView extends LunRecord {
  readonly volume: string;
  readonly size: number;
}

/** A target as shown to people: CHAP secrets never leave the node. */
export interface TargetView {
  readonly iqn: string;
  readonly alias: string | null;
  readonly enabled: boolean;
  readonly createdAt: string;
  readonly luns: readonly LunView[];
  readonly chapUsers: readonly { readonly direction: ChapDirection; readonly username: string }[];
  readonly allowedInitiators: readonly string[];
}

export class TargetService {
  /** Says why a volume may not be exported now (a replication secondary), or null. Set by the daemon. */
  replicaGuard: (volumeId: string) => string | null = () => null;

  constructor(
    private readonly repos: Repositories,
    private readonly changes: ChangeFeed,
    private readonly hostname: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  list(): TargetView[] {
    return this.repos.targets.list().map((t) => this.view(t));
  }

  show(iqn: string): TargetView {
    return this.view(this.get(iqn));
  }

  /** The full record, secrets included, for the iSCSI portal. */
  get(iqn: string): TargetRecord {
    const name = normalizeIscsiName(iqn);
    const target = this.repos.targets.byIqn(name);
    if (!target) throw notFound('target-not-found', `target ${name} does not exist`);
    return target;
  }

  create(input: CreateTargetInput): TargetView {
    const iqn = input.iqn === undefined ? this.nextDefaultIqn() : normalizeIscsiName(input.iqn);
    if (this.repos.targets.byIqn(iqn)) throw conflict('target-exists', `target ${iqn} already exists`);
    const target: TargetRecord = {
      id: randomUUID(),
      iqn,
      alias: validateAlias(input.alias ?? null),
      enabled: input.enabled ?? true,
      createdAt: this.now().toISOString(),
      luns: [],
      chapUsers: input.chapUsers ?? [],
      allowedInitiators: (input.allowedInitiators ?? []).map((name) => normalizeIscsiName(name)),
    };
    const withLuns = (input.luns ?? []).reduce((t, lun) => this.withLun(t, lun), target);
    return this.save(withLuns, 'created');
  }

  update(iqn: string, input: { alias?: string | null; enabled?: boolean }): TargetView {
    const target = this.get(iqn);
    return this.save(
      {
        ...target,
        alias: input.alias === undefined ? target.alias : validateAlias(input.alias),
        enabled: input.enabled ?? target.enabled,
      },
      'updated',
    );
  }

  delete(iqn: string): void {
    const target = this.get(iqn);
    this.repos.targets.delete(target.id);
    this.changes.emit('targets', { iqn: target.iqn, action: 'deleted' });
  }

  addLun(iqn: string, lun: LunInput): TargetView {
    return this.save(this.withLun(this.get(iqn), lun), 'updated');
  }

  updateLun(iqn: string, lunNumber: number, update: LunUpdate): TargetView {
    const target = this.get(iqn);
    const current = target.luns.find((l) => l.lun === lunNumber);
    if (!current) throw notFound('lun-not-found', `target ${target.iqn} has no LUN ${lunNumber}`);
    const changed: LunRecord = {
      ...current,
      serial: update.serial === undefined ? current.serial : validateSerial(update.serial),
      naa: update.naa === undefined ? current.naa : validateNaa(update.naa),
      readOnly: update.readOnly ?? current.readOnly,
      writeBack: update.writeBack ?? current.writeBack,
    };
    this.checkIdentityUnique(changed, target.iqn);
    return this.save(
      { ...target, luns: target.luns.map((l) => (l.lun === lunNumber ? changed : l)) },
      'updated',
    );
  }

  removeLun(iqn: string, lunNumber: number): TargetView {
    const target = this.get(iqn);
    if (!target.luns.some((l) => l.lun === lunNumber)) {
      throw notFound('lun-not-found', `target ${target.iqn} has no LUN ${lunNumber}`);
    }
    return this.save({ ...target, luns: target.luns.filter((l) => l.lun !== lunNumber) }, 'updated');
  }

  addChapUser(iqn: string, user: ChapUserRecord): TargetView {
    const target = this.get(iqn);
    return this.save({ ...target, chapUsers: [...target.chapUsers, user] }, 'updated');
  }

  removeChapUser(iqn: string, direction: ChapDirection, username: string): TargetView {
    const target = this.get(iqn);
    const remaining = target.chapUsers.filter((u) => !(u.direction === direction && u.username === username));
    if (remaining.length === target.chapUsers.length) {
      throw notFound(
        'chap-user-not-found',
        `target ${target.iqn} has no ${direction} CHAP user "${username}"`,
      );
    }
    return this.save({ ...target, chapUsers: remaining }, 'updated');
  }

  allowInitiator(iqn: string, initiator: string): TargetView {
    const target = this.get(iqn);
    const name = normalizeIscsiName(initiator);
    if (target.allowedInitiators.includes(name)) {
      throw conflict('initiator-already-allowed', `${name} is already allowed on ${target.iqn}`);
    }
    return this.save({ ...target, allowedInitiators: [...target.allowedInitiators, name] }, 'updated');
  }

  disallowInitiator(iqn: string, initiator: string): TargetView {
    const target = this.get(iqn);
    const name = normalizeIscsiName(initiator);
    if (!target.allowedInitiators.includes(name)) {
      throw notFound('initiator-not-allowed', `${name} is not on the allow list of ${target.iqn}`);
    }
    return this.save(
      { ...target, allowedInitiators: target.allowedInitiators.filter((n) => n !== name) },
      'updated',
    );
  }

  private withLun(target: TargetRecord, input: LunInput): TargetRecord {
    if (!Number.isInteger(input.lun) || input.lun < 0 || input.lun > MAX_LUN) {
      throw invalid('bad-lun', `LUN must be a whole number from 0 to ${MAX_LUN}`);
    }
    if (target.luns.some((l) => l.lun === input.lun)) {
      throw conflict('lun-exists', `target ${target.iqn} already has LUN ${input.lun}`);
    }
    const volume = this.repos.volumes.byName(input.volume);
    if (!volume) throw notFound('volume-not-found', `volume "${input.volume}" does not exist`);
    if (volume.type !== 'iscsi') {
      throw invalid(
        'volume-not-iscsi',
        `volume "${volume.name}" is a ${volume.type} volume; only iSCSI volumes can be LUNs`,
      );
    }
    const refusal = this.replicaGuard(volume.id);
    if (refusal !== null) throw conflict('volume-is-replica', `volume "${volume.name}" ${refusal}`);
    const mapping = this.repos.targets.mappingOfVolume(volume.id);
    const mappedHere = target.luns.find((l) => l.volumeId === volume.id);
    if ((mapping && mapping.iqn !== target.iqn) || mappedHere) {
      const where = mappedHere
        ? `${target.iqn} LUN ${mappedHere.lun}`
        : `${mapping?.iqn ?? '?'} LUN ${mapping?.lun ?? '?'}`;
      throw conflict('volume-already-exported', `volume "${volume.name}" is already exported by ${where}`);
    }
    const lun: LunRecord = {
      lun: input.lun,
      volumeId: volume.id,
      serial: input.serial === undefined ? defaultSerial(volume.id) : validateSerial(input.serial),
      naa: input.naa === undefined ? defaultNaa(volume.id) : validateNaa(input.naa),
      readOnly: input.readOnly ?? false,
      writeBack: input.writeBack ?? false,
    };
    this.checkIdentityUnique(lun, target.iqn);
    for (const other of target.luns) {
      if (other.serial === lun.serial)
        throw conflict('serial-in-use', `SCSI ID ${lun.serial} is already used by LUN ${other.lun}`);
      if (other.naa === lun.naa)
        throw conflict('naa-in-use', `NAA ${lun.naa} is already used by LUN ${other.lun}`);
    }
    return { ...target, luns: [...target.luns, lun].sort((a, b) => a.lun - b.lun) };
  }

  /** Serial and NAA must not repeat on this node (other targets, or other LUNs of this one). */
  private checkIdentityUnique(lun: LunRecord, iqn: string): void {
    for (const used of this.repos.targets.identitiesInUse()) {
      if (used.iqn === iqn && used.lun === lun.lun) continue;
      if (used.serial === lun.serial) {
        throw conflict(
          'serial-in-use',
          `SCSI ID ${lun.serial} is already used by ${used.iqn} LUN ${used.lun}`,
        );
      }
      if (used.naa === lun.naa)
        throw conflict('naa-in-use', `NAA ${lun.naa} is already used by ${used.iqn} LUN ${used.lun}`);
    }
  }

  private save(target: TargetRecord, action: 'created' | 'updated'): TargetView {
    validateChapSet(target.chapUsers);
    this.repos.targets.save(target);
    this.changes.emit('targets', { iqn: target.iqn, action });
    return this.view(target);
  }

  private nextDefaultIqn(): string {
    const prefix = defaultTargetIqn(this.hostname, this.now(), 0).replace(/0$/, '');
    const used = this.repos.targets
      .list()
      .map((t) => /\.target(\d+)$/.exec(t.iqn)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number);
    const next = used.length === 0 ? 0 : Math.max(...used) + 1;
    return normalizeIscsiName(`${prefix}${next}`);
  }

  private view(target: TargetRecord): TargetView {
    return {
      iqn: target.iqn,
      alias: target.alias,
      enabled: target.enabled,
      createdAt: target.createdAt,
      luns: target.luns.map((lun) => {
        const volume = this.repos.volumes.byId(lun.volumeId);
        return { ...lun, volume: volume?.name ?? '?', size: volume?.size ?? 0 };
      }),
      chapUsers: target.chapUsers.map((u) => ({ direction: u.direction, username: u.username })),
      allowedInitiators: target.allowedInitiators,
    };
  }
}

function validateAlias(alias: string | null): string | null {
  if (alias === null || alias === '') return null;
  if (!ALIAS_PATTERN.test(alias))
    throw invalid('bad-alias', 'target alias must be at most 255 printable ASCII characters');
  return alias;
}
