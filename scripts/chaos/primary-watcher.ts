/**
 * PrimaryWatcher: probes every broker's client port every `intervalMs` (10 ms by default) with a TCP connect
 * and records every moment when two or more brokers accept connections at once. A probe that does not answer
 * within `probeTimeoutMs` counts as not accepting (a stopped process's listen queue may still complete the
 * handshake in the kernel, so "accepts" means the connect completed — a SIGSTOPped primary still counts; callers
 * exclude such a port while they keep it stopped). Each moment carries the `phase` label set by the caller, so the
 * harness can count the lying-locks phase (where several brokers are expected to accept) apart from the rest.
 */
import { tcpAccepts as probe } from '../../src/testing/net-probe.ts'

export interface TwoPrimaryMoment {
  at: number
  ports: number[]
  phase: string
}

export class PrimaryWatcher {
  readonly moments: TwoPrimaryMoment[] = []
  probes = 0
  private timer: ReturnType<typeof setTimeout> | null = null
  private running = false
  /** Ports to ignore for a while (e.g. a broker deliberately SIGSTOPped: its kernel still completes connects). */
  private excluded = new Set<number>()
  /** Label stored with every moment recorded from now on. */
  phase = 'normal'

  constructor(
    readonly ports: number[],
    readonly intervalMs = 10,
    readonly probeTimeoutMs = 50,
  ) {}

  exclude(port: number, on: boolean): void {
    if (on) this.excluded.add(port)
    else this.excluded.delete(port)
  }

  start(): void {
    this.running = true
    const tick = async () => {
      if (!this.running) return
      const ports = this.ports.filter((p) => !this.excluded.has(p))
      const phase = this.phase
      const up = await Promise.all(ports.map((p) => probe(p, this.probeTimeoutMs)))
      // A port excluded while its probe ran (the caller stopped that broker meanwhile) must not count.
      const still = new Set(this.ports.filter((p) => !this.excluded.has(p)))
      for (let i = 0; i < ports.length; i++) if (!still.has(ports[i]!)) up[i] = false
      this.probes++
      const accepting = ports.filter((_, i) => up[i])
      if (accepting.length > 1)
        this.moments.push({
          at: Date.now(),
          ports: accepting,
          phase: phase === this.phase ? phase : `${phase}/${this.phase}`,
        })
      if (this.running) this.timer = setTimeout(tick, this.intervalMs)
    }
    void tick()
  }

  /** Which ports accept right now (one probe round). */
  async accepting(): Promise<number[]> {
    const up = await Promise.all(this.ports.map((p) => probe(p, this.probeTimeoutMs)))
    return this.ports.filter((_, i) => up[i])
  }

  stop(): void {
    this.running = false
    if (this.timer) clearTimeout(this.timer)
  }
}
