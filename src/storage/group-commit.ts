/**
 * GroupCommitQueue: the queue every disk adapter commits through. write() calls queue their batch here; one pump
 * loop at a time asks the adapter to commit the next group (as many queued batches as its limits allow, in one
 * append and one sync), so batches that arrive while a sync is in flight go out together in the next one.
 * Maintenance tasks (checkpoint, periodic sync, GC) queue here too and run between groups, never during one.
 *
 * The queue owns order, the one-pump rule, task settling and "wait until idle" (close); the adapter owns how a
 * group is cut, written, synced and fenced (`commitNext`), and what a failure means (`onError`). Not promised:
 * fairness between tasks and writes (a queued task runs before the next group).
 */

/** What the queue needs from its adapter. */
export interface GroupCommitter {
  /** Commit at least one queued write, removing it from `queue.writes`. A throw is a store failure (onError). */
  commitNext(): Promise<void>
  /** Whether the pump may keep going (the store is open or closing, not failed or closed). */
  running(): boolean
  /** A commit or task failed: the adapter fails its store (and settles the queued writes itself). */
  onError(e: Error): void
  /** The error queued tasks are rejected with once the pump stopped on a failure, else null. */
  failure(): Error | null
}

export interface GroupCommitOptions {
  /**
   * Start the pump one microtask after the first write of an idle queue, so every write() of the current tick joins
   * the first group (levelDB: a batch call per group). Off: the first write starts its append at once (journal).
   */
  gatherTick: boolean
}

interface Task {
  run: () => Promise<void>
  resolve: () => void
  reject: (e: Error) => void
}

export class GroupCommitQueue<W> {
  /** Queued writes in arrival order; the committer takes its group from here. Bounded by the callers' writes. */
  readonly writes: W[] = []
  private readonly tasks: Task[] = []
  private pumping = false
  private idleWaiters: (() => void)[] = []

  constructor(
    private readonly committer: GroupCommitter,
    private readonly opts: GroupCommitOptions,
  ) {}

  /** Queue a write; the committer settles it. */
  push(w: W): void {
    this.writes.push(w)
    this.kick()
  }

  /** Run `run` between groups; resolves or rejects with it. */
  task(run: () => Promise<void>): Promise<void> {
    return new Promise((resolve, reject) => {
      this.tasks.push({ run, resolve, reject })
      this.kick()
    })
  }

  /** Start the pump if it is not running (also after new work arrived while the store was closing). */
  kick(): void {
    if (this.pumping) return
    this.pumping = true
    if (this.opts.gatherTick) queueMicrotask(() => void this.pump())
    else void this.pump()
  }

  get busy(): boolean {
    return this.pumping
  }

  /** Resolves once the pump has stopped (nothing queued, or the store stopped running). */
  whenIdle(): Promise<void> {
    if (!this.pumping) return Promise.resolve()
    return new Promise((r) => this.idleWaiters.push(r))
  }

  private async pump(): Promise<void> {
    try {
      // Bounded by the work queued: every turn removes a task or at least one queued write.
      while (this.committer.running() && (this.tasks.length > 0 || this.writes.length > 0)) {
        const t = this.tasks.shift()
        if (t) {
          try {
            await t.run()
            t.resolve()
          } catch (e) {
            t.reject(e as Error)
            this.committer.onError(e as Error)
          }
          continue
        }
        try {
          await this.committer.commitNext()
        } catch (e) {
          this.committer.onError(e as Error)
        }
      }
      const failure = this.committer.failure()
      if (failure) for (const t of this.tasks.splice(0)) t.reject(failure)
    } finally {
      this.pumping = false
      for (const w of this.idleWaiters.splice(0)) w()
    }
  }
}
