/**
 * Goal: messages cross between OpenWire (the ActiveMQ 5.17 JMS client) and STOMP with ActiveMQ's mapping rules.
 * Method: one real Broker behind a StompServer and an OpenWireServer; a raw STOMP socket (so content-length is
 * sent or left out exactly) subscribes and sends with receipts, and JmsSuite's fromStomp/toStomp scenarios do the
 * JMS side. A STOMP SEND without content-length reaches JMS as a TextMessage, one with it as a BytesMessage; a JMS
 * TextMessage reaches STOMP with its headers and typed properties spelled as STOMP headers.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import net from 'node:net'
import { OpenWireServer } from '../src/protocol/openwire/server.ts'
import type { StompFrame } from '../src/protocol/stomp/frame.ts'
import { FrameParser } from '../src/protocol/stomp/frame-parser.ts'
import { type Harness, startBroker } from '../src/protocol/stomp/testing/broker-harness.ts'
import { until } from '../src/testing/until.ts'
import { buildJms, type JmsBuild, jmsMissing, runJms } from './jms/jms-kit.ts'

/** A raw STOMP 1.2 connection: frames in arrival order. */
class RawStomp {
  readonly frames: StompFrame[] = []
  private readonly parser = new FrameParser()
  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) =>
      this.parser.push(chunk, (f) => {
        // Header escapes are STOMP 1.1+: decode them once CONNECTED has agreed 1.2.
        if (f.command === 'CONNECTED') this.parser.setVersion('1.2')
        this.frames.push(f)
      }),
    )
  }

  static async open(port: number): Promise<RawStomp> {
    const socket = net.connect(port, '127.0.0.1')
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
    const s = new RawStomp(socket)
    s.send('CONNECT', { 'accept-version': '1.2', host: 'localhost' })
    await s.next('CONNECTED')
    return s
  }

  send(command: string, headers: Record<string, string>, body: Uint8Array = new Uint8Array()): void {
    const head = `${command}\n${Object.entries(headers)
      .map(([k, v]) => `${k}:${v}\n`)
      .join('')}\n`
    this.socket.write(Buffer.concat([Buffer.from(head), body, Buffer.from([0])]))
  }

  /** The first frame with `command` (and receipt-id, when given), waiting for it. */
  async next(command: string, receipt?: string): Promise<StompFrame> {
    const find = () =>
      this.frames.find((f) => f.command === command && (receipt === undefined || f.headers['receipt-id'] === receipt))
    await until(
      () => find() !== undefined || this.frames.some((f) => f.command === 'ERROR'),
      `STOMP ${command} ${receipt ?? ''}`,
      20_000,
      20,
    )
    const f = find()
    if (f === undefined)
      throw new Error(`STOMP ERROR: ${JSON.stringify(this.frames.find((x) => x.command === 'ERROR'))}`)
    return f
  }

  close(): void {
    this.socket.destroy()
  }
}

let harness: Harness
let openwire: OpenWireServer
let build: JmsBuild | null = null
let stomp: RawStomp
let url = ''

describe.skipIf(jmsMissing !== undefined)('OpenWire and STOMP on one broker', () => {
  beforeAll(async () => {
    build = buildJms('JmsSuite.java')
    harness = await startBroker()
    openwire = new OpenWireServer({ core: harness.broker, host: '127.0.0.1', port: 0 })
    await openwire.listen()
    url = `tcp://127.0.0.1:${openwire.address().port}`
    stomp = await RawStomp.open(harness.port)
  }, 60_000)
  afterAll(async () => {
    stomp?.close()
    await openwire?.close()
    await harness?.stop()
    build?.remove()
  })

  test('a STOMP SEND reaches a JMS consumer as a TextMessage without content-length, a BytesMessage with it', async () => {
    const dest = '/queue/jms.cross.fromstomp'
    stomp.send(
      'SEND',
      { destination: dest, color: 'red', 'correlation-id': 'c-1', priority: '6', persistent: 'true', receipt: 's1' },
      new TextEncoder().encode('plain text'),
    )
    stomp.send('SEND', { destination: dest, 'content-length': '3', receipt: 's2' }, new Uint8Array([1, 0, 2]))
    await stomp.next('RECEIPT', 's1')
    await stomp.next('RECEIPT', 's2')
    const run = await runJms(build!, 'JmsSuite', [url, 'fromStomp'])
    expect(run.results.get('fromStomp') ?? run.output.slice(-4000)).toBe('PASS')
  }, 60_000)

  test('a JMS TextMessage reaches a STOMP subscriber with its headers and typed properties mapped', async () => {
    stomp.send('SUBSCRIBE', { id: 'x', destination: '/queue/jms.cross.tostomp', ack: 'auto', receipt: 'sub' })
    await stomp.next('RECEIPT', 'sub')
    const run = await runJms(build!, 'JmsSuite', [url, 'toStomp'])
    expect(run.results.get('toStomp') ?? run.output.slice(-4000)).toBe('PASS')
    const m = await stomp.next('MESSAGE')
    expect(new TextDecoder().decode(m.body)).toBe('héllo stomp')
    const h = m.headers
    expect(h.destination).toBe('/queue/jms.cross.tostomp')
    expect(h.subscription).toBe('x')
    expect(h['message-id']).toStartWith('ID:')
    expect(h['correlation-id']).toBe('corr-9')
    expect(h.type).toBe('kind')
    expect(h['reply-to']).toBe('/queue/jms.cross.replies')
    expect(h.priority).toBe('7')
    expect(h.persistent).toBe('true')
    expect(h.expires).toBe('0')
    expect({ s: h.s, i: h.i, b: h.b, l: h.l, d: h.d }).toEqual({
      s: 'str',
      i: '42',
      b: 'true',
      l: String(2 ** 40),
      d: '2.5',
    })
    // ActiveMQ writes content-length on every MESSAGE, text or not.
    expect(h['content-length']).toBe(String(new TextEncoder().encode('héllo stomp').length))
  }, 60_000)
})
