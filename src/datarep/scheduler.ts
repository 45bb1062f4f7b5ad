// Arms the schedules of data replication tasks with croner's timers and calls `fire` when one is due.
// The scheduler only keeps time; what a firing does (run, or log "skipped" when the task is busy) is
// the service's business.
import { Cron } from 'croner';
import { nextPeriodTick, type Trigger } from './schedule.js';

export interface ArmedSchedule {
  readonly id: number;
  readonly taskName: string;
  readonly trigger: Trigger;
}

interface Job {
  readonly schedule: ArmedSchedule;
  cron: Cron;
}

export class Scheduler {
  private readonly jobs = new Map<number, Job>();
  private stopped = false;

  constructor(
    private readonly fire: (taskName: string, scheduleId: number) => void,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Arms (or re-arms) one schedule. */
  arm(schedule: ArmedSchedule): void {
    this.disarm(schedule.id);
    if (this.stopped) return;
    const job: Job = { schedule, cron: this.cronFor(schedule) };
    this.jobs.set(schedule.id, job);
  }

  disarm(id: number): void {
    this.jobs.get(id)?.cron.stop();
    this.jobs.delete(id);
  }

  nextRun(id: number): Date | null {
    return this.jobs.get(id)?.cron.nextRun() ?? null;
  }

  /** Stops every timer; nothing fires afterwards. */
  stop(): void {
    this.stopped = true;
    for (const id of [...this.jobs.keys()]) this.disarm(id);
  }

  private cronFor(schedule: ArmedSchedule): Cron {
    const { trigger } = schedule;
    const fire = (): void => this.fire(schedule.taskName, schedule.id);
    if (trigger.kind === 'cron') return new Cron(trigger.pattern, { catch: true }, fire);
    // A period is a one-shot timer at the next tick, armed again each time it fires.
    const at = nextPeriodTick(trigger.anchor, trigger.periodMs, this.now());
    return new Cron(at, { catch: true }, () => {
      const job = this.jobs.get(schedule.id);
      if (job?.schedule === schedule && !this.stopped) job.cron = this.cronFor(schedule);
      fire();
    });
  }
}
