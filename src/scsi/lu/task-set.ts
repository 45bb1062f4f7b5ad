// The tasks in flight on one logical unit, so task management can find and abort them (SAM-5 §7).
// A task cannot be cancelled once its I/O reached the block device, so aborting marks the task and
// waits for it to finish: when the abort returns, an aborted task has no further effect on the
// medium, and its response carries TASK ABORTED for the transport to drop or send.
//
// Invariants: a task is in the set from `begin` until `end`; `aborted` only goes false → true.

export interface Task {
  readonly nexusKey: string;
  readonly tag: number;
  aborted: boolean;
  readonly finished: Promise<void>;
}

interface TaskEntry extends Task {
  readonly finish: () => void;
}

export class TaskSet {
  readonly #tasks = new Set<TaskEntry>();

  begin(nexusKey: string, tag: number): Task {
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const task: TaskEntry = { nexusKey, tag, aborted: false, finished, finish };
    this.#tasks.add(task);
    return task;
  }

  end(task: Task): void {
    for (const entry of this.#tasks) {
      if (entry === task) {
        this.#tasks.delete(entry);
        entry.finish();
      }
    }
  }

  /** Marks every task for which `which` holds as aborted, waits for them, and returns the nexuses
   * they belonged to (one entry per task). */
  async abort(which: (task: Task) => boolean): Promise<string[]> {
    const hit = [...this.#tasks].filter(which);
    for (const task of hit) task.aborted = true;
    await Promise.all(hit.map((t) => t.finished));
    return hit.map((t) => t.nexusKey);
  }

  find(nexusKey: string, tag: number): Task | undefined {
    return [...this.#tasks].find((t) => t.nexusKey === nexusKey && t.tag === tag);
  }

  get size(): number {
    return this.#tasks.size;
  }
}
