// Schedules of data replication tasks: every N hours, or on given weekdays at a time of day (the node's
// local time). Pure: validation, the text people read, and the translation to what the scheduler arms.
import { invalid } from '../lib/errors.js';

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export const INTERVAL_MIN_HOURS = 1;
export const INTERVAL_MAX_HOURS = 168;

export type ScheduleSpec =
  | { readonly kind: 'interval'; readonly hours: number }
  | { readonly kind: 'weekly'; readonly days: readonly Weekday[]; readonly time: string };

/** What the scheduler arms: a cron pattern (with seconds), or a fixed period from an anchor time. */
export type Trigger =
  | { readonly kind: 'cron'; readonly pattern: string }
  | { readonly kind: 'period'; readonly anchor: Date; readonly periodMs: number };

const DAY_NAMES: Readonly<Record<Weekday, string>> = {
  sun: 'Sun',
  mon: 'Mon',
  tue: 'Tue',
  wed: 'Wed',
  thu: 'Thu',
  fri: 'Fri',
  sat: 'Sat',
};

function parseTime(time: string): { hour: number; minute: number } {
  const m = /^(\d{1,2}):(\d{2})$/.exec(time);
  const hour = Number(m?.[1]);
  const minute = Number(m?.[2]);
  if (!m || hour > 23 || minute > 59)
    throw invalid('bad-schedule', `"${time}" is not a time of day (HH:MM, 00:00 to 23:59)`);
  return { hour, minute };
}

const isWeekday = (day: string): day is Weekday => (WEEKDAYS as readonly string[]).includes(day);

/** Checks a spec from outside (API body, stored JSON) and returns it in canonical form. */
export function validateSchedule(spec: unknown): ScheduleSpec {
  const s = spec as { kind?: unknown; hours?: unknown; days?: unknown; time?: unknown } | null;
  if (s?.kind === 'interval') {
    const hours = s.hours;
    if (
      typeof hours !== 'number' ||
      !Number.isInteger(hours) ||
      hours < INTERVAL_MIN_HOURS ||
      hours > INTERVAL_MAX_HOURS
    ) {
      throw invalid(
        'bad-schedule',
        `every N hours: N must be a whole number from ${INTERVAL_MIN_HOURS} to ${INTERVAL_MAX_HOURS}`,
      );
    }
    return { kind: 'interval', hours };
  }
  if (s?.kind === 'weekly') {
    if (!Array.isArray(s.days) || s.days.length === 0)
      throw invalid('bad-schedule', 'give at least one weekday');
    const days = new Set<Weekday>();
    for (const day of s.days as unknown[]) {
      const name = String(day).toLowerCase();
      if (!isWeekday(name))
        throw invalid('bad-schedule', `"${String(day)}" is not a weekday (${WEEKDAYS.join(', ')})`);
      days.add(name);
    }
    if (typeof s.time !== 'string') throw invalid('bad-schedule', 'give a time of day, HH:MM');
    const { hour, minute } = parseTime(s.time);
    const ordered = WEEKDAYS.filter((d) => days.has(d));
    return {
      kind: 'weekly',
      days: ordered,
      time: `${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}`,
    };
  }
  throw invalid('bad-schedule', 'a schedule is {kind: "interval", hours} or {kind: "weekly", days, time}');
}

/** "mon-fri", "sat,sun", "mon,wed-fri", "daily" -> weekdays. */
export function parseDays(text: string): Weekday[] {
  const lower = text.trim().toLowerCase();
  if (lower === 'daily' || lower === 'every-day' || lower === '*') return [...WEEKDAYS];
  const days = new Set<Weekday>();
  for (const part of lower.split(',')) {
    const [from = '', to] = part.split('-');
    if (!isWeekday(from) || (to !== undefined && !isWeekday(to))) {
      throw invalid('bad-schedule', `"${part}" is not a weekday or a range like mon-fri`);
    }
    if (to === undefined) {
      days.add(from);
      continue;
    }
    // Ranges may wrap around the week end: fri-mon.
    for (let i = WEEKDAYS.indexOf(from); ; i = (i + 1) % 7) {
      const day = WEEKDAYS[i] as Weekday;
      days.add(day);
      if (day === to) break;
    }
  }
  return WEEKDAYS.filter((d) => days.has(d));
}

/** Runs of consecutive days as ranges, Monday first: "Mon-Fri", "Mon, Wed, Fri", "Sat-Sun". */
function daysText(days: readonly Weekday[]): string {
  if (days.length === 7) return 'every day';
  const order: Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
  const index = days.map((d) => order.indexOf(d)).sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < index.length;) {
    let j = i;
    while (j + 1 < index.length && index[j + 1] === (index[j] ?? 0) + 1) j++;
    const first = DAY_NAMES[order[index[i] ?? 0] ?? 'mon'];
    const last = DAY_NAMES[order[index[j] ?? 0] ?? 'mon'];
    parts.push(j - i >= 2 ? `${first}-${last}` : j > i ? `${first}, ${last}` : first);
    i = j + 1;
  }
  return parts.join(', ');
}

export function describeSchedule(spec: ScheduleSpec): string {
  if (spec.kind === 'interval') return spec.hours === 1 ? 'every hour' : `every ${spec.hours} hours`;
  return `${daysText(spec.days)} at ${spec.time}`;
}

/**
 * Weekly schedules are cron patterns (second minute hour day month weekday). Every N hours is a fixed
 * period counted from the schedule's creation, because cron cannot say "every 5 hours" across midnight.
 */
export function triggerOf(spec: ScheduleSpec, createdAt: Date): Trigger {
  if (spec.kind === 'interval')
    return { kind: 'period', anchor: createdAt, periodMs: spec.hours * 3_600_000 };
  const { hour, minute } = parseTime(spec.time);
  const days = spec.days.map((d) => WEEKDAYS.indexOf(d)).join(',');
  return { kind: 'cron', pattern: `0 ${minute} ${hour} * * ${days}` };
}

/** The first tick of a period trigger strictly after `now`. */
export function nextPeriodTick(anchor: Date, periodMs: number, now: Date): Date {
  const elapsed = now.getTime() - anchor.getTime();
  const periods = elapsed < 0 ? 1 : Math.floor(elapsed / periodMs) + 1;
  return new Date(anchor.getTime() + periods * periodMs);
}
