/**
 * Test kit for the MQTT connector: an in-memory duplex pair (server side for MqttConnection, client side for the
 * test) and RawMqtt, a packet-level client over it (mqtt-packet's encoder and parser) that can send anything,
 * including bytes no real client would. next() waits for the next packet; closed resolves when the server ends
 * the stream. Test-only.
 */
import { Duplex } from 'node:stream'
import { generate, parser, type Packet } from 'mqtt-packet'
import { FakeClock } from '../../../client/testing/fake-clock.ts'
import { MemoryCore, type MemoryCoreOptions } from '../memory-core.ts'
import { BrokerMqttCore } from '../broker-core.ts'
import type { MqttCore, MqttMessage } from '../core-port.ts'
import { FakeBrokerPort, FakeStore } from './fake-broker-port.ts'
import { MqttConnection, type MqttConnectionOptions } from '../connection.ts'

/** Two crossed Duplex streams: what one writes the other reads. */
export function duplexPair(): [Duplex, Duplex] {
  let a!: Duplex
  let b!: Duplex
  const make = (peer: () => Duplex) =>
    new Duplex({
      read() {},
      write(chunk, _enc, cb) {
        peer().push(chunk)
        cb()
      },
      final(cb) {
        peer().push(null)
        cb()
      },
    })
  a = make(() => b)
  b = make(() => a)
  a.on('close', () => b.destroy())
  b.on('close', () => a.destroy())
  return [a, b]
}

export class RawMqtt {
  readonly received: Packet[] = []
  readonly errors: Error[] = []
  /** Every byte the server wrote, in order. */
  readonly wire: Buffer[] = []
  private waiters: ((p: Packet) => void)[] = []
  readonly closed: Promise<void>
  private readonly parser = parser()

  constructor(
    readonly stream: Duplex,
    private version: 3 | 4 | 5 = 4,
  ) {
    // The client's parser must decode server packets of its own version (a CONNECT sets it on the server side).
    ;(this.parser as unknown as { settings: object }).settings = { protocolVersion: version }
    this.parser.on('packet', (p) => {
      const w = this.waiters.shift()
      if (w) w(p)
      else this.received.push(p)
    })
    // A server packet this client cannot decode is recorded, not thrown (the fuzz test sends mutated CONNECTs, so
    // client and server may disagree on the version).
    this.parser.on('error', (e: Error) => this.errors.push(e))
    stream.on('data', (chunk: Buffer) => {
      this.wire.push(chunk)
      this.parser.parse(chunk)
    })
    this.closed = new Promise((resolve) => {
      stream.on('end', () => resolve())
      stream.on('close', () => resolve())
    })
  }

  send(p: Packet): void {
    if (p.cmd === 'connect') {
      this.version = (p.protocolVersion ?? 4) as 3 | 4 | 5
      ;(this.parser as unknown as { settings: object }).settings = { protocolVersion: this.version }
    }
    this.stream.write(generate(p, { protocolVersion: this.version }))
  }

  sendBytes(b: Uint8Array): void {
    this.stream.write(b)
  }

  /** The next packet from the server (already received or the next to arrive). */
  next(): Promise<Packet> {
    const p = this.received.shift()
    if (p) return Promise.resolve(p)
    return new Promise((resolve) => this.waiters.push(resolve))
  }

  /** The next packet, or 'closed' if the server ends the stream first. */
  nextOrClosed(): Promise<Packet | 'closed'> {
    return Promise.race([this.next(), this.closed.then(() => 'closed' as const)])
  }

  /** CONNECT with defaults for the version, returning the CONNACK. */
  async connect(fields: Partial<Packet & { cmd: 'connect' }> = {}): Promise<Packet> {
    this.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: true,
      keepalive: 0,
      clientId: 'c1',
      ...fields,
    } as Packet)
    return this.next()
  }
}

/** What the connection tests read of a core besides the port. */
export type TestCore = MqttCore & { retainedOf(topic: string): MqttMessage | undefined; sessionCount(): number }

export interface Rig {
  core: TestCore
  clock: FakeClock
  /** A new client connection to the same core. */
  client(opts?: Partial<MqttConnectionOptions>, version?: 4 | 5): { raw: RawMqtt; conn: MqttConnection }
}

export function rig(coreOpts: MemoryCoreOptions = {}): Rig {
  const clock = new FakeClock()
  return rigOver(clock, new MemoryCore({ clock, ...coreOpts }))
}

/** The same, over BrokerMqttCore on an in-memory broker port (fake-broker-port.ts) sharing the FakeClock. */
export function brokerRig(coreOpts: MemoryCoreOptions = {}): Rig {
  const clock = new FakeClock()
  const { clock: _, ...opts } = coreOpts
  const core = new BrokerMqttCore({ broker: new FakeBrokerPort(new FakeStore(), clock), ...opts })
  // An empty store: start() registers the tap before any test packet is handled.
  void core.start()
  return rigOver(clock, core)
}

/** The connection tests run over each core: MemoryCore states the contract, BrokerMqttCore must keep it. */
export const rigs: { name: string; rig: (coreOpts?: MemoryCoreOptions) => Rig }[] = [
  { name: 'MemoryCore', rig },
  { name: 'BrokerMqttCore', rig: brokerRig },
]

function rigOver(clock: FakeClock, core: TestCore): Rig {
  return {
    core,
    clock,
    client(opts = {}, version = 4) {
      const [serverSide, clientSide] = duplexPair()
      const conn = new MqttConnection({ socket: serverSide, core, clock, ...opts })
      return { raw: new RawMqtt(clientSide, version), conn }
    },
  }
}
