/**
 * Goal: what the failover client promises across a broker death, checked against scripted STOMP servers
 * (src/client/testing/fake-stomp-server.ts) that share one store, standing in for a primary and a replica:
 * re-CONNECT with the same client-id, resubscribe with identical headers, resend every unreceipted SEND with the same
 * message-id (the store dedupes, so nothing is stored twice and nothing receipted is lost), transactions in flight
 * reported in doubt, messages redelivered after the loss marked redelivered, state events in order, timeouts coded.
 * Method: real sockets on 127.0.0.1, ephemeral ports; the "replica" starts listening only after the "primary" dies.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { freePort } from '../src/testing/net-probe.ts'
import { until } from '../src/testing/until.ts'
import { connect, type StompClient } from '../src/client/index.ts'
import { isBrokerError } from '../src/lib/errors.ts'
import { FakeStompServer, FakeStore } from '../src/client/testing/fake-stomp-server.ts'

const servers: FakeStompServer[] = []
const clients: StompClient[] = []

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close().catch(() => undefined)
  for (const s of servers.splice(0)) await s.kill().catch(() => undefined)
})

async function startServer(store: FakeStore, name: string, port = 0): Promise<FakeStompServer> {
  for (let i = 0; ; i++) {
    try {
      const s = await FakeStompServer.start(store, name, port)
      servers.push(s)
      return s
    } catch (e) {
      if (i >= 20 || (e as { code?: string }).code !== 'EADDRINUSE') throw e
      await new Promise((r) => setTimeout(r, 100))
    }
  }
}

const FAST = 'randomize=false&initialReconnectDelay=10&maxReconnectDelay=50&timeout=10000'

describe('failover client against scripted servers', () => {
  test('StompClient resends unreceipted SENDs with the same message-id and resubscribes after a kill', async () => {
    const store = new FakeStore()
    const a = await startServer(store, 'a')
    const bPort = await freePort()
    const events: string[] = []
    const c = await connect(`failover:(tcp://127.0.0.1:${a.port},tcp://127.0.0.1:${bPort})?${FAST}`, {
      clientId: 'cid-1',
      heartbeat: [0, 0],
    })
    clients.push(c)
    c.on('interrupted', (i) => events.push(`interrupted ${i.endpoint}`))
    c.on('resumed', (i) => events.push(`resumed ${i.endpoint}`))

    const sub = c.subscribe('topic://news', {
      ack: 'client-individual',
      selector: "kind = 'x'",
      prefetch: 7,
      durableName: 'dn',
    })
    await sub.ready

    // The first 5 sends are receipted by A.
    for (let i = 0; i < 5; i++) await c.send('queue://work', `m${i}`)
    // A goes mute: it stores the next sends but never receipts them, then dies.
    a.mute = true
    const late = [5, 6, 7].map((i) => c.send('/queue/work', `m${i}`))
    for (const p of late) p.catch(() => undefined) // awaited below; a failure is reported there, not as unhandled
    await until(() => a.framesOf('SEND').length === 8, 'A to store 8 sends', 10_000, 10)
    const tx = c.begin()
    await tx.send('/queue/work', 'in-tx')
    // Capture the outcome now: the rejection arrives while the test is still waiting for the kill.
    const commitOutcome = tx.commit().then(
      () => null,
      (e: unknown) => e,
    )
    await until(() => a.framesOf('COMMIT').length === 1, 'COMMIT to reach A', 10_000, 10)
    await a.kill()
    await until(() => c.state === 'reconnecting', 'the client to notice the loss', 10_000, 10)
    // Sent while nobody listens: queued, then written to B.
    const during = c.send('/queue/work', 'm8')
    const commitErr = await commitOutcome
    expect(isBrokerError(commitErr, 'CLIENT_TX_IN_DOUBT')).toBe(true)
    // A transaction begun on the lost connection stays in doubt for its later operations.
    let sendErr: unknown
    await tx.send('/queue/work', 'x').catch((e) => (sendErr = e))
    expect(isBrokerError(sendErr, 'CLIENT_TX_IN_DOUBT')).toBe(true)

    const b = await startServer(store, 'b', bPort)
    await Promise.all([...late, during])

    // Same message ids, so B dropped the three A had stored; 9 distinct messages (tx ones were never committed).
    const bodies = [...store.messages.values()]
      .filter((m) => m.destination === '/queue/work')
      .map((m) => new TextDecoder().decode(m.body))
    expect(bodies.sort()).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8'])
    expect(store.duplicatesDropped).toBe(3)
    const aIds = a
      .framesOf('SEND')
      .filter((f) => f.headers['transaction'] === undefined)
      .slice(5)
      .map((f) => f.headers['message-id'])
    const bIds = b.framesOf('SEND').map((f) => f.headers['message-id'])
    expect(bIds.slice(0, 3)).toEqual(aIds)
    // Re-CONNECT with the same client-id; resubscribe with the same headers.
    expect(b.framesOf('CONNECT')[0].headers['client-id']).toBe('cid-1')
    const subA = a.framesOf('SUBSCRIBE')[0].headers
    const subB = b.framesOf('SUBSCRIBE')[0].headers
    for (const k of ['id', 'destination', 'ack', 'selector', 'activemq.prefetchSize', 'activemq.subscriptionName'])
      expect(subB[k]).toBe(subA[k])
    expect(subB['activemq.subscriptionName']).toBe('dn')
    // No transaction replayed on B.
    expect(b.framesOf('BEGIN').length + b.framesOf('COMMIT').length).toBe(0)
    expect(events).toEqual([`interrupted tcp://127.0.0.1:${a.port}`, `resumed tcp://127.0.0.1:${bPort}`])
    expect(c.stats.reconnects).toBe(1)
    expect(c.stats.resentSends).toBe(3)
  })

  test('StompClient consumers get unacked messages again, marked redelivered, after a kill', async () => {
    const store = new FakeStore()
    const a = await startServer(store, 'a')
    const bPort = await freePort()
    const c = await connect(`failover:(tcp://127.0.0.1:${a.port},tcp://127.0.0.1:${bPort})?${FAST}`, {
      heartbeat: [0, 0],
    })
    clients.push(c)
    for (let i = 0; i < 4; i++) await c.send('/queue/q', `m${i}`)
    const sub = c.subscribe('/queue/q', { ack: 'client-individual' })
    const first: string[] = []
    for (let i = 0; i < 4; i++) {
      const m = await sub.receive(5000)
      if (!m) throw new Error('no message')
      first.push(m.text())
      if (i < 2) await m.ack({ receipt: true })
    }
    expect(first).toEqual(['m0', 'm1', 'm2', 'm3'])
    await a.kill()
    await startServer(store, 'b', bPort)
    const again: { text: string; redelivered: boolean }[] = []
    for (let i = 0; i < 2; i++) {
      const m = await sub.receive(10000)
      if (!m) throw new Error('no redelivery')
      again.push({ text: m.text(), redelivered: m.redelivered })
      await m.ack()
    }
    expect(again).toEqual([
      { text: 'm2', redelivered: true },
      { text: 'm3', redelivered: true },
    ])
    expect(await sub.receive(200)).toBeUndefined()
  })

  test('StompClient marks a repeated message-id redelivered even when the broker does not', async () => {
    const store = new FakeStore()
    const a = await startServer(store, 'a')
    const bPort = await freePort()
    const c = await connect(`failover:(tcp://127.0.0.1:${a.port},tcp://127.0.0.1:${bPort})?${FAST}`, {
      heartbeat: [0, 0],
    })
    clients.push(c)
    await c.send('/queue/d', 'once')
    const sub = c.subscribe('/queue/d', { ack: 'client' })
    const first = await sub.receive(5000)
    expect(first?.redelivered).toBe(false)
    await a.kill()
    // The new broker recovered the message but lost the fact that it was dispatched.
    for (const m of store.messages.values()) m.delivered = false
    await startServer(store, 'b', bPort)
    const again = await sub.receive(10000)
    expect(again?.text()).toBe('once')
    expect(again?.brokerRedelivered).toBe(false)
    expect(again?.redelivered).toBe(true)
    expect(again?.duplicate).toBe(true)
  })

  test('StompClient with priorityBackup moves back to the priority broker once it accepts connections', async () => {
    const store = new FakeStore()
    const aPort = await freePort()
    const b = await startServer(store, 'b')
    const c = await connect(
      `failover:(tcp://127.0.0.1:${aPort},tcp://127.0.0.1:${b.port})?${FAST}&priorityBackup=true`,
      { heartbeat: [0, 0] },
    )
    clients.push(c)
    expect(c.endpoint).toBe(`tcp://127.0.0.1:${b.port}`)
    const resumed: string[] = []
    c.on('resumed', (i) => resumed.push(i.endpoint))
    const sub = c.subscribe('/queue/p', { ack: 'client-individual' })
    await sub.ready
    const a = await startServer(store, 'a', aPort)
    await until(() => c.endpoint === `tcp://127.0.0.1:${aPort}`, 'the move to the priority broker', 10_000, 10)
    expect(resumed).toEqual([`tcp://127.0.0.1:${aPort}`])
    await until(() => b.framesOf('DISCONNECT').length === 1, 'the old connection to be closed', 10_000, 10)
    await c.send('/queue/p', 'after-move')
    const m = await sub.receive(5000)
    expect(m?.text()).toBe('after-move')
    expect(a.framesOf('SUBSCRIBE')[0].headers['id']).toBe(sub.id)
  })

  test('StompClient send rejects with CLIENT_TIMEOUT when no broker receipts it in time', async () => {
    const store = new FakeStore()
    const a = await startServer(store, 'a')
    const c = await connect(`failover:(tcp://127.0.0.1:${a.port})?timeout=300&initialReconnectDelay=10`, {
      heartbeat: [0, 0],
    })
    clients.push(c)
    a.mute = true
    let err: unknown
    await c.send('/queue/t', 'x').catch((e) => (err = e))
    expect(isBrokerError(err, 'CLIENT_TIMEOUT')).toBe(true)
    expect(c.inFlight).toBe(0)
  })

  test('StompClient over a plain tcp:// URI fails pending sends when the broker dies', async () => {
    const store = new FakeStore()
    const a = await startServer(store, 'a')
    const c = await connect(`tcp://127.0.0.1:${a.port}`, { heartbeat: [0, 0] })
    clients.push(c)
    const failed: Error[] = []
    c.on('failed', (e) => failed.push(e))
    a.mute = true
    const p = c.send('/queue/t', 'x')
    await until(() => a.framesOf('SEND').length === 1, 'the send to arrive', 10_000, 10)
    await a.kill()
    let err: unknown
    await p.catch((e) => (err = e))
    expect(isBrokerError(err, 'CLIENT_DISCONNECTED')).toBe(true)
    expect(failed.length).toBe(1)
    expect(c.state).toBe('failed')
  })

  test('connect rejects with CLIENT_DISCONNECTED when startupMaxReconnectAttempts passes fail', async () => {
    const port = await freePort()
    let err: unknown
    await connect(`failover:(tcp://127.0.0.1:${port})?startupMaxReconnectAttempts=2&initialReconnectDelay=10`).catch(
      (e) => (err = e),
    )
    expect(isBrokerError(err, 'CLIENT_DISCONNECTED')).toBe(true)
  })

  test('StompClient async iteration ends when the subscription is unsubscribed', async () => {
    const store = new FakeStore()
    const a = await startServer(store, 'a')
    const c = await connect(`tcp://127.0.0.1:${a.port}`, { heartbeat: [0, 0] })
    clients.push(c)
    const sub = c.subscribe('/queue/it')
    await sub.ready
    for (let i = 0; i < 3; i++) await c.send('/queue/it', `v${i}`)
    const got: string[] = []
    for await (const m of sub) {
      got.push(m.text())
      if (got.length === 3) await sub.unsubscribe()
    }
    expect(got).toEqual(['v0', 'v1', 'v2'])
  })
})
