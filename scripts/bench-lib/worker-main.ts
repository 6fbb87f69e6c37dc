/**
 * What both load generators share (load-worker.ts, our raw STOMP; stompjs-worker.ts, a client neither broker wrote):
 * running one LoadJob (consumer subscribed first, then the producers, then the consumer's tally) and the process
 * entry that reads the job from argv and prints one JSON result line, with a hard stop at timeoutMs + 1 s.
 */
import type { ConsumeJob, LoadJob, LoadResult, ProduceJob, SideResult } from './load-worker.ts'
import { Wakeup } from '../../src/lib/wakeup.ts'

/** A load side failed (the broker sent ERROR, closed the connection, or the deadline passed). */
export class JobFailed extends Error {}

/**
 * One session's failure and the waits on it, bounded by the job's deadline: event handlers call `fail()` on an
 * ERROR or close and `wake()` after anything that may change a condition; `waitFor` re-checks on each wake.
 */
export class JobGate {
  failure: Error | null = null
  private readonly wakeup = new Wakeup()

  constructor(private readonly deadline: number) {}

  /** Record the first failure (later ones are consequences) and wake the waiters. */
  fail(e: Error): void {
    this.failure ??= e
    this.wakeup.notify()
  }

  wake(): void {
    this.wakeup.notify()
  }

  /** Resolves when `cond` holds; rejects with the failure, or JobFailed('timeout') at the deadline. */
  async waitFor(cond: () => boolean): Promise<void> {
    while (!cond()) {
      if (this.failure) throw this.failure
      const left = this.deadline - performance.now()
      if (left <= 0) throw new JobFailed('timeout')
      await this.wakeup.wait(left)
    }
    if (this.failure) throw this.failure
  }
}

export interface LoadSides {
  produce(job: ProduceJob, deadline: number): Promise<SideResult>
  consume(job: ConsumeJob, deadline: number, subscribed: () => void): Promise<SideResult>
}

export async function runLoadJob(job: LoadJob, sides: LoadSides): Promise<LoadResult> {
  const deadline = performance.now() + job.timeoutMs
  const result: LoadResult = { complete: false }
  try {
    let consumer: Promise<SideResult> | undefined
    if (job.consume) {
      let ready: () => void = () => undefined
      const subscribed = new Promise<void>((r) => (ready = r))
      consumer = sides.consume(job.consume, deadline, ready)
      consumer.catch(() => undefined)
      // A consumer that fails before subscribing must not leave the job waiting for the subscription.
      await Promise.race([subscribed, consumer])
    }
    if (job.produce) result.produce = await sides.produce(job.produce, deadline)
    if (consumer) result.consume = await consumer
    result.complete = true
  } catch (e) {
    result.error = (e as Error).message
  }
  return result
}

/** The worker process: `bun <script> '<LoadJob JSON>'` prints one JSON LoadResult line and exits 0 when complete. */
export async function workerMain(script: string, sides: LoadSides): Promise<never> {
  const arg = process.argv[2]
  if (!arg) {
    console.error(`usage: bun ${script} '<LoadJob JSON>'`)
    process.exit(2)
  }
  const job = JSON.parse(arg) as LoadJob
  // A hard stop in case some wait was not bounded by the job's deadline (e.g. a write stuck on a half-dead socket).
  setTimeout(() => {
    process.stdout.write(
      JSON.stringify({ complete: false, error: `job did not end within timeoutMs ${job.timeoutMs}` }) + '\n',
    )
    process.exit(1)
  }, job.timeoutMs + 1000).unref()
  const result = await runLoadJob(job, sides)
  process.stdout.write(JSON.stringify(result) + '\n')
  process.exit(result.complete ? 0 : 1)
}
