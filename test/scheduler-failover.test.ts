/**
 * Goal: scheduled jobs survive a kill -9 of the primary. Two real `sfbroker run` processes share one data
 * directory (schedulerSupport=true, scheduler store under it). On primary A we schedule a message with a 2 s delay
 * and a repeating job (4 copies, 1 s apart), then kill -9 A after 1 s. B takes over; we check that the delayed
 * message arrives once, not before its due time, from B; and that the repeating job delivers exactly its 4 copies
 * in total across both primaries (its remaining count survived; none lost, none duplicated).
 * Method: processes spawned with the running Bun, JSON logs parsed for role changes, a minimal STOMP client over
 * node:net (so this test depends only on the broker's wire protocol). Timing is asserted with generous bounds
 * (due time not before, within 15 s after) because the machine is shared and loaded.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import type { ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { FROM_SOURCE, TestProcesses } from './fixtures/broker-process.ts'
import { freePort } from '../src/testing/net-probe.ts'
import { until } from '../src/testing/until.ts'
import { parseJsonLine, readLines } from '../src/lib/line-reader.ts'

const procs = new TestProcesses()
afterAll(() => procs.cleanup())

interface Node {
  proc: ChildProcess
  port: number
  roles: string[]
  log: string[]
}

function startNode(name: string, config: string, port: number): Node {
  const proc = procs.spawn(
    [...FROM_SOURCE, 'run', '--config', config, '--connector', `stomp://127.0.0.1:${port}`, '--log-format', 'json'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  )
  const node: Node = { proc, port, roles: [], log: [] }
  readLines(proc.stderr!, (line) => {
    if (node.log.length < 2000) node.log.push(`${name}: ${line}`)
    // A pretty or partial line is kept in node.log for the failure message only.
    const o = parseJsonLine<{ event?: string; to?: string }>(line)
    if (o?.event === 'role' && o.to) node.roles.push(o.to)
  })
  return node
}

async function waitFor(what: string, cond: () => boolean, timeoutMs: number, nodes: Node[]): Promise<void> {
  await until(cond, () => `${what}\n${nodes.flatMap((n) => n.log.slice(-30)).join('\n')}`, timeoutMs, 50)
}

interface Frame {
  command: string
  headers: Record<string, string>
  body: string
}

/** A minimal STOMP 1.2 client: enough for CONNECT, SEND with receipt, SUBSCRIBE and reading MESSAGE frames. */
class MiniStomp {
  frames: Frame[] = []
  private buf = Buffer.alloc(0)
  private waiters: (() => void)[] = []
  private constructor(private sock: net.Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d])
      this.parse()
    })
    sock.on('error', () => undefined)
  }

  static async connect(port: number): Promise<MiniStomp> {
    const sock = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1')
      s.once('connect', () => resolve(s))
      s.once('error', reject)
    })
    const c = new MiniStomp(sock)
    c.write('CONNECT', { 'accept-version': '1.2', host: 'localhost', 'heart-beat': '0,0' })
    await c.next((f) => f.command === 'CONNECTED' || f.command === 'ERROR', 10_000)
    return c
  }

  write(command: string, headers: Record<string, string>, body = ''): void {
    const h = Object.entries(headers)
      .map(([k, v]) => `${k}:${v}`)
      .join('\n')
    this.sock.write(`${command}\n${h}\n\n${body}\0`)
  }

  async send(destination: string, headers: Record<string, string>, body: string): Promise<void> {
    const receipt = `r-${Math.random().toString(36).slice(2)}`
    this.write('SEND', { destination, receipt, 'content-length': String(Buffer.byteLength(body)), ...headers }, body)
    const f = await this.next(
      (x) => (x.command === 'RECEIPT' && x.headers['receipt-id'] === receipt) || x.command === 'ERROR',
      15_000,
    )
    if (f.command === 'ERROR') throw new Error(`SEND refused: ${f.headers['message']} ${f.body}`)
  }

  async next(match: (f: Frame) => boolean, timeoutMs: number): Promise<Frame> {
    const end = Date.now() + timeoutMs
    for (;;) {
      const i = this.frames.findIndex(match)
      if (i >= 0) return this.frames.splice(i, 1)[0]!
      const left = end - Date.now()
      if (left <= 0)
        throw new Error(`no matching frame within ${timeoutMs} ms; have ${this.frames.map((f) => f.command).join(',')}`)
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 200))
        this.waiters.push(() => {
          clearTimeout(t)
          r()
        })
      })
    }
  }

  close(): void {
    this.sock.destroy()
  }

  private parse(): void {
    for (let guard = 0; guard < 10_000; guard++) {
      while (this.buf.length > 0 && (this.buf[0] === 0x0a || this.buf[0] === 0x0d)) this.buf = this.buf.subarray(1)
      const headEnd = this.buf.indexOf('\n\n')
      if (headEnd < 0) return
      const lines = this.buf.subarray(0, headEnd).toString('utf8').split('\n')
      const headers: Record<string, string> = {}
      for (const l of lines.slice(1)) {
        const c = l.indexOf(':')
        if (c > 0 && !(l.slice(0, c) in headers)) headers[l.slice(0, c)] = l.slice(c + 1)
      }
      const len = headers['content-length'] !== undefined ? Number(headers['content-length']) : -1
      const bodyStart = headEnd + 2
      const bodyEnd = len >= 0 ? bodyStart + len : this.buf.indexOf(0, bodyStart)
      if (bodyEnd < 0 || this.buf.length < bodyEnd + 1) return
      this.frames.push({ command: lines[0]!, headers, body: this.buf.subarray(bodyStart, bodyEnd).toString('utf8') })
      this.buf = this.buf.subarray(bodyEnd + 1)
      for (const w of this.waiters.splice(0)) w()
    }
  }
}

