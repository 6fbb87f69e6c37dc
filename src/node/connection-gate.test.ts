/**
 * Goal: ConnectionGate holds maximumConnections and maximumConnectionsPerAddress, gives a slot back when its socket
 * closes, and says which limit refused. Method: fake sockets (an EventEmitter with a remoteAddress), fake clock.
 */
import { describe, expect, test } from 'bun:test'
import { EventEmitter } from 'node:events'
import type net from 'node:net'
import { FakeClock } from '../testing/fake-clock.ts'
import { ConnectionGate } from './connection-gate.ts'

function sock(address: string): net.Socket & EventEmitter {
  const e = new EventEmitter() as net.Socket & EventEmitter
  Object.defineProperty(e, 'remoteAddress', { value: address })
  return e
}

describe('ConnectionGate', () => {
  test('ConnectionGate refuses past maximumConnectionsPerAddress and maximumConnections, frees on close', () => {
    const g = new ConnectionGate(
      'connector m (mqtt://x:1)',
      { maximumConnections: 3, maximumConnectionsPerAddress: 2 },
      new FakeClock(),
    )
    const a1 = sock('::ffff:10.0.0.1')
    expect(g.admit(a1)).toBeNull()
    expect(g.admit(sock('10.0.0.1'))).toBeNull()
    expect(g.admit(sock('10.0.0.1'))).toContain('transport.maximumConnectionsPerAddress 2 reached for 10.0.0.1')
    expect(g.admit(sock('10.0.0.2'))).toBeNull()
    expect(g.admit(sock('10.0.0.3'))).toContain('maximumConnections 3 reached')
    expect(g.refused).toBe(2)
    a1.emit('close')
    expect(g.total).toBe(2)
    expect(g.admit(sock('10.0.0.1'))).toBeNull()
    g.close()
  })
})
