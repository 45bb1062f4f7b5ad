import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TandemError } from '../../../src/lib/errors.js';
import { defaultNaa, defaultSerial, validateNaa } from '../../../src/targets/identity.js';
import { TargetCatalog } from '../../../src/targets/target-catalog.js';
import { makeServices, storeSnapshot, type TestServices } from '../../helpers/services.js';

const GiB = 2 ** 30;
const IQN = 'iqn.2026-11.com.example:storage.t1';

function refused(s: TestServices, action: () => unknown, code: string): TandemError {
  const before = storeSnapshot(s.repos);
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof TandemError, `expected ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.equal(storeSnapshot(s.repos), before, 'a refused request changes nothing');
  return caught;
}

async function withVolumes(t: Parameters<typeof makeServices>[0], ...names: string[]): Promise<TestServices> {
  const s = await makeServices(t, {
    hostname: 'san1.lab.example.com',
    now: () => new Date(Date.UTC(2026, 10, 26)),
  });
  for (const name of names) await s.volumes.create({ name, type: 'iscsi', size: GiB });
  return s;
}

describe('iSCSI target manager', () => {
  it('generates default IQNs iqn.YYYY-MM.<reversed domain>:<host>.target<N>', async (t) => {
    const s = await withVolumes(t);
    assert.equal(s.targets.create({}).iqn, 'iqn.2026-11.com.example.lab:san1.target0');
    assert.equal(s.targets.create({}).iqn, 'iqn.2026-11.com.example.lab:san1.target1');
    s.targets.delete('iqn.2026-11.com.example.lab:san1.target0');
    assert.equal(s.targets.create({}).iqn, 'iqn.2026-11.com.example.lab:san1.target2');
  });

  it('maps LUNs with identities derived from the volume, settable for a failover pair', async (t) => {
    const s = await withVolumes(t, 'v1', 'v2');
    const volume = s.volumes.get('v1');
    const target = s.targets.create({
      iqn: IQN.toUpperCase(),
      luns: [
        { lun: 0, volume: 'v1' },
        {
          lun: 7,
          volume: 'v2',
          serial: 'PAIRSERIAL01',
          naa: 'naa.6001405ABCDEF0123456789ABCDEF012',
          writeBack: true,
        },
      ],
    });
    assert.equal(target.iqn, IQN, 'names are normalized to lower case');
    assert.deepEqual(
      target.luns.map((l) => [l.lun, l.volume, l.serial, l.naa, l.writeBack, l.readOnly]),
      [
        [0, 'v1', defaultSerial(volume.id), defaultNaa(volume.id), false, false],
        [7, 'v2', 'PAIRSERIAL01', '6001405abcdef0123456789abcdef012', true, false],
      ],
    );
    assert.match(defaultNaa(volume.id), /^3[0-9a-f]{15}$/);
    const changed = s.targets.updateLun(IQN, 0, { readOnly: true, serial: 'NEWID' });
    assert.equal(changed.luns[0]?.readOnly, true);
    assert.equal(changed.luns[0].serial, 'NEWID');
    assert.deepEqual(
      s.targets.removeLun(IQN, 7).luns.map((l) => l.lun),
      [0],
    );
  });

  it('refuses bad LUN maps and leaves the store unchanged', async (t) => {
    const s = await withVolumes(t, 'v1', 'v2');
    await s.volumes.create({ name: 'share', type: 'nas', size: GiB });
    await s.volumes.create({ name: 'fc1', type: 'fc', size: GiB });
    s.targets.create({ iqn: IQN, luns: [{ lun: 1, volume: 'v1' }] });
    refused(s, () => s.targets.addLun(IQN, { lun: 2, volume: 'share' }), 'volume-not-iscsi');
    refused(s, () => s.targets.addLun(IQN, { lun: 2, volume: 'fc1' }), 'volume-not-iscsi');
    refused(s, () => s.targets.addLun(IQN, { lun: 1, volume: 'v2' }), 'lun-exists');
    refused(s, () => s.targets.addLun(IQN, { lun: 256, volume: 'v2' }), 'bad-lun');
    refused(s, () => s.targets.addLun(IQN, { lun: -1, volume: 'v2' }), 'bad-lun');
    refused(s, () => s.targets.addLun(IQN, { lun: 2, volume: 'v1' }), 'volume-already-exported');
    refused(s, () => s.targets.addLun(IQN, { lun: 2, volume: 'missing' }), 'volume-not-found');
    refused(s, () => s.targets.addLun(IQN, { lun: 2, volume: 'v2', serial: 'bad serial!' }), 'bad-serial');
    refused(s, () => s.targets.addLun(IQN, { lun: 2, volume: 'v2', naa: '1234' }), 'bad-naa');
    const firstSerial = s.targets.show(IQN).luns[0]?.serial ?? '';
    refused(s, () => s.targets.addLun(IQN, { lun: 2, volume: 'v2', serial: firstSerial }), 'serial-in-use');
    refused(
      s,
      () => s.targets.create({ iqn: 'iqn.2026-11.com.example:other', luns: [{ lun: 0, volume: 'v1' }] }),
      'volume-already-exported',
    );
    refused(s, () => s.targets.updateLun(IQN, 9, { readOnly: true }), 'lun-not-found');
  });

  it('refuses duplicate and malformed IQNs', async (t) => {
    const s = await withVolumes(t);
    s.targets.create({ iqn: IQN });
    refused(s, () => s.targets.create({ iqn: IQN }), 'target-exists');
    refused(s, () => s.targets.create({ iqn: IQN.toUpperCase() }), 'target-exists');
    refused(s, () => s.targets.create({ iqn: 'target-one' }), 'bad-iscsi-name');
    refused(s, () => s.targets.create({ iqn: 'iqn.2026-11.com.example:has space' }), 'bad-iscsi-name');
    refused(
      s,
      () => s.targets.create({ iqn: 'iqn.2026-11.com.example:x', allowedInitiators: ['not-an-iqn'] }),
      'bad-iscsi-name',
    );
  });

  it('keeps CHAP sets sane: secret length, one mutual user on top of one-way, different secrets', async (t) => {
    const s = await withVolumes(t);
    s.targets.create({ iqn: IQN });
    refused(
      s,
      () => s.targets.addChapUser(IQN, { direction: 'incoming', username: 'alice', secret: 'short' }),
      'bad-chap-secret',
    );
    refused(
      s,
      () => s.targets.addChapUser(IQN, { direction: 'incoming', username: 'a b', secret: 'longenough123' }),
      'bad-chap-user',
    );
    refused(
      s,
      () => s.targets.addChapUser(IQN, { direction: 'outgoing', username: 'tgt', secret: 'targetsecret1' }),
      'chap-mutual-alone',
    );
    s.targets.addChapUser(IQN, { direction: 'incoming', username: 'alice', secret: 'alicesecret12' });
    refused(
      s,
      () => s.targets.addChapUser(IQN, { direction: 'incoming', username: 'alice', secret: 'othersecret12' }),
      'chap-user-exists',
    );
    refused(
      s,
      () => s.targets.addChapUser(IQN, { direction: 'outgoing', username: 'tgt', secret: 'alicesecret12' }),
      'chap-same-secret',
    );
    s.targets.addChapUser(IQN, { direction: 'outgoing', username: 'tgt', secret: 'targetsecret1' });
    refused(
      s,
      () => s.targets.addChapUser(IQN, { direction: 'outgoing', username: 'tgt2', secret: 'targetsecret2' }),
      'chap-mutual-exists',
    );
    const view = s.targets.show(IQN);
    assert.deepEqual(view.chapUsers, [
      { direction: 'incoming', username: 'alice' },
      { direction: 'outgoing', username: 'tgt' },
    ]);
    assert.equal(JSON.stringify(view).includes('secret1'), false, 'views never carry secrets');
    assert.equal(s.targets.get(IQN).chapUsers.length, 2, 'the full record keeps them for the portal');
    s.targets.removeChapUser(IQN, 'outgoing', 'tgt');
    refused(s, () => s.targets.removeChapUser(IQN, 'outgoing', 'tgt'), 'chap-user-not-found');
  });

  it('manages the initiator allow list', async (t) => {
    const s = await withVolumes(t);
    s.targets.create({ iqn: IQN });
    const initiator = 'iqn.1994-05.com.redhat:client1';
    assert.deepEqual(s.targets.allowInitiator(IQN, initiator).allowedInitiators, [initiator]);
    refused(s, () => s.targets.allowInitiator(IQN, initiator.toUpperCase()), 'initiator-already-allowed');
    assert.deepEqual(s.targets.disallowInitiator(IQN, initiator).allowedInitiators, []);
    refused(s, () => s.targets.disallowInitiator(IQN, initiator), 'initiator-not-allowed');
  });

  it('feeds the portal catalog: only enabled targets, following every change', async (t) => {
    const s = await withVolumes(t, 'v1');
    const pathOf = (id: string): string => {
      const volume = s.repos.volumes.byId(id);
      return volume ? s.volumes.pathOf(volume) : '';
    };
    const catalog = new TargetCatalog(s.repos, pathOf, s.changes);
    let refreshes = 0;
    catalog.onChange(() => (refreshes += 1));
    s.targets.create({
      iqn: IQN,
      luns: [{ lun: 3, volume: 'v1' }],
      chapUsers: [{ direction: 'incoming', username: 'u', secret: 'usersecret123' }],
    });
    const served = catalog.find(IQN);
    assert.ok(served);
    assert.equal(served.luns[0]?.lun, 3);
    assert.equal(served.luns[0].path, s.volumes.pathOf(s.volumes.get('v1')));
    assert.equal(served.chapUsers[0]?.secret, 'usersecret123');
    s.targets.update(IQN, { enabled: false });
    assert.equal(catalog.find(IQN), undefined);
    s.targets.update(IQN, { enabled: true });
    await s.volumes.expand('v1', 2 * GiB);
    assert.equal(catalog.find(IQN)?.luns[0]?.size, 2 * GiB);
    s.targets.delete(IQN);
    assert.deepEqual(catalog.served(), []);
    assert.ok(refreshes >= 5);
  });
});

describe('LUN identity', () => {
  it('accepts NAA types 2, 3, 5 (16 digits) and 6 (32 digits)', () => {
    assert.equal(validateNaa('0x5000C50012345678'), '5000c50012345678');
    assert.equal(validateNaa('naa.3000000000000001'), '3000000000000001');
    for (const bad of ['7000000000000000', '6000000000000000', '50000000000000001', 'zz00000000000000']) {
      assert.throws(() => validateNaa(bad), /NAA identifier/);
    }
  });
  it('derives stable, distinct defaults', () => {
    assert.equal(defaultSerial('a'), defaultSerial('a'));
    assert.notEqual(defaultSerial('a'), defaultSerial('b'));
    assert.notEqual(defaultNaa('a'), defaultNaa('b'));
  });
});