describe('scheduler failover', () => {
  test('scheduler delayed and repeating jobs survive kill -9 of the primary, delivered once by the new primary', async () => {
    const dir = procs.tempDir('sfb-sched-')
    const data = path.join(dir, 'data')
    const config = path.join(dir, 'broker.json')
    fs.writeFileSync(
      config,
      JSON.stringify({
        brokerName: 'sched-test',
        dataDirectory: data,
        schedulerSupport: true,
        persistenceAdapter: { kahaDB: { directory: path.join(data, 'kahadb'), lockKeepAlivePeriod: 500 } },
      }),
    )
    const [portA, portB] = [await freePort(), await freePort()]
    const a = startNode('A', config, portA)
    await waitFor('A to become primary', () => a.roles.includes('primary'), 30_000, [a])
    const b = startNode('B', config, portB)
    await waitFor('B to become replica', () => b.roles.includes('replica'), 30_000, [a, b])

    const producer = await MiniStomp.connect(portA)
    // The job is due 2000 ms after the broker took the SEND, which is after this moment: the lower bound below
    // counts from here (counting from the RECEIPT made it depend on how long the receipt took on a busy machine).
    const sendStartedAt = Date.now()
    await producer.send('/queue/sched.delay', { persistent: 'true', AMQ_SCHEDULED_DELAY: '2000' }, 'delayed')
    const sentAt = Date.now()
    await producer.send(
      '/queue/sched.repeat',
      { persistent: 'true', AMQ_SCHEDULED_DELAY: '500', AMQ_SCHEDULED_PERIOD: '1000', AMQ_SCHEDULED_REPEAT: '3' },
      'tick',
    )
    await Bun.sleep(Math.max(0, sentAt + 1000 - Date.now()))
    a.proc.kill('SIGKILL')
    producer.close()

    await waitFor('B to become primary', () => b.roles.includes('primary'), 30_000, [a, b])
    const consumer = await MiniStomp.connect(portB)
    consumer.write('SUBSCRIBE', { id: 'd', destination: '/queue/sched.delay', ack: 'auto' })
    consumer.write('SUBSCRIBE', { id: 'r', destination: '/queue/sched.repeat', ack: 'auto' })

    const delayed = await consumer.next((f) => f.command === 'MESSAGE' && f.headers['subscription'] === 'd', 20_000)
    const deliveredAt = Date.now()
    expect(delayed.body).toBe('delayed')
    expect(delayed.headers['scheduledJobId']).toBeDefined()
    expect(delayed.headers['AMQ_SCHEDULED_DELAY']).toBeUndefined()
    // Not before its due time (small slack for clock granularity), and well within a loaded machine's takeover time.
    expect(deliveredAt - sendStartedAt).toBeGreaterThanOrEqual(1990)
    expect(deliveredAt - sentAt).toBeLessThan(15_000)

    const repeats: Frame[] = []
    for (let i = 0; i < 4; i++)
      repeats.push(await consumer.next((f) => f.command === 'MESSAGE' && f.headers['subscription'] === 'r', 20_000))
    // Let anything extra (a duplicate or a fifth copy) show up before counting.
    await Bun.sleep(2500)
    const extra = consumer.frames.filter((f) => f.command === 'MESSAGE')
    expect(extra.map((f) => `${f.headers['subscription']}:${f.headers['message-id']}`)).toEqual([])
    expect(new Set(repeats.map((f) => f.headers['message-id'])).size).toBe(4)
    expect(new Set(repeats.map((f) => f.headers['scheduledJobId'])).size).toBe(1)
    consumer.close()
    b.proc.kill('SIGTERM')
  }, 120_000)
})
