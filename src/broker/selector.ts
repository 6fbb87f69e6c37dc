/**
 * JMS / SQL-92 message selectors: a tokenizer, a recursive-descent parser to a small AST, and an evaluator over
 * a message's STOMP headers. Owns the grammar and the three-valued logic; does not own which headers a message
 * has (the caller passes a `SelectorSource`).
 *
 * Grammar (JMS 1.1 §3.8.1, as ActiveMQ's SelectorParser accepts it; keywords case-insensitive):
 *   or      := and (OR and)*
 *   and     := not (AND not)*
 *   not     := NOT not | cmp
 *   cmp     := sum ( (= | <> | != | == | < | > | <= | >=) sum
 *                  | [NOT] LIKE 'pattern' [ESCAPE 'c']
 *                  | [NOT] IN ( literal , ... )
 *                  | [NOT] BETWEEN sum AND sum
 *                  | IS [NOT] NULL )?
 *   sum     := product ((+ | -) product)*
 *   product := unary ((* | / | %) unary)*
 *   unary   := (+ | -) unary | primary
 *   primary := 'string' | number | TRUE | FALSE | NULL | identifier | ( or )
 *
 * Semantics:
 * - SQL three-valued logic: a missing header is NULL, and any comparison or arithmetic with NULL is NULL (unknown);
 *   AND/OR/NOT follow the SQL truth tables; a message matches only when the whole expression is TRUE.
 * - STOMP headers are strings. Like ActiveMQ's STOMP connector (which prefixes selectors with
 *   `convert_string_expressions:`), a string compared with (or used in arithmetic with) a number is converted to a
 *   number when it parses as one, and a string compared with a boolean is converted when it is 'true'/'false'.
 *   A string that does not convert makes the comparison NULL.
 * - JMS header names map to STOMP headers as ActiveMQ maps them: JMSMessageID→message-id, JMSPriority→priority
 *   (number), JMSTimestamp→timestamp (number), JMSExpiration→expires (number), JMSCorrelationID→correlation-id,
 *   JMSType→type, JMSReplyTo→reply-to, JMSDestination→destination, JMSDeliveryMode→'PERSISTENT'|'NON_PERSISTENT',
 *   JMSRedelivered→boolean, JMSXDeliveryCount→number. Every other identifier is a user property (header) name.
 * - Integer division truncates when both operands are integral numbers (Java int/long division); division by
 *   zero gives NULL rather than an error. XPATH/XQUERY selectors are not supported.
 */
import { BrokerError } from '../lib/errors.ts'

export type SelectorValue = string | number | boolean | null

/** Where a selector reads values from: a header lookup plus the delivery state JMSRedelivered/JMSXDeliveryCount need. */
export interface SelectorSource {
  header(name: string): string | undefined
  redelivered?: boolean
  deliveryCount?: number
}

type Node =
  | { k: 'lit'; v: SelectorValue }
  | { k: 'id'; name: string }
  | { k: 'and' | 'or'; a: Node; b: Node }
  | { k: 'not'; a: Node }
  | { k: 'cmp'; op: string; a: Node; b: Node }
  | { k: 'arith'; op: string; a: Node; b: Node }
  | { k: 'neg'; a: Node }
  | { k: 'like'; a: Node; re: RegExp; not: boolean }
  | { k: 'in'; a: Node; list: SelectorValue[]; not: boolean }
  | { k: 'between'; a: Node; lo: Node; hi: Node; not: boolean }
  | { k: 'isnull'; a: Node; not: boolean }

type Tok =
  | { t: 'str'; v: string; pos: number }
  | { t: 'num'; v: number; pos: number }
  | { t: 'id'; v: string; pos: number }
  | { t: 'kw'; v: string; pos: number }
  | { t: 'op'; v: string; pos: number }
  | { t: 'eof'; pos: number }

const KEYWORDS = new Set(['AND', 'OR', 'NOT', 'LIKE', 'ESCAPE', 'IN', 'BETWEEN', 'IS', 'NULL', 'TRUE', 'FALSE'])
/** Selectors longer than this are refused: a named limit on parser work per SUBSCRIBE. */
export const SELECTOR_LENGTH_MAX = 16_384
/** Nesting limit (parentheses / NOT chains) so a hostile selector cannot blow the stack. */
export const SELECTOR_DEPTH_MAX = 100

function fail(selector: string, pos: number, what: string): never {
  throw new BrokerError('BROKER_SELECTOR_INVALID', `selector ${JSON.stringify(selector)}: ${what} at position ${pos + 1}`, {
    details: { selector, position: pos + 1 },
  })
}

