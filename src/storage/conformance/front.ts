/**
 * Conformance: the validating front (AbstractAdapter) as every adapter shows it. Each kind of malformed op is
 * refused with STORAGE_INVALID_OP and nothing of its batch is applied (also across reopen), malformed load()
 * arguments likewise, and every method called before open() or after close() fails with STORAGE_CLOSED.
 */
import { test, expect } from 'bun:test'
import type { PersistenceAdapter, StoreOp } from '../types.ts'
import { add, expectCode, loadAll, msg, type SuiteContext } from './harness.ts'

const sub = {
  clientId: 'c',
  subscriptionName: 's',
  destination: '/topic/T',
  selector: null,
  noLocal: false,
  storeKey: 'durable://c:s',
  createdAt: 1,
}

/** One malformed op of each kind the front checks, by what is wrong with it. */
const BAD_OPS: [string, unknown][] = [
  ['a null op', null],
  ['an unknown op', { op: 'frobnicate', destination: 'Q' }],
  ['add without a destination', { op: 'add', message: msg('b1', 'x') }],
  ['add with an empty destination', { op: 'add', destination: '', message: msg('b2', 'x') }],
  ['add without a message', { op: 'add', destination: 'Q' }],
  ['add with a non-string messageId', { op: 'add', destination: 'Q', message: { ...msg('b3', 'x'), messageId: 7 } }],
  ['add with a string body', { op: 'add', destination: 'Q', message: { ...msg('b4', 'x'), body: 'x' } }],
  ['add without properties', { op: 'add', destination: 'Q', message: { ...msg('b5', 'x'), properties: null } }],
  [
    'add with a mistyped property',
    {
      op: 'add',
      destination: 'Q',
      message: { ...msg('b6', 'x'), properties: new Map([['a', { type: 'int', value: 1.5 }]]) },
    },
  ],
  [
    'add without a message destination',
    { op: 'add', destination: 'Q', message: { ...msg('b7', 'x'), destination: null } },
  ],
  ['add with priority 10', { op: 'add', destination: 'Q', message: { ...msg('b8', 'x'), priority: 10 } }],
  [
    'add with bytes and bodyKind none',
    { op: 'add', destination: 'Q', message: { ...msg('b9', 'x'), bodyKind: 'none' } },
  ],
  [
    'add with an empty producer id',
    { op: 'add', destination: 'Q', message: { ...msg('b10', 'x'), producer: { id: '', seq: null } } },
  ],
  ['remove without a destination', { op: 'remove', seq: 1 }],
  ['remove with a fractional seq', { op: 'remove', destination: 'Q', seq: 1.5 }],
  ['remove with seq 0', { op: 'remove', destination: 'Q', seq: 0 }],
  ['remove with a NaN seq', { op: 'remove', destination: 'Q', seq: Number.NaN }],
  ['purge with an empty destination', { op: 'purge', destination: '' }],
  ['putSubscription without a record', { op: 'putSubscription', subscription: null }],
  ['putSubscription without a clientId', { op: 'putSubscription', subscription: { ...sub, clientId: undefined } }],
  ['putSubscription without a storeKey', { op: 'putSubscription', subscription: { ...sub, storeKey: '' } }],
  ['removeSubscription without a subscriptionName', { op: 'removeSubscription', clientId: 'c' }],
]

/** Every PersistenceAdapter method that needs an open store, called once. */
function everyCall(a: PersistenceAdapter): [string, () => unknown][] {
  return [
    ['write', () => a.write([add('Q', msg('late', 'x'))])],
    ['load', () => a.load('Q', 0, 10)],
    ['isDuplicate', () => a.isDuplicate('m1')],
    ['stats', () => a.stats()],
    ['checkpoint', () => a.checkpoint()],
  ]
}

export function describeFront({ name, h, tmp, openAt }: SuiteContext): void {
  test(`${name} refuses each kind of malformed op with STORAGE_INVALID_OP and applies nothing of its batch`, async () => {
    const dir = tmp()
    let { a } = await openAt(dir)
    await a.write([add('Q', msg('keep', 'x'))])
    for (const [what, bad] of BAD_OPS) {
      const batch = [
        add('Q', msg(`good-before-${what}`, 'y')),
        bad as StoreOp,
        add('P', msg(`good-after-${what}`, 'z')),
      ]
      try {
        await expectCode(a.write(batch), 'STORAGE_INVALID_OP')
      } catch (e) {
        throw new Error(`${what}: ${(e as Error).message}`)
      }
    }
    await expectCode(a.write('not an array' as unknown as StoreOp[]), 'STORAGE_INVALID_OP')
    // The store is still usable, and none of the refused batches left a trace, also after reopen.
    await a.write([add('Q', msg('after', 'x'))])
    const check = async () => {
      expect((await loadAll(a, 'Q')).map((m) => m.message.messageId)).toEqual(['keep', 'after'])
      expect(await loadAll(a, 'P')).toEqual([])
      expect(a.isDuplicate('good-before-an unknown op')).toBe(false)
    }
    await check()
    await a.close()
    ;({ a } = await openAt(dir))
    await check()
    await a.close()
  })

  test(`${name} refuses malformed load() arguments with STORAGE_INVALID_OP`, async () => {
    const { a } = await openAt(tmp())
    await expectCode(a.load('Q', 0, 0), 'STORAGE_INVALID_OP')
    await expectCode(a.load('Q', 0, 1.5), 'STORAGE_INVALID_OP')
    await expectCode(a.load('Q', Number.NaN, 10), 'STORAGE_INVALID_OP')
    await expectCode(a.load(7 as unknown as string, 0, 10), 'STORAGE_INVALID_OP')
    await a.close()
  })

  test(`${name} fails every method before open() and after close() with STORAGE_CLOSED`, async () => {
    const dir = tmp()
    const fresh = h.open(dir)
    for (const [what, call] of everyCall(fresh)) {
      try {
        await expectCode(call, 'STORAGE_CLOSED')
      } catch (e) {
        throw new Error(`${what}() before open: ${(e as Error).message}`)
      }
    }
    const { a } = await openAt(dir)
    await a.write([add('Q', msg('m1', 'x'))])
    await Promise.all([a.close(), a.close()]) // concurrent closes share one
    await a.close() // and it stays idempotent
    for (const [what, call] of everyCall(a)) {
      try {
        await expectCode(call, 'STORAGE_CLOSED')
      } catch (e) {
        throw new Error(`${what}() after close: ${(e as Error).message}`)
      }
    }
  })
}
