import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sendTargets } from '../../../../src/iscsi/discovery/send-targets.js';

const targets = [
  { iqn: 'iqn.2026-11.local.tandem:b', allowedInitiators: [] },
  { iqn: 'iqn.2026-11.local.tandem:a', allowedInitiators: ['iqn.1994-05.com.redhat:allowed'] },
];
const portals = [{ host: '198.18.0.10', port: 3260, portalGroupTag: 1 }];

describe('SendTargets', () => {
  it('lists the targets an initiator may log in to, with their portals', () => {
    const all = sendTargets('All', {
      sessionType: 'Discovery',
      initiatorName: 'iqn.1994-05.com.redhat:allowed',
      sessionTarget: undefined,
      targets,
      portals,
    });
    assert.deepEqual(all, [
      { key: 'TargetName', value: 'iqn.2026-11.local.tandem:a' },
      { key: 'TargetAddress', value: '198.18.0.10:3260,1' },
      { key: 'TargetName', value: 'iqn.2026-11.local.tandem:b' },
      { key: 'TargetAddress', value: '198.18.0.10:3260,1' },
    ]);
    const other = sendTargets('All', {
      sessionType: 'Discovery',
      initiatorName: 'iqn.1994-05.com.redhat:other',
      sessionTarget: undefined,
      targets,
      portals,
    });
    assert.deepEqual(
      other.filter((p) => p.key === 'TargetName').map((p) => p.value),
      ['iqn.2026-11.local.tandem:b'],
    );
  });

  it('answers only about its own target in a normal session', () => {
    const own = sendTargets('All', {
      sessionType: 'Normal',
      initiatorName: 'x',
      sessionTarget: 'iqn.2026-11.local.tandem:b',
      targets,
      portals,
    });
    assert.deepEqual(
      own.map((p) => p.value),
      ['iqn.2026-11.local.tandem:b', '198.18.0.10:3260,1'],
    );
    assert.deepEqual(
      sendTargets('', {
        sessionType: 'Normal',
        initiatorName: 'x',
        sessionTarget: 'iqn.2026-11.local.tandem:b',
        targets,
        portals,
      }),
      own,
    );
  });

  it('brackets IPv6 portal addresses', () => {
    const v6 = sendTargets('iqn.2026-11.local.tandem:b', {
      sessionType: 'Discovery',
      initiatorName: 'x',
      sessionTarget: undefined,
      targets,
      portals: [{ host: '::1', port: 3260, portalGroupTag: 2 }],
    });
    assert.equal(v6[1]?.value, '[::1]:3260,2');
  });
});