function tokenize(src: string): Tok[] {
  const out: Tok[] = []
  let i = 0
  const n = src.length
  while (i < n) {
    const c = src[i]!
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f') { i++; continue }
    const start = i
    if (c === "'") {
      let v = ''
      i++
      for (;;) {
        if (i >= n) fail(src, start, 'unterminated string literal')
        const d = src[i]!
        if (d === "'") {
          if (src[i + 1] === "'") { v += "'"; i += 2; continue }
          i++
          break
        }
        v += d
        i++
      }
      out.push({ t: 'str', v, pos: start })
      continue
    }
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(src[i + 1] ?? ''))) {
      const hex = /^0[xX][0-9a-fA-F]+[lL]?/.exec(src.slice(i))
      if (hex) {
        const text = hex[0].replace(/[lL]$/, '')
        out.push({ t: 'num', v: parseInt(text.slice(2), 16), pos: start })
        i += hex[0].length
      } else {
        const m = /^(?:[0-9]+\.[0-9]*(?:[eE][+-]?[0-9]+)?[fFdD]?|\.[0-9]+(?:[eE][+-]?[0-9]+)?[fFdD]?|[0-9]+[eE][+-]?[0-9]+[fFdD]?|[0-9]+[fFdD]|[0-9]+[lL]?)/.exec(src.slice(i))!
        let text = m[0]
        i += text.length
        let v: number
        if (/^[0-9]+[lL]?$/.test(text)) {
          text = text.replace(/[lL]$/, '')
          // A leading 0 makes an octal literal (Java/ActiveMQ OCTAL_LITERAL).
          v = text.length > 1 && text[0] === '0' ? (/^[0-7]+$/.test(text) ? parseInt(text, 8) : fail(src, start, `bad octal literal ${text}`)) : Number(text)
        } else {
          v = Number(text.replace(/[fFdD]$/, ''))
        }
        out.push({ t: 'num', v, pos: start })
      }
      if (i < n && /[A-Za-z_$]/.test(src[i]!)) fail(src, i, `unexpected character ${JSON.stringify(src[i])} after number`)
      continue
    }
    if (/[A-Za-z_$]/.test(c)) {
      while (i < n && /[A-Za-z0-9_$.]/.test(src[i]!)) i++
      const word = src.slice(start, i)
      const up = word.toUpperCase()
      out.push(KEYWORDS.has(up) ? { t: 'kw', v: up, pos: start } : { t: 'id', v: word, pos: start })
      continue
    }
    const two = src.slice(i, i + 2)
    if (two === '<>' || two === '<=' || two === '>=' || two === '!=' || two === '==') {
      out.push({ t: 'op', v: two, pos: start })
      i += 2
      continue
    }
    if ('=<>+-*/%(),'.includes(c)) {
      out.push({ t: 'op', v: c, pos: start })
      i++
      continue
    }
    fail(src, start, `unexpected character ${JSON.stringify(c)}`)
  }
  out.push({ t: 'eof', pos: n })
  return out
}

function likeToRegExp(src: string, pattern: string, escape: string | null, pos: number): RegExp {
  let re = '^'
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!
    if (escape !== null && c === escape) {
      const nx = pattern[i + 1]
      if (nx === undefined) fail(src, pos, `LIKE pattern ${JSON.stringify(pattern)} ends with its escape character`)
      re += nx.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
      i++
    } else if (c === '%') re += '.*'
    else if (c === '_') re += '.'
    else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
  }
  return new RegExp(re + '$', 's')
}

class Parser {
  private i = 0
  private depth = 0
  constructor(private readonly src: string, private readonly toks: Tok[]) {}

  private peek(): Tok { return this.toks[this.i]! }
  private next(): Tok { return this.toks[this.i++]! }
  private isKw(v: string): boolean { const t = this.peek(); return t.t === 'kw' && t.v === v }
  private isOp(v: string): boolean { const t = this.peek(); return t.t === 'op' && t.v === v }
  private describe(t: Tok): string { return t.t === 'eof' ? 'end of selector' : t.t === 'str' ? `string '${t.v}'` : `${JSON.stringify(String(t.v))}` }
  private expectOp(v: string): void {
    const t = this.next()
    if (t.t !== 'op' || t.v !== v) fail(this.src, t.pos, `expected ${JSON.stringify(v)} but found ${this.describe(t)}`)
  }
  private expectKw(v: string): void {
    const t = this.next()
    if (t.t !== 'kw' || t.v !== v) fail(this.src, t.pos, `expected ${v} but found ${this.describe(t)}`)
  }
  private enter(pos: number): void {
    if (++this.depth > SELECTOR_DEPTH_MAX) fail(this.src, pos, `nesting deeper than ${SELECTOR_DEPTH_MAX}`)
  }

