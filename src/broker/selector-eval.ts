/**
 * The selector evaluator: an AST over a message's headers with SQL three-valued logic (a missing header is NULL;
 * comparisons and arithmetic with NULL are NULL), STOMP string-to-number/boolean conversion as ActiveMQ's STOMP
 * connector does, and the JMS header names mapped to STOMP headers (see ./selector.ts for the rules).
 */
import { matchLike } from './selector-like.ts'
import type { Node, SelectorValue } from './selector-parser.ts'

/**
 * Where a selector reads values from: typed identifier values (`value`, ./selector-source.ts over a CoreMessage),
 * else a header lookup of strings (`header`, the STOMP-header semantics below), plus the delivery state
 * JMSRedelivered/JMSXDeliveryCount need.
 */
export interface SelectorSource {
  /** The typed value of an identifier other than JMSRedelivered/JMSXDeliveryCount (null: missing). */
  value?(name: string): SelectorValue
  header(name: string): string | undefined
  redelivered?: boolean
  deliveryCount?: number
}

function toNumber(v: SelectorValue): number | null {
  if (typeof v === 'number') return v
  if (typeof v === 'string') {
    const s = v.trim()
    if (s === '' || !/^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/.test(s)) return null
    return Number(s)
  }
  return null
}

function identifier(name: string, src: SelectorSource): SelectorValue {
  if (src.value && name !== 'JMSRedelivered' && name !== 'JMSXDeliveryCount') return src.value(name)
  const h = (n: string): string | null => src.header(n) ?? null
  const num = (n: string): number | null => toNumber(h(n))
  switch (name) {
    case 'JMSMessageID':
      return h('message-id')
    case 'JMSPriority': {
      const p = num('priority')
      return p === null ? 4 : p
    }
    case 'JMSTimestamp':
      return num('timestamp')
    case 'JMSExpiration': {
      const e = num('expires')
      return e === null ? 0 : e
    }
    case 'JMSCorrelationID':
      return h('correlation-id')
    case 'JMSType':
      return h('type')
    case 'JMSReplyTo':
      return h('reply-to')
    case 'JMSDestination':
      return h('destination')
    case 'JMSDeliveryMode':
      return h('persistent') === 'true' ? 'PERSISTENT' : 'NON_PERSISTENT'
    case 'JMSRedelivered':
      return src.redelivered ?? h('redelivered') === 'true'
    case 'JMSXDeliveryCount':
      return src.deliveryCount ?? 1
    default:
      return h(name)
  }
}

/** Bring two operands to a comparable pair (number/number, string/string, boolean/boolean) or null. */
function coerce(a: SelectorValue, b: SelectorValue): [SelectorValue, SelectorValue] | null {
  if (a === null || b === null) return null
  if (typeof a === typeof b) return [a, b]
  if (typeof a === 'number' || typeof b === 'number') {
    const x = toNumber(a),
      y = toNumber(b)
    return x === null || y === null ? null : [x, y]
  }
  if (typeof a === 'boolean' || typeof b === 'boolean') {
    const bool = (v: SelectorValue): boolean | null =>
      typeof v === 'boolean'
        ? v
        : typeof v === 'string' && /^(true|false)$/i.test(v)
          ? v.toLowerCase() === 'true'
          : null
    const x = bool(a),
      y = bool(b)
    return x === null || y === null ? null : [x, y]
  }
  return null
}

export function evaluate(n: Node, src: SelectorSource): SelectorValue {
  switch (n.k) {
    case 'lit':
      return n.v
    case 'id':
      return identifier(n.name, src)
    case 'and': {
      const a = evaluate(n.a, src)
      if (a === false) return false
      const b = evaluate(n.b, src)
      if (b === false) return false
      return a === true && b === true ? true : null
    }
    case 'or': {
      const a = evaluate(n.a, src)
      if (a === true) return true
      const b = evaluate(n.b, src)
      if (b === true) return true
      return a === false && b === false ? false : null
    }
    case 'not': {
      const a = evaluate(n.a, src)
      return typeof a === 'boolean' ? !a : null
    }
    case 'cmp': {
      const p = coerce(evaluate(n.a, src), evaluate(n.b, src))
      if (!p) return null
      const [a, b] = p
      switch (n.op) {
        case '=':
          return a === b
        case '<>':
          return a !== b
      }
      // Ordering comparisons are defined for numbers and (as an ActiveMQ extension) strings, not booleans.
      if (typeof a === 'boolean') return null
      switch (n.op) {
        case '<':
          return a! < b!
        case '>':
          return a! > b!
        case '<=':
          return a! <= b!
        default:
          return a! >= b!
      }
    }
    case 'arith': {
      const a = toNumber(evaluate(n.a, src)),
        b = toNumber(evaluate(n.b, src))
      if (a === null || b === null) return null
      switch (n.op) {
        case '+':
          return a + b
        case '-':
          return a - b
        case '*':
          return a * b
        case '/':
          if (b === 0) return null
          return Number.isInteger(a) && Number.isInteger(b) ? Math.trunc(a / b) : a / b
        default:
          if (b === 0) return null
          return a % b
      }
    }
    case 'neg': {
      const a = toNumber(evaluate(n.a, src))
      return a === null ? null : -a
    }
    case 'like': {
      const a = evaluate(n.a, src)
      if (typeof a !== 'string') return null
      const m = matchLike(n.pattern, a)
      return n.not ? !m : m
    }
    case 'in': {
      const a = evaluate(n.a, src)
      if (a === null) return null
      const hit = n.list.some((x) => {
        const p = coerce(a, x)
        return p !== null && p[0] === p[1]
      })
      return n.not ? !hit : hit
    }
    case 'between': {
      const a = toNumber(evaluate(n.a, src)),
        lo = toNumber(evaluate(n.lo, src)),
        hi = toNumber(evaluate(n.hi, src))
      if (a === null || lo === null || hi === null) return null
      const r = a >= lo && a <= hi
      return n.not ? !r : r
    }
    case 'isnull': {
      const a = evaluate(n.a, src)
      return n.not ? a !== null : a === null
    }
  }
}
