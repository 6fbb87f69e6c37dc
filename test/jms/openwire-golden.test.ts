/**
 * Golden bytes from the real ActiveMQ 5.17 client: WireDump.java marshals sample commands with the client's own
 * OpenWireFormat (v12), and this test decodes every frame with sfbroker's codec, checks the fields WireDump set,
 * and re-encodes to the identical bytes (loose encoding). It also prints loose vs tight frame sizes, the
 * measurement behind declining tight encoding. Skipped, with the reason, when javac or the jar is missing.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type Command,
  encodeFrame,
  FrameDecoder,
  type FrameOptions,
  type Message,
  negotiate,
  readMapBody,
  readStreamBody,
  readTextBody,
  readWireFormatSettings,
  brokerWireFormatInfo,
} from '../../src/protocol/openwire/index.ts'

const JARS = ['activemq-client.jar', 'geronimo-jms_1.1_spec.jar', 'hawtbuf.jar', 'slf4j-api.jar', 'slf4j-nop.jar'].map(
  (j) => `/usr/share/java/${j}`,
)
const javac = Bun.which('javac')
const java = Bun.which('java')
const missing = javac === null || java === null ? 'javac/java not installed' : JARS.find((j) => !existsSync(j))
if (missing !== undefined) console.warn(`openwire golden tests skipped: ${missing} (apt-get install activemq)`)

const LOOSE: FrameOptions = { maxFrameSize: 1 << 20, sizePrefixDisabled: false, stackTraceEnabled: false }
let dir = ''
let scratch = ''

function decode(file: string, opts = LOOSE): { cmd: Command; bytes: Uint8Array } {
  const bytes = new Uint8Array(readFileSync(join(dir, file)))
  const out: Command[] = []
  new FrameDecoder(opts).push(bytes, (c) => void out.push(c))
  expect(out.length).toBe(1)
  return { cmd: out[0]!, bytes }
}

describe.skipIf(missing !== undefined)('OpenWire golden frames from the ActiveMQ 5.17 client', () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'openwire-golden-'))
    scratch = dir
    const cp = JARS.join(':')
    const built = Bun.spawnSync([javac!, '-d', join(dir, 'classes'), '-cp', cp, join(import.meta.dir, 'WireDump.java')])
    if (built.exitCode !== 0) throw new Error(`javac failed: ${built.stderr.toString()}`)
    const ran = Bun.spawnSync([java!, '-cp', `${join(dir, 'classes')}:${cp}`, 'WireDump', join(dir, 'out')])
    if (ran.exitCode !== 0) throw new Error(`WireDump failed: ${ran.stderr.toString()}`)
    dir = join(dir, 'out')
  })
  afterAll(() => rmSync(scratch, { recursive: true, force: true }))

  test('OpenWire golden every loose frame decodes and re-encodes to identical bytes', () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.bin'))
    expect(files.length).toBeGreaterThan(30)
    for (const f of files) {
      const { cmd, bytes } = decode(f)
      expect({ f, bytes: encodeFrame(cmd, LOOSE) }).toEqual({ f, bytes })
    }
  })

  test('OpenWire golden frames with stack traces decode and re-encode when StackTraceEnabled', () => {
    const opts = { ...LOOSE, stackTraceEnabled: true }
    for (const f of readdirSync(join(dir, 'stack'))) {
      const { cmd, bytes } = decode(join('stack', f), opts)
      expect(encodeFrame(cmd, opts)).toEqual(bytes)
      const t = cmd.type === 'MessageAck' ? cmd.poisonCause : cmd.type === 'ExceptionResponse' ? cmd.exception : null
      if (t !== null) expect(t.stackTrace!.length).toBeGreaterThan(0)
    }
  })

  test('OpenWire golden client WireFormatInfo negotiates with the broker offer', () => {
    const { cmd } = decode('wireformat.bin')
    if (cmd.type !== 'WireFormatInfo') throw new Error(cmd.type)
    const peer = readWireFormatSettings(cmd)
    expect(peer.version).toBe(12)
    expect(peer.tightEncodingEnabled).toBe(true)
    expect(peer.cacheEnabled).toBe(true)
    expect(peer.sizePrefixDisabled).toBe(false)
    expect(peer.maxInactivityDurationMs).toBe(30000)
    expect(peer.providerName).toBe('ActiveMQ')
    const broker = brokerWireFormatInfo({
      maxFrameSize: 100 << 20,
      maxInactivityDurationMs: 30000,
      maxInactivityDurationInitialDelayMs: 10000,
      stackTraceEnabled: false,
      tcpNoDelayEnabled: true,
      providerName: 'sfbroker',
      providerVersion: '0',
      platformDetails: 'bun',
    })
    const n = negotiate(readWireFormatSettings(broker), peer)
    expect(n).toEqual({
      version: 12,
      stackTraceEnabled: false,
      tcpNoDelayEnabled: true,
      sizePrefixDisabled: false,
      maxFrameSize: 100 << 20,
      maxInactivityDurationMs: 30000,
      maxInactivityDurationInitialDelayMs: 10000,
    })
  })

  test('OpenWire golden ids, consumer and connection fields', () => {
    const ci = decode('connection-info.bin').cmd
    if (ci.type !== 'ConnectionInfo') throw new Error(ci.type)
    expect(ci).toMatchObject({ commandId: 1, responseRequired: true, clientId: 'golden-client', userName: 'user' })
    expect(ci.password).toBe('secret')
    expect(ci.connectionId?.value).toBe('ID:golden-host-40000-1700000000000-1:1')
    const c = decode('consumer-info.bin').cmd
    if (c.type !== 'ConsumerInfo') throw new Error(c.type)
    expect(c.consumerId).toEqual({
      type: 'ConsumerId',
      connectionId: 'ID:golden-host-40000-1700000000000-1:1',
      sessionId: 1n,
      value: 2n,
    })
    expect(c.destination).toEqual({ type: 'Queue', physicalName: 'orders.in' })
    expect(c).toMatchObject({ prefetchSize: 1000, selector: "color = 'red'", responseRequired: true })
    const p = decode('producer-info.bin').cmd
    if (p.type !== 'ProducerInfo') throw new Error(p.type)
    expect(p.producerId).toMatchObject({ value: 3n, sessionId: 1n })
    expect(p.destination).toEqual({ type: 'Topic', physicalName: 'news.>' })
    const xa = decode('xa-transaction-info.bin').cmd
    if (xa.type !== 'TransactionInfo') throw new Error(xa.type)
    expect(xa.transactionType).toBe(1)
    expect(xa.transactionId).toEqual({
      type: 'XATransactionId',
      formatId: 17,
      globalTransactionId: new Uint8Array([1, 2, 3]),
      branchQualifier: new Uint8Array([9]),
    })
    const rm = decode('remove-info.bin').cmd
    expect(rm).toMatchObject({ type: 'RemoveInfo', lastDeliveredSequenceId: 77n, objectId: { type: 'ConsumerId' } })
  })

  test('OpenWire golden message headers, typed properties and bodies', () => {
    const m = decode('text-message.bin').cmd as Message
    expect(m.type).toBe('TextMessage')
    expect(m).toMatchObject({ commandId: 7, persistent: true, priority: 4, correlationId: 'corr-1', jmsType: 'golden' })
    expect(m.timestamp).toBe(1700000000123n)
    expect(m.messageId).toMatchObject({ producerSequenceId: 1n, brokerSequenceId: 99n })
    expect(m.replyTo?.type).toBe('TempQueue')
    expect(readTextBody(m, 1 << 20)).toBe('h\u00e9llo \u2603 \ud834\udd1e and a NUL \u0000')
    const props = Object.fromEntries(m.properties!)
    expect(props).toEqual({
      s: { kind: 'string', value: 'v\u00e9' },
      i: { kind: 'int', value: 42 },
      l: { kind: 'long', value: 1n << 40n },
      b: { kind: 'boolean', value: true },
      d: { kind: 'double', value: 2.5 },
      f: { kind: 'float', value: 1.25 },
      y: { kind: 'byte', value: -3 },
      h: { kind: 'short', value: 300 },
    })
    const map = readMapBody(decode('map-message.bin').cmd as Message, 1 << 20)!
    expect(Object.fromEntries(map)).toEqual({
      name: { kind: 'string', value: 'widget' },
      count: { kind: 'int', value: 12 },
      raw: { kind: 'bytes', value: new Uint8Array([7, 8]) },
      ok: { kind: 'boolean', value: false },
      c: { kind: 'char', value: 'x' },
      big: { kind: 'long', value: -(1n << 63n) },
    })
    expect(readStreamBody(decode('stream-message.bin').cmd as Message, 1 << 20)).toEqual([
      { kind: 'string', value: 'first' },
      { kind: 'int', value: -1 },
      { kind: 'boolean', value: true },
      { kind: 'char', value: 'q' },
      { kind: 'bytes', value: new Uint8Array([5]) },
      { kind: 'long', value: 123456789012345n },
      { kind: 'double', value: -0.5 },
      { kind: 'null' },
    ])
    const b = decode('bytes-message.bin').cmd as Message
    expect(b.content).toEqual(new Uint8Array([0, 1, 2, 255, 1, 2, 3, 4]))
    const d = decode('message-dispatch.bin').cmd
    if (d.type !== 'MessageDispatch') throw new Error(d.type)
    expect(d.redeliveryCounter).toBe(2)
    expect(readTextBody(d.message!, 1 << 20)).toBe('dispatched')
  })

  test('OpenWire golden acks, errors and responses', () => {
    const a = decode('message-ack.bin').cmd
    if (a.type !== 'MessageAck') throw new Error(a.type)
    expect(a).toMatchObject({ ackType: 2, messageCount: 3, transactionId: { type: 'LocalTransactionId', value: 5n } })
    expect(a.lastMessageId?.producerSequenceId).toBe(3n)
    const p = decode('poison-ack.bin').cmd
    expect(p).toMatchObject({
      ackType: 1,
      poisonCause: { className: 'java.lang.IllegalStateException', message: 'redelivery limit' },
    })
    const e = decode('exception-response.bin').cmd
    expect(e).toMatchObject({
      type: 'ExceptionResponse',
      correlationId: 4,
      exception: { className: 'javax.jms.InvalidDestinationException', message: 'no such queue' },
    })
    expect(decode('connection-error.bin').cmd).toMatchObject({
      exception: { className: 'java.lang.SecurityException' },
      connectionId: { value: 'ID:golden-host-40000-1700000000000-1:1' },
    })
    expect(decode('integer-response.bin').cmd).toMatchObject({ type: 'IntegerResponse', result: 6, correlationId: 6 })
    expect(decode('data-response.bin').cmd).toMatchObject({ data: { type: 'Queue', physicalName: 'orders.in' } })
    expect(decode('broker-info.bin').cmd).toMatchObject({
      brokerName: 'golden',
      brokerId: { value: 'ID:golden-broker-1' },
      faultTolerantConfiguration: true,
    })
    expect(decode('connection-control.bin').cmd).toMatchObject({
      faultTolerant: true,
      reconnectTo: 'tcp://127.0.0.1:61617',
      token: new Uint8Array([4, 2]),
    })
  })

  test('OpenWire golden loose vs tight frame sizes (measurement, printed)', () => {
    let loose = 0
    let tight = 0
    const rows: string[] = []
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.bin'))) {
      const l = readFileSync(join(dir, f)).length
      const t = readFileSync(join(dir, 'tight', f)).length
      loose += l
      tight += t
      rows.push(`${f.replace('.bin', '')} ${l}/${t}`)
    }
    console.log(`openwire loose/tight bytes: total ${loose}/${tight}; ${rows.join(', ')}`)
    expect(tight).toBeLessThan(loose)
  })
})