  parse(): Node {
    const t = this.peek()
    if (t.t === 'eof') fail(this.src, t.pos, 'empty selector')
    const n = this.or()
    const e = this.peek()
    if (e.t !== 'eof') fail(this.src, e.pos, `unexpected ${this.describe(e)}`)
    return n
  }

  private or(): Node {
    let a = this.and()
    while (this.isKw('OR')) { this.next(); a = { k: 'or', a, b: this.and() } }
    return a
  }
  private and(): Node {
    let a = this.not()
    while (this.isKw('AND')) { this.next(); a = { k: 'and', a, b: this.not() } }
    return a
  }
  private not(): Node {
    if (this.isKw('NOT')) {
      const t = this.next()
      this.enter(t.pos)
      const a = this.not()
      this.depth--
      return { k: 'not', a }
    }
    return this.cmp()
  }
  private cmp(): Node {
    const a = this.sum()
    const t = this.peek()
    if (t.t === 'op' && ['=', '<>', '!=', '==', '<', '>', '<=', '>='].includes(t.v)) {
      this.next()
      const op = t.v === '!=' ? '<>' : t.v === '==' ? '=' : t.v
      return { k: 'cmp', op, a, b: this.sum() }
    }
    let not = false
    if (this.isKw('NOT')) {
      const after = this.toks[this.i + 1]!
      if (after.t === 'kw' && (after.v === 'LIKE' || after.v === 'IN' || after.v === 'BETWEEN')) { this.next(); not = true }
    }
    if (this.isKw('LIKE')) {
      this.next()
      const p = this.next()
      if (p.t !== 'str') fail(this.src, p.pos, `LIKE expects a string pattern but found ${this.describe(p)}`)
      let esc: string | null = null
      if (this.isKw('ESCAPE')) {
        this.next()
        const e = this.next()
        if (e.t !== 'str' || e.v.length !== 1) fail(this.src, e.pos, `ESCAPE expects a one-character string but found ${this.describe(e)}`)
        esc = e.v
      }
      return { k: 'like', a, re: likeToRegExp(this.src, p.v, esc, p.pos), not }
    }
    if (this.isKw('IN')) {
      this.next()
      this.expectOp('(')
      const list: SelectorValue[] = []
      for (;;) {
        const v = this.next()
        if (v.t === 'str' || v.t === 'num') list.push(v.v)
        else fail(this.src, v.pos, `IN list expects a literal but found ${this.describe(v)}`)
        if (this.isOp(',')) { this.next(); continue }
        this.expectOp(')')
        break
      }
      return { k: 'in', a, list, not }
    }
    if (this.isKw('BETWEEN')) {
      this.next()
      const lo = this.sum()
      this.expectKw('AND')
      const hi = this.sum()
      return { k: 'between', a, lo, hi, not }
    }
    if (not) fail(this.src, this.peek().pos, 'expected LIKE, IN or BETWEEN after NOT')
    if (this.isKw('IS')) {
      this.next()
      let isNot = false
      if (this.isKw('NOT')) { this.next(); isNot = true }
      this.expectKw('NULL')
      return { k: 'isnull', a, not: isNot }
    }
    return a
  }
  private sum(): Node {
    let a = this.product()
    while (this.isOp('+') || this.isOp('-')) { const op = (this.next() as { v: string }).v; a = { k: 'arith', op, a, b: this.product() } }
    return a
  }
  private product(): Node {
    let a = this.unary()
    while (this.isOp('*') || this.isOp('/') || this.isOp('%')) { const op = (this.next() as { v: string }).v; a = { k: 'arith', op, a, b: this.unary() } }
    return a
  }
  private unary(): Node {
    if (this.isOp('-') || this.isOp('+')) {
      const t = this.next() as { v: string; pos: number }
      this.enter(t.pos)
      const a = this.unary()
      this.depth--
      return t.v === '-' ? { k: 'neg', a } : a
    }
    return this.primary()
  }
  private primary(): Node {
    const t = this.next()
    switch (t.t) {
      case 'str': return { k: 'lit', v: t.v }
      case 'num': return { k: 'lit', v: t.v }
      case 'id': return { k: 'id', name: t.v }
      case 'kw':
        if (t.v === 'TRUE') return { k: 'lit', v: true }
        if (t.v === 'FALSE') return { k: 'lit', v: false }
        if (t.v === 'NULL') return { k: 'lit', v: null }
        return fail(this.src, t.pos, `unexpected keyword ${t.v}`)
      case 'op':
        if (t.v === '(') {
          this.enter(t.pos)
          const n = this.or()
          this.depth--
          this.expectOp(')')
          return n
        }
        return fail(this.src, t.pos, `unexpected ${JSON.stringify(t.v)}`)
      case 'eof':
        return fail(this.src, t.pos, 'unexpected end of selector')
    }
  }
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
  const h = (n: string): string | null => src.header(n) ?? null
  const num = (n: string): number | null => toNumber(h(n))
  switch (name) {
    case 'JMSMessageID': return h('message-id')
    case 'JMSPriority': { const p = num('priority'); return p === null ? 4 : p }
    case 'JMSTimestamp': return num('timestamp')
    case 'JMSExpiration': { const e = num('expires'); return e === null ? 0 : e }
    case 'JMSCorrelationID': return h('correlation-id')
    case 'JMSType': return h('type')
    case 'JMSReplyTo': return h('reply-to')
    case 'JMSDestination': return h('destination')
    case 'JMSDeliveryMode': return h('persistent') === 'true' ? 'PERSISTENT' : 'NON_PERSISTENT'
    case 'JMSRedelivered': return src.redelivered ?? h('redelivered') === 'true'
    case 'JMSXDeliveryCount': return src.deliveryCount ?? 1
    default: return h(name)
  }
}

