/**
 * Progress for long client runs (produce, consume, bench). On a TTY: one line redrawn in place on stderr at most
 * every `redrawMs` (a bar when the total is known). Otherwise: a plain line every `lineEveryMs`, so logs and CI
 * output stay readable. `done()` always prints the final state on its own line. Writes only to the stream given.
 */
export interface ProgressStream {
  write(s: string): unknown
  isTTY?: boolean
  columns?: number
}

export class Progress {
  private count = 0
  private lastDraw = 0
  private readonly started: number
  private finished = false
  private readonly tty: boolean

  constructor(
    private readonly label: string,
    private readonly total: number | undefined,
    private readonly stream: ProgressStream = process.stderr,
    private readonly opts: { redrawMs?: number; lineEveryMs?: number; now?: () => number; enabled?: boolean } = {},
  ) {
    this.tty = stream.isTTY === true
    this.started = this.now()
    this.lastDraw = this.started
  }

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now()
  }

  add(n = 1): void {
    this.count += n
    if (this.opts.enabled === false || this.finished) return
    const t = this.now()
    const every = this.tty ? (this.opts.redrawMs ?? 100) : (this.opts.lineEveryMs ?? 5000)
    if (t - this.lastDraw >= every) {
      this.lastDraw = t
      this.draw(false)
    }
  }

  get value(): number {
    return this.count
  }

  done(): void {
    if (this.finished) return
    this.finished = true
    if (this.opts.enabled === false) return
    this.draw(true)
  }

  private draw(final: boolean): void {
    const secs = Math.max(0.001, (this.now() - this.started) / 1000)
    const rate = Math.round(this.count / secs)
    const of =
      this.total !== undefined && this.total > 0
        ? `/${this.total} (${Math.floor((100 * this.count) / this.total)}%)`
        : ''
    const text = `${this.label}: ${this.count}${of} ${rate} msg/s ${secs.toFixed(1)} s`
    if (!this.tty) {
      this.stream.write(text + '\n')
      return
    }
    let bar = ''
    if (this.total !== undefined && this.total > 0) {
      const width = 24
      const full = Math.min(width, Math.floor((width * this.count) / this.total))
      bar = `[${'#'.repeat(full)}${'-'.repeat(width - full)}] `
    }
    const line = (bar + text).slice(0, Math.max(20, (this.stream.columns ?? 100) - 1))
    this.stream.write(`\r\x1b[K${line}${final ? '\n' : ''}`)
  }
}
