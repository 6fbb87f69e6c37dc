/**
 * The selector parser: recursive descent over the lexer's tokens to a small AST (the grammar is in
 * ./selector.ts), counting its work against the named limits: SELECTOR_LENGTH_MAX characters,
 * SELECTOR_NODES_MAX nodes, SELECTOR_DEPTH_MAX nesting and SELECTOR_LIKE_CHARS_MAX LIKE pattern characters.
 */
import { compileLike, type LikePattern } from './selector-like.ts'
import { fail, tooComplex, type Tok } from './selector-lexer.ts'

export type SelectorValue = string | number | boolean | null

/** A selector's AST. */
export type Node =
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

export class Parser {
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
