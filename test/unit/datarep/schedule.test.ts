import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cron } from 'croner';
import {
  describeSchedule,
  nextPeriodTick,
  parseDays,
  triggerOf,
  validateSchedule,
} from '../../../src/datarep/schedule.js';
import { Scheduler } from '../../../src/datarep/scheduler.js';
import { isTandemError } from '../../../src/lib/errors.js';

describe('schedules', () => {
  it('validates and canonicalises', () => {
    assert.deepEqual(validateSchedule({ kind: 'interval', hours: 6 }), { kind: 'interval', hours: 6 });
    assert.deepEqual(validateSchedule({ kind: 'weekly', days: ['FRI', 'mon', 'mon'], time: '8:05' }), {
      kind: 'weekly',
      days: ['mon', 'fri'],
      time: '08:05',
    });
    const bad = [
      { kind: 'interval', hours: 0 },
      { kind: 'interval', hours: 169 },
      { kind: 'interval', hours: 1.5 },
      { kind: 'weekly', days: [], time: '18:00' },
      { kind: 'weekly', days: ['funday'], time: '18:00' },
      { kind: 'weekly', days: ['mon'], time: '24:00' },
      { kind: 'weekly', days: ['mon'], time: '18:60' },
      { kind: 'monthly' },
      null,
    ];
    for (const spec of bad)
      assert.throws(
        () => validateSchedule(spec),
        (e: unknown) => isTandemError(e) && e.code === 'bad-schedule',
      );
  });

  it('parses day lists and ranges, also wrapping over the week end', () => {
    assert.deepEqual(parseDays('mon-fri'), ['mon', 'tue', 'wed', 'thu', 'fri']);
    assert.deepEqual(parseDays('fri-mon'), ['sun', 'mon', 'fri', 'sat']);
    assert.deepEqual(parseDays('sat,sun'), ['sun', 'sat']);
    assert.equal(parseDays('daily').length, 7);
    assert.throws(() => parseDays('mon-xyz'));
  });

  it('reads well', () => {
    assert.equal(describeSchedule({ kind: 'interval', hours: 1 }), 'every hour');
    assert.equal(describeSchedule({ kind: 'interval', hours: 12 }), 'every 12 hours');
    assert.equal(
      describeSchedule(validateSchedule({ kind: 'weekly', days: parseDays('mon-fri'), time: '18:00' })),
      'Mon-Fri at 18:00',
    );
    assert.equal(
      describeSchedule(validateSchedule({ kind: 'weekly', days: ['mon', 'wed', 'fri'], time: '02:30' })),
      'Mon, Wed, Fri at 02:30',
    );
    assert.equal(
      describeSchedule(validateSchedule({ kind: 'weekly', days: parseDays('sat,sun'), time: '06:00' })),
      'Sat, Sun at 06:00',
    );
    assert.equal(
      describeSchedule(validateSchedule({ kind: 'weekly', days: parseDays('daily'), time: '06:00' })),
      'every day at 06:00',
    );
  });

  it('weekly schedules become cron patterns that croner fires on the right days', () => {
    const trigger = triggerOf(
      validateSchedule({ kind: 'weekly', days: parseDays('mon-fri'), time: '18:00' }),
      new Date(),
    );
    assert.deepEqual(trigger, { kind: 'cron', pattern: '0 0 18 * * 1,2,3,4,5' });
    const job = new Cron(trigger.pattern, { paused: true });
    // Saturday 2026-11-28 12:00 local: next runs are Monday to Friday at 18:00.
    const runs = job.nextRuns(6, new Date(2026, 10, 28, 12, 0, 0));
    job.stop();
    assert.deepEqual(
      runs.map((d) => [d.getDay(), d.getHours(), d.getMinutes()]),
      [
        [1, 18, 0],
        [2, 18, 0],
        [3, 18, 0],
        [4, 18, 0],
        [5, 18, 0],
        [1, 18, 0],
      ],
    );
  });

  it('every N hours counts from the creation time', () => {
    const anchor = new Date('2026-01-01T00:30:00Z');
    const trigger = triggerOf({ kind: 'interval', hours: 5 }, anchor);
    assert.deepEqual(trigger, { kind: 'period', anchor, periodMs: 5 * 3_600_000 });
    assert.equal(
      nextPeriodTick(anchor, 5 * 3_600_000, new Date('2026-01-01T00:29:00Z')).toISOString(),
      '2026-01-01T05:30:00.000Z',
    );
    assert.equal(
      nextPeriodTick(anchor, 5 * 3_600_000, new Date('2026-01-02T01:30:00Z')).toISOString(),
      '2026-01-02T06:30:00.000Z',
    );
  });
});

describe('scheduler with real croner timers', () => {
  it('fires a near-term cron schedule, re-arms a period, and stops firing after stop()', async () => {
    const fired: string[] = [];
    const scheduler = new Scheduler((task, id) => fired.push(`${task}#${id}`));
    try {
      scheduler.arm({ id: 1, taskName: 'cron', trigger: { kind: 'cron', pattern: '* * * * * *' } });
      scheduler.arm({
        id: 2,
        taskName: 'period',
        trigger: { kind: 'period', anchor: new Date(), periodMs: 700 },
      });
      assert.ok(scheduler.nextRun(1) instanceof Date);
      await new Promise((r) => setTimeout(r, 2600));
      assert.ok(fired.filter((f) => f === 'cron#1').length >= 2, fired.join());
      assert.ok(fired.filter((f) => f === 'period#2').length >= 3, fired.join());
      scheduler.disarm(1);
      assert.equal(scheduler.nextRun(1), null);
    } finally {
      scheduler.stop();
    }
    const count = fired.length;
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal(fired.length, count, 'nothing fires after stop()');
  });
});
