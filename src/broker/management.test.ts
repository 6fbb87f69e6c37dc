/**
 * Goal: BrokerManagement's operations keep the broker's invariants on queues that are partly paged out or
 * recovered from a store: browse pages through every waiting message in order without consuming; delete, move
 * and purge take exactly the messages named, from memory and from the store, and a consumer afterwards gets
 * exactly the rest; nothing comes back after a restart. Method: a Broker over a MemoryStore with small memory
 * limits (so most messages are paged), persistent sends, then a consumer and a second Broker on the same store.
 */
import { describe, expect, test } from 'bun:test'
import { isBrokerError } from '../lib/errors.ts'
import { MemoryStore } from '../testing/memory-store.ts'
import { toStompHeaders } from '../protocol/stomp/message-mapping.ts'
import { dec, enc, makeBroker, settle, stompView, sub, until } from './broker-test-kit.ts'
import { BrokerManagement, type BrowsedMessage } from './management.ts'

const LIMITS = { memoryLimit: 8 * 1024, destinationMemoryLimit: 8 * 1024 }

/** A browsed message's headers as a STOMP MESSAGE would carry them. */
const headersOf = (m: BrowsedMessage): Record<string, string> => toStompHeaders(m.message)

async function filled(n: number, store = new MemoryStore()) {
  const { broker } = await makeBroker({ limits: LIMITS, store })
  const s = stompView(broker.connect({ remoteAddress: 'test', protocol: 'test' }))
  for (let i = 0; i < n; i++)
    await s.send({
      destination: '/queue/m',
      headers: { persistent: 'true', n: String(i) },
      body: enc(`m${i}`.padEnd(200, '.')),
    })
  await s.close()
  return { broker, store, mgmt: new BrokerManagement(broker) }
}

async function drain(
  broker: Awaited<ReturnType<typeof makeBroker>>['broker'],
  dest: string,
  n: number,
): Promise<string[]> {
  const s = broker.connect({ remoteAddress: 'test', protocol: 'test' })
  const sink = sub(s, { destination: dest })
  await until(() => sink.got.length >= n, `${n} messages from ${dest}`, 20_000)
  await settle()
  const got = sink.got.map((d) => dec(d.body).replace(/\.+$/, ''))
  await s.close()
  return got
}

describe('BrokerManagement', () => {
  test('BrokerManagement browse pages through memory and store in order without consuming', async () => {
    const { broker, mgmt } = await filled(120)
    const seen: string[] = []
    for (let offset = 0; ; offset += 50) {
      const page = await mgmt.browse('/queue/m', offset, 50)
      seen.push(...page.messages.map((m) => headersOf(m).n!))
      expect(page.depth).toBe(120)
      if (!page.more) break
    }
    expect(seen).toEqual(Array.from({ length: 120 }, (_, i) => String(i)))
    const page = await mgmt.browse('/queue/m', 100, 50)
    expect(page.messages.some((m) => m.where === 'store')).toBe(true)
    expect(page.messages[0]!.bodyBytes).toBe(200)
    expect(await drain(broker, '/queue/m', 120)).toHaveLength(120)
  })

  test('BrokerManagement delete, move and purge take exactly the messages named, also after a restart', async () => {
    const { broker, store, mgmt } = await filled(100)
    const all = (await mgmt.browse('/queue/m', 0, 100)).messages
    const id = (n: number) => all.find((m) => headersOf(m).n === String(n))!.id
    expect(await mgmt.deleteMessage('/queue/m', id(3))).toBe(true)
    expect(await mgmt.deleteMessage('/queue/m', id(3))).toBe(false)
    expect(await mgmt.deleteMessage('/queue/m', id(90))).toBe(true)
    expect(await mgmt.move('/queue/m', '/queue/other', [id(5), id(95)], false)).toBe(2)
    expect(await mgmt.move('/queue/m', '/queue/copy', [id(7)], true)).toBe(1)
    const left = Array.from({ length: 100 }, (_, i) => `m${i}`).filter((x) => !['m3', 'm90', 'm5', 'm95'].includes(x))
    expect((await mgmt.browse('/queue/m', 0, 200)).messages.map((m) => `m${headersOf(m).n}`)).toEqual(left)
    const other = await mgmt.browse('/queue/other', 0, 10)
    expect(other.messages.map((m) => [m.id, headersOf(m)['original-destination']])).toEqual([
      [id(5), '/queue/m'],
      [id(95), '/queue/m'],
    ])
    await settle()
    await broker.stop()

    // Recovered from the store: the same messages, and purge takes them all (a recovered range).
    const again = await makeBroker({ limits: LIMITS, store })
    const m2 = new BrokerManagement(again.broker)
    expect((await m2.browse('/queue/m', 0, 200)).messages.map((m) => `m${headersOf(m).n}`)).toEqual(left)
    expect(await m2.deleteMessage('/queue/m', id(50))).toBe(true)
    expect(await m2.purge('/queue/m')).toBe(left.length - 1)
    expect(again.broker.metrics().destinations.find((d) => d.destination === '/queue/m')!.depth).toBe(0)
    expect(await drain(again.broker, '/queue/other', 2)).toEqual(['m5', 'm95'])
    expect(await drain(again.broker, '/queue/copy', 1)).toEqual(['m7'])
    m2.removeDestination('/queue/m')
    expect(again.broker.queueNamed('/queue/m')).toBeUndefined()
    await again.broker.stop()
  })

  test('BrokerManagement refuses topics, unknown queues, a busy destination and moving to itself, with codes', async () => {
    const { mgmt } = await filled(2)
    const code = async (p: Promise<unknown> | (() => unknown)): Promise<string> => {
      try {
        await (typeof p === 'function' ? p() : p)
        return 'none'
      } catch (e) {
        return isBrokerError(e) ? e.code : String(e)
      }
    }
    expect(await code(mgmt.browse('/topic/t', 0, 10))).toBe('BROKER_DESTINATION_INVALID')
    expect(await code(mgmt.browse('/queue/none', 0, 10))).toBe('BROKER_DESTINATION_INVALID')
    expect(await code(mgmt.browse('/queue/m', 0, 10_000))).toBe('BROKER_LIMIT')
    expect(await code(mgmt.move('/queue/m', '/queue/m', null, false))).toBe('BROKER_DESTINATION_INVALID')
    expect(await code(() => mgmt.removeDestination('/queue/m'))).toBe('BROKER_DESTINATION_INVALID')
  })
})
