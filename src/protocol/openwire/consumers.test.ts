/**
 * Goal: the consumer book's prefetch 0 path holds nothing: a pull is the broker's pull credit, a timed-out pull
 * takes it back before its empty dispatch, and ConsumerControl moves a consumer between pull and push at the broker.
 * Method: a ConsumerBook over a real Broker session, a FakeClock for pull timeouts, the written commands recorded.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import type { Broker } from '../../broker/index.ts'
import { makeBroker, settle, stompSend, until } from '../../broker/broker-test-kit.ts'
import { FakeClock } from '../../testing/fake-clock.ts'
import type * as W from './commands.ts'
import { ConsumerBook, throwableText } from './consumers.ts'

let brokers: Broker[] = []
afterEach(async () => {
  for (const b of brokers) await b.stop()
  brokers = []
})

const cid = (value: number): W.ConsumerId => ({
  type: 'ConsumerId',
  connectionId: 'c',
  sessionId: 1n,
  value: BigInt(value),
})

function consumerInfo(value: number, queue: string, prefetchSize: number): W.ConsumerInfo {
  return {
    type: 'ConsumerInfo',
    commandId: 0,
    responseRequired: false,
    consumerId: cid(value),
    browser: false,
    destination: { type: 'Queue', physicalName: queue },
    prefetchSize,
    maximumPendingMessageLimit: 0,
    dispatchAsync: true,
    selector: null,
    clientId: null,
    subscriptionName: null,
    noLocal: false,
    exclusive: false,
    retroactive: false,
    priority: 0,
    brokerPath: null,
    additionalPredicate: null,
    networkSubscription: false,
    optimizedAcknowledge: false,
    noRangeAcks: false,
    networkConsumerPath: null,
  }
}

const pullOf = (value: number, timeout: bigint): W.MessagePull => ({
  type: 'MessagePull',
  commandId: 0,
  responseRequired: false,
  consumerId: cid(value),
  destination: null,
  timeout,
  correlationId: null,
  messageId: null,
})

async function setup() {
  const { broker } = await makeBroker()
  brokers.push(broker)
  const session = broker.connect({ remoteAddress: '127.0.0.1:1', protocol: 'openwire' })
  const clock = new FakeClock()
  const written: W.MessageDispatch[] = []
  const book = new ConsumerBook({ session, clock, write: (c) => written.push(c as W.MessageDispatch) })
  const to = (value: number) => written.filter((d) => d.consumerId?.value === BigInt(value))
  return { broker, session, clock, book, to }
}

describe('ConsumerBook prefetch 0', () => {
  test('ConsumerBook a pull that times out takes its credit back; a later message stays for another consumer', async () => {
    const { session, clock, book, to } = await setup()
    book.add(consumerInfo(1, 'q.pull', 0), 's')
    book.pull(pullOf(1, 100n))
    await settle()
    expect(to(1).length).toBe(0)
    clock.advance(100)
    expect(to(1).map((d) => d.message)).toEqual([null])
    await stompSend(session, '/queue/q.pull', {}, 'late')
    await settle()
    expect(to(1).length).toBe(1)
    book.add(consumerInfo(2, 'q.pull', 10), 's')
    await until(() => to(2).length === 1, 'the push consumer got it')
    expect(to(1).length).toBe(1)
  })

  test('ConsumerBook a pull without a timeout is answered by the next message, and only that one', async () => {
    const { session, book, to } = await setup()
    book.add(consumerInfo(1, 'q.wait', 0), 's')
    book.pull(pullOf(1, 0n))
    await stompSend(session, '/queue/q.wait', {}, 'a')
    await stompSend(session, '/queue/q.wait', {}, 'b')
    await until(() => to(1).length === 1, 'one dispatch')
    await settle()
    expect(to(1).length).toBe(1)
    expect(to(1)[0]!.message).not.toBeNull()
  })

  test('ConsumerBook ConsumerControl makes a pull consumer a push consumer and back', async () => {
    const { session, book, to } = await setup()
    book.add(consumerInfo(1, 'q.ctl', 0), 's')
    for (const b of ['a', 'b', 'c']) await stompSend(session, '/queue/q.ctl', {}, b)
    await settle()
    expect(to(1).length).toBe(0)
    const control = (prefetch: number): W.ConsumerControl => ({
      type: 'ConsumerControl',
      commandId: 0,
      responseRequired: false,
      destination: null,
      close: false,
      consumerId: cid(1),
      prefetch,
      flush: false,
      start: false,
      stop: false,
    })
    book.control(control(2))
    await until(() => to(1).length === 2, 'a window of two')
    book.control(control(0))
    await settle()
    expect(to(1).length).toBe(2)
    book.pull(pullOf(1, 0n))
    await until(() => to(1).length === 3, 'pulled the third')
    expect(() => book.control(control(-1))).toThrow()
  })
})

describe('throwableText', () => {
  test('throwableText is Java Throwable.toString: class, then ": message" when there is one', () => {
    const table: Array<[W.WireThrowable | null, string | undefined]> = [
      [null, undefined],
      [
        { className: 'java.lang.Throwable', message: 'Delivery[1] exceeds redelivery policy' },
        'java.lang.Throwable: Delivery[1] exceeds redelivery policy',
      ],
      [{ className: 'java.lang.RuntimeException', message: null }, 'java.lang.RuntimeException'],
      [{ className: null, message: 'm' }, 'java.lang.Throwable: m'],
    ]
    for (const [t, want] of table) expect(throwableText(t)).toBe(want)
  })
})
