/**
 * BrokerProc: one `sfbroker run` child process of the chaos harness. Owns the child (spawn, signals, restart),
 * its JSON log (copied to a file in the lab, and parsed for role changes and claimed epochs) and nothing else:
 * it never decides what a fault is. Every wait is bounded; every child is killed by `killHard()`.
 *
 * Every exit is classified when it happens: `harness` when the harness sent the SIGKILL/SIGTERM that ended it (or
 * declared beforehand, with `expectExit`, that a fault it injects makes the broker end itself by design), `self`
 * otherwise. Only a broker whose last exit the harness caused may be restarted (`mayRestart`): a broker that exits
 * on its own stays down, so the failure stays visible instead of being papered over by a restart.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import { portFree } from '../../src/testing/net-probe.ts'
import { sleep } from '../../src/testing/until.ts'
import { parseJsonLine } from '../../src/lib/line-reader.ts'

export interface RoleEvent {
  at: number
  /** The role left (from the log line's `from`), '' when the line had none. */
  from: string
  role: string
  reason: string
  /** The harness had asked this broker to stop (SIGTERM/SIGKILL) when the line was parsed. */
  stopAsked: boolean
}

export interface ExitEvent {
  at: number
  code: number | null
  signal: string | null
  /** harness: it sent the signal that ended the broker, or declared the exit expected; self: the broker ended on its own. */
  cause: 'harness' | 'self'
  /** Why the harness expected it, or the broker's last role line for a self exit. */
  why: string
}

export interface EpochEvent {
  at: number
  epoch: number
}

export class BrokerProc {
  proc: ChildProcess | null = null
  /** Times this broker was (re)started. */
  starts = 0
  readonly roles: RoleEvent[] = []
  readonly epochs: EpochEvent[] = []
  /** Exits seen: code or signal, and who caused it. */
  readonly exits: ExitEvent[] = []
  stopped = false
  private exited = true
  private logFd: number
  /** Set when the harness sends SIGKILL/SIGTERM or declares an exit expected; cleared at each start. */
  private exitExpected: string | null = null
  /** The harness sent SIGTERM/SIGKILL since the last start (a step-down logged after it is the asked-for stop). */
  private stopSent = false
  /** Config file of the next start (the lab may move the broker to another mount of the share). */
  configFile: string
  /** Last few log lines (for the report of a self exit). */
  private readonly tail: string[] = []

  constructor(
    readonly index: number,
    readonly port: number,
    configFile: string,
    readonly binary: string[],
    readonly logFile: string,
  ) {
    this.configFile = configFile
    this.logFd = fs.openSync(logFile, 'a')
  }

  /** May the harness start this broker again? Not after an exit it did not cause. */
  get mayRestart(): boolean {
    const last = this.exits[this.exits.length - 1]
    return !this.alive && (last === undefined || last.cause === 'harness')
  }

  /** The broker ended on its own at least once (and was therefore left down). */
  get selfExited(): boolean {
    return this.exits.some((e) => e.cause === 'self')
  }

  /**
   * Declare that an exit from now until the next start is caused by the harness (e.g. the stall watchdog's SIGKILL
   * after a SIGSTOP longer than eventLoopStallMax: by design the broker kills itself then). null withdraws it.
   */
  expectExit(why: string | null): void {
    this.exitExpected = why
  }

  get name(): string {
    return `b${this.index}`
  }

  get alive(): boolean {
    return this.proc !== null && !this.exited
  }

  get pid(): number | undefined {
    return this.proc?.pid
  }

  /** Latest role the broker logged (undefined before its first role line). */
  get role(): string | undefined {
    return this.roles[this.roles.length - 1]?.role
  }

