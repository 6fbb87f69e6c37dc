/**
 * Validation of what callers hand a store: a write() batch and load() arguments. Every malformed op or argument is
 * refused with the one code STORAGE_INVALID_OP before anything of the batch is applied (an adapter validates the
 * whole batch first, then encodes it). The message names the op's index, the field, the value and what was
 * expected. Not checked here: limits that depend on an adapter's encoding (the journal's recordBytesMax).
 */
import { BrokerError, isBrokerError } from '../lib/errors.ts'
import { validateMessage } from '../model/index.ts'
import type { StoreOp } from './types.ts'

const OPS = 'one of add, remove, purge, putSubscription, removeSubscription'

/** Throws STORAGE_INVALID_OP for the first malformed op of `ops`. */
export function validateOps(ops: StoreOp[]): void {
  if (!Array.isArray(ops)) throw new BrokerError('STORAGE_INVALID_OP', `write(): ops ${typeof ops} is not an array`)
  ops.forEach((o, i) => validateOp(o, i))
}

function validateOp(o: StoreOp, i: number): void {
  const bad = (what: string, v: unknown, want: string) =>
    new BrokerError(
      'STORAGE_INVALID_OP',
      `write() ops[${i}] (${o?.op}) ${what}: ${JSON.stringify(v)?.slice(0, 100)} is not ${want}`,
      { details: { index: i } },
    )
  const str = (what: string, v: unknown, nonEmpty = true) => {
    if (typeof v !== 'string' || (nonEmpty && v === ''))
      throw bad(what, v, nonEmpty ? 'a non-empty string' : 'a string')
  }
  switch (o?.op) {
    case 'add': {
      str('destination', o.destination)
      const m = o.message
      if (!m || typeof m !== 'object') throw bad('message', m, 'an object')
      if (!m.destination || typeof m.destination !== 'object' || typeof m.destination.name !== 'string')
        throw bad('message.destination', m.destination, 'a Destination')
      if (!(m.properties instanceof Map)) throw bad('message.properties', typeof m.properties, 'a Map')
      if (!m.origin || typeof m.origin !== 'object') throw bad('message.origin', m.origin, 'an Origin')
      try {
        // The model's own checks (ids, ranges, property types, body kind); the codec encodes only valid messages.
        validateMessage(m, `write() ops[${i}] (add) message`)
      } catch (e) {
        if (!isBrokerError(e, 'BROKER_HEADER_INVALID')) throw e
        throw new BrokerError('STORAGE_INVALID_OP', e.message, { cause: e, details: { index: i } })
      }
      return
    }
    case 'remove':
      str('destination', o.destination)
      if (!Number.isSafeInteger(o.seq) || o.seq < 1) throw bad('seq', o.seq, 'a positive integer')
      return
    case 'purge':
      str('destination', o.destination)
      return
    case 'putSubscription': {
      const s = o.subscription
      if (!s || typeof s !== 'object') throw bad('subscription', s, 'an object')
      str('subscription.clientId', s.clientId)
      str('subscription.subscriptionName', s.subscriptionName)
      str('subscription.destination', s.destination)
      str('subscription.storeKey', s.storeKey)
      return
    }
    case 'removeSubscription':
      str('clientId', o.clientId)
      str('subscriptionName', o.subscriptionName)
      return
    default:
      throw bad('op', (o as { op?: unknown })?.op, OPS)
  }
}

/** Throws STORAGE_INVALID_OP for a malformed load(destination, afterSeq, limit). */
export function validateLoad(destination: string, afterSeq: number, limit: number): void {
  if (typeof destination !== 'string')
    throw new BrokerError('STORAGE_INVALID_OP', `load(): destination ${JSON.stringify(destination)} is not a string`)
  if (typeof afterSeq !== 'number' || Number.isNaN(afterSeq))
    throw new BrokerError(
      'STORAGE_INVALID_OP',
      `load(${destination}): afterSeq ${JSON.stringify(afterSeq)} is not a number`,
    )
  if (!Number.isInteger(limit) || limit < 1)
    throw new BrokerError(
      'STORAGE_INVALID_OP',
      `load(${destination}): limit ${JSON.stringify(limit)} is not a positive integer`,
    )
}

/** Throws STORAGE_INVALID_OP when isDuplicate() is given something that is not a dedupe key. */
export function validateDedupeKey(key: string): void {
  if (typeof key !== 'string')
    throw new BrokerError('STORAGE_INVALID_OP', `isDuplicate(): key ${JSON.stringify(key)} is not a string`)
}
