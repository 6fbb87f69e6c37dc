/**
 * Parent side of a lock child (see lock-child.ts): spawn it, read its JSON events, wait for one with a
 * deadline, kill it. Used by `probe-lock` and the lock tests.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { parseJsonLine, readLines } from '../../lib/line-reader.ts'
import { Wakeup } from '../../lib/wakeup.ts'
import { lockChildArgv } from './child-command.ts'

export interface LockChildEvent {
  event: 'locked' | 'busy' | 'waiting' | 'error'
  at?: number
  pid?: number
  code?: string
  message?: string
}

export class LockChildProcess {
  readonly events: LockChildEvent[] = []
  private readonly wakeup = new Wakeup()
  private exited: number | null = null
  readonly proc: ChildProcess

  constructor(
    file: string,
    kind: 'flock' | 'fcntl',
    mode: 'try' | 'wait' | 'shtry',
    argv = lockChildArgv([file, kind, mode]),
  ) {
    this.proc = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] })
    readLines(this.proc.stdout!, (line) => {
      const e = parseJsonLine<LockChildEvent>(line)
      if (e) this.events.push(e)
      this.wakeup.notify()
    })
    this.proc.stderr!.resume()
    this.proc.on('exit', (code) => {
      this.exited = code ?? -1
      this.wakeup.notify()
    })
  }

  get pid(): number {
    return this.proc.pid ?? -1
  }

  /** The first event whose kind is in `kinds`, or null after `timeoutMs` or when the child exits first. */
  async next(kinds: LockChildEvent['event'][], timeoutMs: number): Promise<LockChildEvent | null> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const e = this.events.find((x) => kinds.includes(x.event))
      if (e) return e
      if (this.exited !== null || Date.now() >= deadline) return null
      await this.wakeup.wait(deadline - Date.now())
    }
  }

  /** kill -9, resolving when the process is gone (bounded by timeoutMs). */
  async kill9(timeoutMs = 5000): Promise<void> {
    if (this.exited !== null) return
    const gone = new Promise<void>((resolve) => {
      if (this.exited !== null) return resolve()
      this.proc.once('exit', () => resolve())
    })
    this.proc.kill('SIGKILL')
    await Promise.race([gone, new Promise((r) => setTimeout(r, timeoutMs))])
  }

  /** Ask it to release (close stdin) and wait for exit. */
  async release(timeoutMs = 5000): Promise<void> {
    if (this.exited !== null) return
    const gone = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()))
    this.proc.stdin!.end()
    await Promise.race([gone, new Promise((r) => setTimeout(r, timeoutMs))])
    if (this.exited === null) await this.kill9()
  }
}