  start(): void {
    if (this.alive) throw new Error(`${this.name} already running (pid ${this.pid})`)
    const argv = [...this.binary, 'run', '--config', this.configFile, '--log-format', 'json']
    this.starts++
    this.exited = false
    this.stopped = false
    this.exitExpected = null
    this.stopSent = false
    fs.writeSync(this.logFd, `# ${new Date().toISOString()} start #${this.starts}: ${argv.join(' ')}\n`)
    const p = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] })
    this.proc = p
    let buf = ''
    const onData = (d: Buffer) => {
      fs.writeSync(this.logFd, d)
      buf += d.toString('utf8')
      let i: number
      while ((i = buf.indexOf('\n')) >= 0) {
        this.parseLine(buf.slice(0, i))
        buf = buf.slice(i + 1)
      }
      if (buf.length > 1 << 20) buf = '' // a runaway line without newline: drop it rather than grow
    }
    p.stdout!.on('data', onData)
    p.stderr!.on('data', onData)
    p.on('exit', (code, signal) => {
      this.exited = true
      this.stopped = false
      const cause = this.exitExpected !== null ? 'harness' : 'self'
      const lastRole = this.roles[this.roles.length - 1]
      const why =
        this.exitExpected ??
        (lastRole
          ? `last role line: ${lastRole.from || '?'} -> ${lastRole.role}: ${lastRole.reason}`
          : `last lines: ${this.tail.join(' | ')}`)
      this.exits.push({ at: Date.now(), code, signal, cause, why })
      fs.writeSync(this.logFd, `# ${new Date().toISOString()} exit code=${code} signal=${signal} cause=${cause}\n`)
    })
  }

  private parseLine(line: string): void {
    const o = parseJsonLine<Record<string, unknown>>(line)
    if (!o) {
      this.keepTail(line)
      return
    }
    const at = typeof o.time === 'string' ? Date.parse(o.time) : Date.now()
    const msg = typeof o.msg === 'string' ? o.msg : ''
    this.keepTail(msg || line)
    if (o.event === 'role' && typeof o.to === 'string') {
      this.roles.push({
        at,
        from: typeof o.from === 'string' ? o.from : '',
        role: o.to,
        reason: String(o.reason ?? ''),
        stopAsked: this.stopSent,
      })
    }
    const m = /^lock acquired: epoch (\d+) claimed/.exec(msg)
    if (m) this.epochs.push({ at, epoch: Number(m[1]) })
  }

  private keepTail(line: string): void {
    if (!line.trim()) return
    this.tail.push(line.length > 300 ? line.slice(0, 300) + '…' : line)
    if (this.tail.length > 5) this.tail.shift()
  }

  /** The epoch this broker had claimed most recently at time `t` (null if none yet). */
  epochAt(t: number): number | null {
    let e: number | null = null
    for (const x of this.epochs) if (x.at <= t) e = x.epoch
    return e
  }

  signal(sig: NodeJS.Signals): boolean {
    if (!this.alive || !this.proc) return false
    if (sig === 'SIGKILL' || sig === 'SIGTERM') {
      this.stopSent = true
      if (this.exitExpected === null) this.exitExpected = `harness sent ${sig}`
    }
    try {
      this.proc.kill(sig)
    } catch {
      return false
    }
    if (sig === 'SIGSTOP') this.stopped = true
    if (sig === 'SIGCONT') this.stopped = false
    return true
  }

  async waitExit(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    while (this.alive && Date.now() < deadline) await sleep(20)
    return !this.alive
  }

  /** SIGCONT (in case it is stopped), SIGKILL, wait for the exit. */
  async killHard(): Promise<void> {
    if (!this.alive) return
    this.signal('SIGCONT')
    this.signal('SIGKILL')
    await this.waitExit(5000)
  }

  /** SIGTERM, then SIGKILL if it has not exited within timeoutMs. */
  async terminate(timeoutMs = 5000): Promise<void> {
    if (!this.alive) return
    this.signal('SIGCONT')
    this.signal('SIGTERM')
    if (!(await this.waitExit(timeoutMs))) await this.killHard()
  }

  close(): void {
    try {
      fs.closeSync(this.logFd)
    } catch {
      // already closed
    }
  }
}

/**
 * n free ports on 127.0.0.1 BELOW the kernel's ephemeral range: a broker port inside that range could be taken
 * as the local port of an outgoing probe while the broker is down (its restart then fails with EADDRINUSE), or
 * make a probe connect to itself and look like an accepting broker.
 */
export async function pickPorts(n: number, random: () => number): Promise<number[]> {
  let low = 32768
  try {
    low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || low
  } catch {
    // not Linux: keep the IANA default
  }
  const lo = 20000
  const hi = Math.max(lo + 1000, low - 1)
  const ports: number[] = []
  for (let tries = 0; ports.length < n && tries < 200; tries++) {
    const p = lo + Math.floor(random() * (hi - lo))
    if (ports.includes(p)) continue
    if (await portFree(p)) ports.push(p)
  }
  if (ports.length < n) throw new Error(`could not find ${n} free ports in ${lo}..${hi}`)
  return ports
}
