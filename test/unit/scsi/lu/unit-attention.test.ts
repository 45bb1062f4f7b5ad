import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UnitAttentions } from '../../../../src/scsi/lu/unit-attention.js';

describe('UnitAttentions', () => {
  const cases: { name: string; steps: (ua: UnitAttentions) => void; expect: string[] }[] = [
    {
      name: 'a new nexus starts with POWER ON',
      steps: (ua) => ua.see('n'),
      expect: ['POWER_ON_RESET_OR_BUS_DEVICE_RESET_OCCURRED'],
    },
    {
      name: 'conditions queue oldest first, without duplicates',
      steps: (ua) => {
        ua.see('n');
        ua.take('n');
        ua.establish('n', 'MODE_PARAMETERS_CHANGED');
        ua.establish('n', 'CAPACITY_DATA_HAS_CHANGED');
        ua.establish('n', 'MODE_PARAMETERS_CHANGED');
      },
      expect: ['MODE_PARAMETERS_CHANGED', 'CAPACITY_DATA_HAS_CHANGED'],
    },
    {
      name: 'a reset replaces what was queued',
      steps: (ua) => {
        ua.see('n');
        ua.establish('n', 'MODE_PARAMETERS_CHANGED');
        ua.establish('n', 'BUS_DEVICE_RESET_FUNCTION_OCCURRED');
      },
      expect: ['BUS_DEVICE_RESET_FUNCTION_OCCURRED'],
    },
    {
      name: 'an unseen nexus gets nothing but its POWER ON later',
      steps: (ua) => {
        ua.establish('n', 'MODE_PARAMETERS_CHANGED');
        ua.see('n');
      },
      expect: ['POWER_ON_RESET_OR_BUS_DEVICE_RESET_OCCURRED'],
    },
    {
      name: 'a forgotten nexus is new again',
      steps: (ua) => {
        ua.see('n');
        ua.take('n');
        ua.forget('n');
        ua.see('n');
      },
      expect: ['POWER_ON_RESET_OR_BUS_DEVICE_RESET_OCCURRED'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const ua = new UnitAttentions();
      c.steps(ua);
      assert.deepEqual([...ua.pending('n')], c.expect);
    });
  }
});
