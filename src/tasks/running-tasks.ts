// The tasks running right now, of every kind, with their live progress: what Status -> Tasks shows
// above the log. Entries live in memory only; a restart ends every run anyway.

/** Live progress of a run. Fields a kind of task cannot know stay null. */
export interface TaskProgress {
  /** What the run is doing, e.g. 'snapshot', 'transfer', 'release'. */
  readonly phase: string;
  readonly bytesDone: number;
  /** 0..100, or null before the size is known. */
  readonly percent: number | null;
  readonly bytesPerSecond: number | null;
  readonly etaSeconds: number | null;
  readonly filesTransferred: number | null;
  /** Files still to check, of `filesTotal`. */
  readonly filesToCheck: number | null;
  readonly filesTotal: number | null;
}

export interface RunningTaskView {
  readonly runId: string;
  readonly name: string;
  readonly type: string;
  readonly startedAt: string;
  readonly trigger: string;
  readonly progress: TaskProgress;
  readonly cancelling: boolean;
}

export const IDLE_PROGRESS: TaskProgress = {
  phase: 'starting',
  bytesDone: 0,
  percent: null,
  bytesPerSecond: null,
  etaSeconds: null,
  filesTransferred: null,
  filesToCheck: null,
  filesTotal: null,
};

interface Entry {
  view: RunningTaskView;
  readonly cancel: () => void;
}

const key = (type: string, name: string): string => `${type}\u0000${name}`;

export class RunningTasks {
  private readonly entries = new Map<string, Entry>();

  /** Registers a run; false when a run of the same task is already registered (tasks never overlap). */
  add(view: Omit<RunningTaskView, 'cancelling' | 'progress'>, cancel: () => void): boolean {
    const k = key(view.type, view.name);
    if (this.entries.has(k)) return false;
    this.entries.set(k, { view: { ...view, progress: IDLE_PROGRESS, cancelling: false }, cancel });
    return true;
  }

  update(type: string, name: string, progress: Partial<TaskProgress>): void {
    const entry = this.entries.get(key(type, name));
    if (entry) entry.view = { ...entry.view, progress: { ...entry.view.progress, ...progress } };
  }

  remove(type: string, name: string): void {
    this.entries.delete(key(type, name));
  }

  get(type: string, name: string): RunningTaskView | undefined {
    return this.entries.get(key(type, name))?.view;
  }

  /** Asks the run to stop; false when it is not running. */
  cancel(type: string, name: string): boolean {
    const entry = this.entries.get(key(type, name));
    if (!entry) return false;
    entry.view = { ...entry.view, cancelling: true };
    entry.cancel();
    return true;
  }

  list(type?: string): RunningTaskView[] {
    return [...this.entries.values()]
      .map((e) => e.view)
      .filter((v) => type === undefined || v.type === type)
      .sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.name.localeCompare(b.name));
  }
}
