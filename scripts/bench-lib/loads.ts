/**
 * Runs one load job in a separate load-generator process (load-worker.ts, same runtime as the caller) and returns
 * its result. A separate process, so the load generator and the broker each get a core, and the benchmark script
 * itself (which samples RSS and probes ports) stays out of the way. The child is killed if it outlives the job's
 * timeout by more than a grace period.
 */
import { spawn } from 'node:child_process'
import path from 'node:path'
import { BenchError } from './proc.ts'
import type { LoadJob, LoadResult } from './load-worker.ts'

export type { ConsumeJob, LoadJob, LoadResult, ProduceJob, SideResult } from './load-worker.ts'

/** raw: our raw-socket generator (load-worker.ts); stompjs: @stomp/stompjs, written by neither broker (stompjs-worker.ts). */
export type Generator = 'raw' | 'stompjs'
const WORKERS: Record<Generator, string> = {
  raw: path.join(import.meta.dir, 'load-worker.ts'),
  stompjs: path.join(import.meta.dir, 'stompjs-worker.ts'),
}
/** Time a worker gets beyond its job's timeout to report before it is killed. */
const WORKER_GRACE_MS = 10_000

export function runLoad(job: LoadJob, generator: Generator = 'raw'): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WORKERS[generator], JSON.stringify(job)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d))
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d.slice(0, 4000)))
    const killer = setTimeout(() => child.kill('SIGKILL'), job.timeoutMs + WORKER_GRACE_MS)
    child.once('error', (e) => {
      clearTimeout(killer)
      reject(e)
    })
    child.once('exit', (code, signal) => {
      clearTimeout(killer)
      const line = out.trim().split('\n').pop() ?? ''
      try {
        resolve(JSON.parse(line) as LoadResult)
      } catch {
        reject(
          new BenchError(
            `load generator exited (${signal ?? `code ${code}`}) without a result: ${err.trim() || out.trim() || '(no output)'}`,
          ),
        )
      }
    })
  })
}

/** Like runLoad, but a job that did not complete is an error naming `what`. */
export async function mustLoad(what: string, job: LoadJob, generator: Generator = 'raw'): Promise<LoadResult> {
  const r = await runLoad(job, generator)
  if (!r.complete) throw new BenchError(`${what}: ${r.error ?? 'incomplete'}`)
  return r
}
