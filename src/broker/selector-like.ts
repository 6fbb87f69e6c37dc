/**
 * Selector LIKE (ActiveMQ LikeExpression): compiling a pattern (`%` any run, `_` one code point, an optional
 * one-character ESCAPE) and matching a whole value with one iterative wildcard matcher, never a backtracking
 * regex: at most (value length + 1) × (pattern length + 1) steps whatever the wildcards.
 */
import { fail } from './selector-lexer.ts'

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
