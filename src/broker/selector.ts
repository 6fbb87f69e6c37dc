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
 * - LIKE (ActiveMQ LikeExpression): `%` any run of characters, `_` exactly one character (a Unicode code point, as
 *   Java's regex `.` is), ESCAPE makes the next character literal; case-sensitive; the whole value must match.
 *
 * Bounded work (issue #19): LIKE is matched by one iterative wildcard matcher (`matchLike`), never a backtracking
 * regex, so a match costs at most (value length + 1) × (pattern length + 1) steps whatever the wildcards. Parsing
 * refuses, with BROKER_SELECTOR_TOO_COMPLEX, selectors over SELECTOR_LENGTH_MAX characters, SELECTOR_NODES_MAX
 * nodes, SELECTOR_DEPTH_MAX nesting or SELECTOR_LIKE_CHARS_MAX LIKE pattern characters in total: with STOMP
 * header values of at most 10 KiB, one evaluation is then bounded by about 10 M matcher steps.
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
  | { k: 'like'; a: Node; pattern: LikePattern; not: boolean }
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
/** Nesting limit (parentheses / NOT / sign chains) so a hostile selector cannot blow the stack. */
export const SELECTOR_DEPTH_MAX = 100
/** Most AST nodes (IN list items included): bounds the work of one evaluation apart from LIKE. */
export const SELECTOR_NODES_MAX = 4_096
/**
 * Most LIKE pattern characters in one selector, all LIKEs together: a match costs value × pattern steps, so this
 * (with the 10 KiB header line limit) bounds LIKE work per message to about 10 M steps.
 */
export const SELECTOR_LIKE_CHARS_MAX = 1_024

function tooComplex(selector: string, pos: number, what: string, limit: string, value: number): never {
  throw new BrokerError(
    'BROKER_SELECTOR_TOO_COMPLEX',
    `selector ${JSON.stringify(selector.length > 64 ? selector.slice(0, 64) + '…' : selector)}: ${what} at position ${pos + 1}, expected at most ${value} (${limit})`,
    {
      details: { position: pos + 1, limit },
    },
  )
}

function fail(selector: string, pos: number, what: string): never {
  throw new BrokerError(
    'BROKER_SELECTOR_INVALID',
    `selector ${JSON.stringify(selector)}: ${what} at position ${pos + 1}`,
    {
      details: { selector, position: pos + 1 },
    },
  )
}

function tokenize(src: string): Tok[] {
  const out: Tok[] = []
  let i = 0
  const n = src.length
  while (i < n) {
    const c = src[i]!
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f') {
      i++
      continue
    }
    const start = i
    if (c === "'") {
      let v = ''
      i++
      for (;;) {
        if (i >= n) fail(src, start, 'unterminated string literal')
        const d = src[i]!
        if (d === "'") {
          if (src[i + 1] === "'") {
            v += "'"
            i += 2
            continue
          }
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
        const m =
          /^(?:[0-9]+\.[0-9]*(?:[eE][+-]?[0-9]+)?[fFdD]?|\.[0-9]+(?:[eE][+-]?[0-9]+)?[fFdD]?|[0-9]+[eE][+-]?[0-9]+[fFdD]?|[0-9]+[fFdD]|[0-9]+[lL]?)/.exec(
            src.slice(i),
          )!
        let text = m[0]
        i += text.length
        let v: number
        if (/^[0-9]+[lL]?$/.test(text)) {
          text = text.replace(/[lL]$/, '')
          // A leading 0 makes an octal literal (Java/ActiveMQ OCTAL_LITERAL).
          v =
            text.length > 1 && text[0] === '0'
              ? /^[0-7]+$/.test(text)
                ? parseInt(text, 8)
                : fail(src, start, `bad octal literal ${text}`)
              : Number(text)
        } else {
          v = Number(text.replace(/[fFdD]$/, ''))
        }
        out.push({ t: 'num', v, pos: start })
      }
      if (i < n && /[A-Za-z_$]/.test(src[i]!))
        fail(src, i, `unexpected character ${JSON.stringify(src[i])} after number`)
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

/** Pattern element: a code point to match literally, or one of the two wildcards. */
const LIKE_ONE = -1 // `_`
const LIKE_ANY = -2 // `%`

/** A compiled LIKE pattern: code points and wildcards (runs of `%` collapsed into one). */
export interface LikePattern {
  readonly source: string
  readonly codes: Int32Array
}

/** Steps taken by matchLike since the process started (tests read the difference; it never resets). */
export const likeStats = { steps: 0 }

/** The value as code points (one typed-array pass: the match loop then reads plain ints). */
function codePoints(s: string): Int32Array {
  const out = new Int32Array(s.length)
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) {
        out[n++] = (c - 0xd800) * 0x400 + (d - 0xdc00) + 0x10000
        i++
        continue
      }
    }
    out[n++] = c
  }
  return n === s.length ? out : out.subarray(0, n)
}

/** Compile a LIKE pattern with an optional one-character ESCAPE; throws BROKER_SELECTOR_INVALID. */
export function compileLike(pattern: string, escape: string | null = null, selector = pattern, pos = 0): LikePattern {
  const out: number[] = []
  const cps = Array.from(pattern)
  for (let i = 0; i < cps.length; i++) {
    const c = cps[i]!
    if (escape !== null && c === escape) {
      const nx = cps[i + 1]
      if (nx === undefined)
        fail(selector, pos, `LIKE pattern ${JSON.stringify(pattern)} ends with its escape character`)
      out.push(nx.codePointAt(0)!)
      i++
    } else if (c === '%') {
      if (out[out.length - 1] !== LIKE_ANY) out.push(LIKE_ANY)
    } else if (c === '_') out.push(LIKE_ONE)
    else out.push(c.codePointAt(0)!)
  }
  return { source: pattern, codes: Int32Array.from(out) }
}

/**
 * Does `value` match the whole pattern? The classic iterative wildcard match: on a mismatch go back only to the
 * most recent `%` and let it absorb one more character. A later `%` supersedes earlier ones (whatever they
 * absorbed can never need to change), so there is no backtracking tree: at most (n + 1) × (m + 1) steps for a
 * value of n code points and a pattern of m elements. Each loop turn is one step, counted in likeStats.
 */
export function matchLike(p: LikePattern, value: string): boolean {
  const pat = p.codes
  const m = pat.length
  const v = codePoints(value)
  const n = v.length
  let s = 0 // position in value
  let k = 0 // position in pattern
  let star = -1 // pattern index of the last `%` seen
  let mark = 0 // value position that `%` was tried up to
  let steps = 0
  let matched = false
  for (;;) {
    steps++
    if (s < n) {
      const c = k < m ? pat[k]! : 0
      if (k < m && (c === LIKE_ONE || c === v[s])) {
        k++
        s++
      } else if (k < m && c === LIKE_ANY) {
        star = k++
        mark = s
      } else if (star >= 0) {
        k = star + 1
        s = ++mark
      } else break
    } else {
      // The value is used up: the rest of the pattern must be `%` only (runs are collapsed: at most one).
      if (k < m && pat[k] === LIKE_ANY) k++
      matched = k === m
      break
    }
  }
  likeStats.steps += steps
  return matched
}

class Parser {
  private i = 0
  private depth = 0
  private nodes = 0
  private likeChars = 0
  constructor(
    private readonly src: string,
    private readonly toks: Tok[],
  ) {}

  /** Count one AST node (or IN list item) against SELECTOR_NODES_MAX. */
  private node<N extends Node>(n: N, pos: number): N {
    if (++this.nodes > SELECTOR_NODES_MAX)
      tooComplex(this.src, pos, `more than ${SELECTOR_NODES_MAX} terms`, 'SELECTOR_NODES_MAX', SELECTOR_NODES_MAX)
    return n
  }

  private peek(): Tok {
    return this.toks[this.i]!
  }
  private next(): Tok {
    return this.toks[this.i++]!
  }
  private isKw(v: string): boolean {
    const t = this.peek()
    return t.t === 'kw' && t.v === v
  }
  private isOp(v: string): boolean {
    const t = this.peek()
    return t.t === 'op' && t.v === v
  }
  private describe(t: Tok): string {
    return t.t === 'eof' ? 'end of selector' : t.t === 'str' ? `string '${t.v}'` : `${JSON.stringify(String(t.v))}`
  }
  private expectOp(v: string): void {
    const t = this.next()
    if (t.t !== 'op' || t.v !== v) fail(this.src, t.pos, `expected ${JSON.stringify(v)} but found ${this.describe(t)}`)
  }
  private expectKw(v: string): void {
    const t = this.next()
    if (t.t !== 'kw' || t.v !== v) fail(this.src, t.pos, `expected ${v} but found ${this.describe(t)}`)
  }
  private enter(pos: number): void {
    if (++this.depth > SELECTOR_DEPTH_MAX)
      tooComplex(this.src, pos, `nesting deeper than ${SELECTOR_DEPTH_MAX}`, 'SELECTOR_DEPTH_MAX', SELECTOR_DEPTH_MAX)
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
    while (this.isKw('OR')) {
      const t = this.next()
      a = this.node({ k: 'or', a, b: this.and() }, t.pos)
    }
    return a
  }
  private and(): Node {
    let a = this.not()
    while (this.isKw('AND')) {
      const t = this.next()
      a = this.node({ k: 'and', a, b: this.not() }, t.pos)
    }
    return a
  }
  private not(): Node {
    if (this.isKw('NOT')) {
      const t = this.next()
      this.enter(t.pos)
      const a = this.not()
      this.depth--
      return this.node({ k: 'not', a }, t.pos)
    }
    return this.cmp()
  }
  private cmp(): Node {
    const a = this.sum()
    const t = this.peek()
    if (t.t === 'op' && ['=', '<>', '!=', '==', '<', '>', '<=', '>='].includes(t.v)) {
      this.next()
      const op = t.v === '!=' ? '<>' : t.v === '==' ? '=' : t.v
      return this.node({ k: 'cmp', op, a, b: this.sum() }, t.pos)
    }
    let not = false
    if (this.isKw('NOT')) {
      const after = this.toks[this.i + 1]!
      if (after.t === 'kw' && (after.v === 'LIKE' || after.v === 'IN' || after.v === 'BETWEEN')) {
        this.next()
        not = true
      }
    }
    if (this.isKw('LIKE')) {
      this.next()
      const p = this.next()
      if (p.t !== 'str') fail(this.src, p.pos, `LIKE expects a string pattern but found ${this.describe(p)}`)
      let esc: string | null = null
      if (this.isKw('ESCAPE')) {
        this.next()
        const e = this.next()
        if (e.t !== 'str' || e.v.length !== 1)
          fail(this.src, e.pos, `ESCAPE expects a one-character string but found ${this.describe(e)}`)
        esc = e.v
      }
      this.likeChars += p.v.length
      if (this.likeChars > SELECTOR_LIKE_CHARS_MAX) {
        tooComplex(
          this.src,
          p.pos,
          `LIKE patterns of more than ${SELECTOR_LIKE_CHARS_MAX} characters in all`,
          'SELECTOR_LIKE_CHARS_MAX',
          SELECTOR_LIKE_CHARS_MAX,
        )
      }
      return this.node({ k: 'like', a, pattern: compileLike(p.v, esc, this.src, p.pos), not }, t.pos)
    }
    if (this.isKw('IN')) {
      this.next()
      this.expectOp('(')
      const list: SelectorValue[] = []
      for (;;) {
        const v = this.next()
        if (v.t === 'str' || v.t === 'num') list.push(this.node({ k: 'lit', v: v.v }, v.pos).v)
        else fail(this.src, v.pos, `IN list expects a literal but found ${this.describe(v)}`)
        if (this.isOp(',')) {
          this.next()
          continue
        }
        this.expectOp(')')
        break
      }
      return this.node({ k: 'in', a, list, not }, t.pos)
    }
    if (this.isKw('BETWEEN')) {
      this.next()
      const lo = this.sum()
      this.expectKw('AND')
      const hi = this.sum()
      return this.node({ k: 'between', a, lo, hi, not }, t.pos)
    }
    if (not) fail(this.src, this.peek().pos, 'expected LIKE, IN or BETWEEN after NOT')
    if (this.isKw('IS')) {
      this.next()
      let isNot = false
      if (this.isKw('NOT')) {
        this.next()
        isNot = true
      }
      this.expectKw('NULL')
      return this.node({ k: 'isnull', a, not: isNot }, t.pos)
    }
    return a
  }
  private sum(): Node {
    let a = this.product()
    while (this.isOp('+') || this.isOp('-')) {
      const t = this.next() as { v: string; pos: number }
      a = this.node({ k: 'arith', op: t.v, a, b: this.product() }, t.pos)
    }
    return a
  }
  private product(): Node {
    let a = this.unary()
    while (this.isOp('*') || this.isOp('/') || this.isOp('%')) {
      const t = this.next() as { v: string; pos: number }
      a = this.node({ k: 'arith', op: t.v, a, b: this.unary() }, t.pos)
    }
    return a
  }
  private unary(): Node {
    if (this.isOp('-') || this.isOp('+')) {
      const t = this.next() as { v: string; pos: number }
      this.enter(t.pos)
      const a = this.unary()
      this.depth--
      return t.v === '-' ? this.node({ k: 'neg', a }, t.pos) : a
    }
    return this.primary()
  }
  private primary(): Node {
    const t = this.next()
    switch (t.t) {
      case 'str':
        return this.node({ k: 'lit', v: t.v }, t.pos)
      case 'num':
        return this.node({ k: 'lit', v: t.v }, t.pos)
      case 'id':
        return this.node({ k: 'id', name: t.v }, t.pos)
      case 'kw':
        if (t.v === 'TRUE') return this.node({ k: 'lit', v: true }, t.pos)
        if (t.v === 'FALSE') return this.node({ k: 'lit', v: false }, t.pos)
        if (t.v === 'NULL') return this.node({ k: 'lit', v: null }, t.pos)
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

function evaluate(n: Node, src: SelectorSource): SelectorValue {
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

/** A parsed selector. `matches` is true only when the expression evaluates to TRUE (not FALSE, not NULL). */
export class Selector {
  private constructor(
    readonly text: string,
    private readonly root: Node,
  ) {}

  /**
   * Parse; throws BrokerError BROKER_SELECTOR_INVALID naming the 1-based position of the problem, or
   * BROKER_SELECTOR_TOO_COMPLEX past a limit (length, nodes, nesting, LIKE pattern characters).
   */
  static parse(text: string): Selector {
    if (text.length > SELECTOR_LENGTH_MAX) {
      tooComplex(text, SELECTOR_LENGTH_MAX, `${text.length} characters`, 'SELECTOR_LENGTH_MAX', SELECTOR_LENGTH_MAX)
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
  return {
    header: (n) => (Object.prototype.hasOwnProperty.call(headers, n) ? headers[n] : undefined),
    redelivered,
    deliveryCount,
  }
}
