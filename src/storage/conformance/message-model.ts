/**
 * Conformance group: the store keeps the CoreMessage whole (issue #13 §2): typed properties of every JMS type and
 * every body kind come back equal after write, close, reopen and load, with every header field; dedupe keys on the
 * model's dedupeKey (producer id + seq); and a stored message whose bytes are intact but whose message record does
 * not decode is reported as corrupt (the codec's field and offset in the reason), not served, and the rest still is.
 */
import { expect, test } from 'bun:test'
import { BODY_KINDS, type BodyKind, type CoreMessage, createMessage, prop } from '../../model/index.ts'
import { add, loadAll, type SuiteContext } from './harness.ts'

const enc = new TextEncoder()

/** One message per body kind, each with a property of every type and every optional field set. */
function modelMessage(i: number, kind: BodyKind): CoreMessage {
  return createMessage({
    messageId: `ID:model-${i}`,
    destination: { kind: 'queue', name: 'MODEL' },
    replyTo: { kind: 'temp-topic', name: 'ID:reply.1' },
    correlationId: `corr-${i}`,
    type: 'jms-type',
    timestamp: 1_700_000_000_123 + i,
    expiration: 1_900_000_000_000,
    priority: i % 10,
    persistent: true,
    redeliveryCount: i,
    groupId: 'group-é',
    groupSeq: -7,
    properties: new Map([
      ['s', prop.string('ünïcødé ☃')],
      ['empty', prop.string('')],
      ['t', prop.boolean(true)],
      ['f', prop.boolean(false)],
      ['b', prop.byte(-128)],
      ['sh', prop.short(32767)],
      ['i', prop.int(-(2 ** 31))],
      ['l', prop.long(-(2n ** 63n))],
      ['lmax', prop.long(2n ** 63n - 1n)],
      ['fl', prop.float(1.5)],
      ['d', prop.double(-0.1)],
      ['dnan', prop.double(Number.NaN)],
      ['by', prop.bytes(Uint8Array.from([0, 255, 1]))],
      ['byEmpty', prop.bytes(new Uint8Array(0))],
    ]),
    bodyKind: kind,
    body: kind === 'none' ? new Uint8Array(0) : enc.encode(`${kind} body ${i}\u0000\u00ff`),
    producer: { id: `ID:producer-${i}`, seq: i },
    origin: i % 2 === 0 ? { protocol: 'mqtt', mqtt: { qos: 2, retain: true } } : { protocol: 'openwire' },
    userId: 'alice',
  })
}

export function describeMessageModel({ name, caps, tmp, openAt, skipReason }: SuiteContext): void {
  test(`${name} keeps typed properties of every type and every body kind across reopen`, async () => {
    const dir = tmp()
    let { a } = await openAt(dir)
    const sent = BODY_KINDS.map((k, i) => modelMessage(i, k))
    const { seqs } = await a.write(sent.map((m) => add('queue://MODEL', m)))
    expect((await loadAll(a, 'queue://MODEL')).map((m) => m.message)).toEqual(sent)
    await a.close()
    ;({ a } = await openAt(dir))
    const got = await loadAll(a, 'queue://MODEL')
    expect(got.map((m) => m.seq)).toEqual(seqs)
    expect(got.map((m) => m.message)).toEqual(sent)
    await a.close()
  })

  test(`${name} dedupes on producer id + seq (the model's dedupeKey), not on message ids, across reopen`, async () => {
    const dir = tmp()
    let { a } = await openAt(dir)
    const base = { destination: { kind: 'queue' as const, name: 'D' }, timestamp: 1 }
    await a.write([
      add('queue://D', createMessage({ ...base, messageId: 'ID:m-1', producer: { id: 'ID:p', seq: 5 } })),
      add('queue://D', createMessage({ ...base, messageId: 'ID:m-2', producer: { id: 'client-id-7', seq: null } })),
      add('queue://D', createMessage({ ...base, messageId: 'ID:m-3', producer: null })),
    ])
    for (let round = 0; round < 2; round++) {
      expect(a.isDuplicate('ID:p:5')).toBe(true)
      expect(a.isDuplicate('ID:p:6')).toBe(false)
      expect(a.isDuplicate('ID:p')).toBe(false)
      expect(a.isDuplicate('client-id-7')).toBe(true)
      // Message ids are not dedupe keys, and a message without a producer identity is never recorded.
      expect(a.isDuplicate('ID:m-1')).toBe(false)
      expect(a.isDuplicate('ID:m-3')).toBe(false)
      await a.close()
      ;({ a } = await openAt(dir))
    }
    await a.close()
  })

  const plant = caps.corruptMessage
  const skip = skipReason(plant, false)
  ;(skip ? test.skip : test)(
    `${name} reports a message whose record does not decode as corrupt and serves the others${skip ? ` (skipped: ${skip})` : ''}`,
    async () => {
      const dir = tmp()
      let { a } = await openAt(dir)
      await a.write([add('queue://OK', modelMessage(1, 'text'))])
      await a.close()
      if (typeof plant === 'object') await plant.plant(dir, 'queue://BAD')
      ;({ a } = await openAt(dir))
      expect(await loadAll(a, 'queue://BAD')).toEqual([])
      const integrity = a.stats().integrity!
      expect(integrity.corruptCount).toBeGreaterThanOrEqual(1)
      expect(integrity.corrupt.some((c) => /message record: version at offset 0/.test(c.reason))).toBe(true)
      expect((await loadAll(a, 'queue://OK')).map((m) => m.message)).toEqual([modelMessage(1, 'text')])
      await a.close()
    },
  )
}