/** Bring two operands to a comparable pair (number/number, string/string, boolean/boolean) or null. */
function coerce(a: SelectorValue, b: SelectorValue): [SelectorValue, SelectorValue] | null {
  if (a === null || b === null) return null
  if (typeof a === typeof b) return [a, b]
  if (typeof a === 'number' || typeof b === 'number') {
    const x = toNumber(a), y = toNumber(b)
    return x === null || y === null ? null : [x, y]
  }
  if (typeof a === 'boolean' || typeof b === 'boolean') {
    const bool = (v: SelectorValue): boolean | null => (typeof v === 'boolean' ? v : typeof v === 'string' && /^(true|false)$/i.test(v) ? v.toLowerCase() === 'true' : null)
    const x = bool(a), y = bool(b)
    return x === null || y === null ? null : [x, y]
  }
  return null
}

function evaluate(n: Node, src: SelectorSource): SelectorValue {
  switch (n.k) {
    case 'lit': return n.v
    case 'id': return identifier(n.name, src)
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
        case '=': return a === b
        case '<>': return a !== b
      }
      // Ordering comparisons are defined for numbers and (as an ActiveMQ extension) strings, not booleans.
      if (typeof a === 'boolean') return null
      switch (n.op) {
        case '<': return a! < b!
        case '>': return a! > b!
        case '<=': return a! <= b!
        default: return a! >= b!
      }
    }
    case 'arith': {
      const a = toNumber(evaluate(n.a, src)), b = toNumber(evaluate(n.b, src))
      if (a === null || b === null) return null
      switch (n.op) {
        case '+': return a + b
        case '-': return a - b
        case '*': return a * b
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
      const m = n.re.test(a)
      return n.not ? !m : m
    }
    case 'in': {
      const a = evaluate(n.a, src)
      if (a === null) return null
      const hit = n.list.some((x) => { const p = coerce(a, x); return p !== null && p[0] === p[1] })
      return n.not ? !hit : hit
    }
    case 'between': {
      const a = toNumber(evaluate(n.a, src)), lo = toNumber(evaluate(n.lo, src)), hi = toNumber(evaluate(n.hi, src))
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

/** A parsed selector. `matches` is true only when the expression evaluates to TRUE (not FALSE, not NULL). */
export class Selector {
  private constructor(readonly text: string, private readonly root: Node) {}

  /** Parse; throws BrokerError BROKER_SELECTOR_INVALID naming the 1-based position of the problem. */
  static parse(text: string): Selector {
    if (text.length > SELECTOR_LENGTH_MAX) {
      throw new BrokerError('BROKER_SELECTOR_INVALID', `selector of ${text.length} characters is longer than the ${SELECTOR_LENGTH_MAX} allowed`, { details: { position: SELECTOR_LENGTH_MAX + 1 } })
    }
    return new Selector(text, new Parser(text, tokenize(text)).parse())
  }

  /** The raw value (TRUE, FALSE, NULL, or a non-boolean for a selector like `a + 1`). */
  evaluate(src: SelectorSource): SelectorValue {
    return evaluate(this.root, src)
  }

  matches(src: SelectorSource): boolean {
    return evaluate(this.root, src) === true
  }
}

/** Convenience: a SelectorSource over a plain header record. */
export function headerSource(headers: Record<string, string>, redelivered = false, deliveryCount = 1): SelectorSource {
  return { header: (n) => (Object.prototype.hasOwnProperty.call(headers, n) ? headers[n] : undefined), redelivered, deliveryCount }
}
