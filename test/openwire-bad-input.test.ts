/**
 * Goal: bad OpenWire input costs that connection only, with a ConnectionError first when the handshake is done.
 * Method: raw sockets to an in-process OpenWireServer over a real Broker; a client WireFormatInfo from the codec,
 * then a malformed frame, an oversized size prefix, or a command before the handshake; a second, well-behaved
 * connection keeps working throughout.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import net from 'node:net'
import type { Broker } from '../src/broker/index.ts'
import { makeBroker, until } from '../src/broker/broker-test-kit.ts'
import {
  type Command,
  brokerWireFormatInfo,
  encodeFrame,
  FrameDecoder,
  initialFrameOptions,
} from '../src/protocol/openwire/index.ts'
import { OpenWireServer } from '../src/protocol/openwire/server.ts'

const OPTS = initialFrameOptions(1 << 20)
const clientInfo = brokerWireFormatInfo({
  maxFrameSize: 1 << 20,
  maxInactivityDurationMs: 0,
  maxInactivityDurationInitialDelayMs: 0,
  stackTraceEnabled: false,
  tcpNoDelayEnabled: true,
  providerName: 'test',
  providerVersion: '1',
  platformDetails: 'test',
})

let broker: Broker
let server: OpenWireServer

/** Connects, sends `bytes` after the client's WireFormatInfo, and collects commands until the socket closes. */
function session(bytes: Uint8Array[]): Promise<Command[]> {
  return new Promise((resolve) => {
    const got: Command[] = []
    const dec = new FrameDecoder(OPTS)
    const s = net.connect(server.address().port, '127.0.0.1')
    s.on('data', (d: Buffer) => dec.push(d, (c) => void got.push(c)))
    s.on('close', () => resolve(got))
    s.on('error', () => {})
    s.on('connect', () => {
      for (const b of bytes) s.write(b)
    })
  })
}

describe('OpenWire bad input', () => {
  beforeAll(async () => {
    broker = (await makeBroker()).broker
    server = new OpenWireServer({
      core: broker,
      host: '127.0.0.1',
      port: 0,
      limits: { maxFrameSize: 1 << 16 },
    })
    await server.listen()
  })
  afterAll(async () => {
    await server.close()
    await broker.stop()
  })

  test('OpenWire a malformed command gets ConnectionError, then the connection closes', async () => {
    const garbage = new Uint8Array([0, 0, 0, 3, 23, 1, 99])
    const got = await session([encodeFrame(clientInfo, OPTS), garbage])
    expect(got.map((c) => c.type)).toEqual(['WireFormatInfo', 'BrokerInfo', 'ConnectionError'])
    const err = got[2]!
    if (err.type !== 'ConnectionError') throw new Error(err.type)
    expect(err.exception!.className).toBe('java.io.IOException')
  })

  test('OpenWire a size prefix over maxFrameSize closes the connection before its body is read', async () => {
    const big = new Uint8Array([0x7f, 0, 0, 0])
    const got = await session([encodeFrame(clientInfo, OPTS), big])
    expect(got.at(-1)!.type).toBe('ConnectionError')
  })

  test('OpenWire a command before WireFormatInfo closes the connection', async () => {
    const got = await session([encodeFrame({ type: 'KeepAliveInfo', commandId: 1, responseRequired: false }, OPTS)])
    expect(got.map((c) => c.type)).toEqual(['WireFormatInfo'])
  })

  test('OpenWire bad input on one connection leaves another working', async () => {
    const good = net.connect(server.address().port, '127.0.0.1')
    const got: Command[] = []
    const dec = new FrameDecoder(OPTS)
    good.on('data', (d: Buffer) => dec.push(d, (c) => void got.push(c)))
    await new Promise((r) => good.on('connect', r))
    good.write(encodeFrame(clientInfo, OPTS))
    await session([encodeFrame(clientInfo, OPTS), new Uint8Array([0, 0, 0, 1, 200])])
    good.write(encodeFrame({ type: 'KeepAliveInfo', commandId: 2, responseRequired: true }, OPTS))
    await until(() => got.some((c) => c.type === 'KeepAliveInfo'), 'the KeepAliveInfo answer')
    expect(got.map((c) => c.type)).toEqual(['WireFormatInfo', 'BrokerInfo', 'KeepAliveInfo'])
    good.destroy()
  })
})
