/**
 * Goal: the selector parser accepts the JMS/SQL-92 grammar, evaluates with SQL three-valued logic over STOMP
 * string headers (numeric strings compare as numbers), and rejects bad selectors with BROKER_SELECTOR_INVALID
 * naming the position; LIKE costs at most (value + 1) × (pattern + 1) matcher steps, and selectors past a
 * complexity limit fail with BROKER_SELECTOR_TOO_COMPLEX (issue #19).
 * Method: tables of (selector, headers) -> expected value; the LIKE matcher's step counter (likeStats), never time;
 * a seeded comparison of matchLike against a reference regex on small inputs.
 */
import { describe, expect, test } from 'bun:test'
import {
  SELECTOR_DEPTH_MAX,
  SELECTOR_LENGTH_MAX,
  SELECTOR_LIKE_CHARS_MAX,
  SELECTOR_NODES_MAX,
  Selector,
  compileLike,
  headerSource,
  likeStats,
  matchLike,
  type SelectorValue,
} from './selector.ts'
import { seededGenerator } from '../lib/random.ts'
import { isBrokerError } from '../lib/errors.ts'

const H = {
  color: 'red',
  size: '10',
  price: '2.5',
  name: "O'Brien",
  flag: 'true',
  empty: '',
  priority: '7',
  'message-id': 'ID:abc-1',
  timestamp: '1000',
  type: 'order',
  'correlation-id': 'c-1',
  persistent: 'true',
  expires: '0',
  path: 'a_b%c',
  destination: '/queue/A',
  'reply-to': '/queue/R',
}

const evalTable: [string, SelectorValue][] = [
  ["color = 'red'", true],
  ["color = 'blue'", false],
  ["color <> 'blue'", true],
  ["color != 'red'", false],
  ['size = 10', true],
  ['size > 9', true],
  ['size >= 10', true],
  ['size < 10', false],
  ['size <= 10.0', true],
  ['price > 2', true],
  ['price * 2 = 5', true],
  ['size + 5 = 15', true],
  ['size - 15 = -5', true],
  ['size / 4 = 2', true], // integer division like Java
  ['price / 2 = 1.25', true],
  ['size / 0 = 1', null],
  ['10 % 3 = 1', true],
  ['-size = -10', true],
  ['+size = 10', true],
  ['2 + 3 * 4 = 14', true],
  ['(2 + 3) * 4 = 20', true],
  ['0x1F = 31', true],
  ['010 = 8', true],
  ['5L = 5', true],
  ['1.5e1 = 15', true],
  ['.5 = 0.5', true],
  ['missing = 1', null],
  ['missing > 1', null],
  ["missing = 'x' OR color = 'red'", true],
  ["missing = 'x' OR color = 'blue'", null],
  ["missing = 'x' AND color = 'blue'", false],
  ["missing = 'x' AND color = 'red'", null],
  ["NOT (missing = 'x')", null],
  ["NOT color = 'blue'", true],
  ["NOT NOT color = 'red'", true],
  ['missing IS NULL', true],
  ['color IS NULL', false],
  ['color IS NOT NULL', true],
  ['missing IS NOT NULL', false],
  ["color LIKE 'r%'", true],
  ["color LIKE 'r_d'", true],
  ["color LIKE 'r_'", false],
  ["color NOT LIKE 'b%'", true],
  ["name LIKE 'O''B%'", true],
  ["path LIKE 'a\\_b\\%c' ESCAPE '\\'", true],
  ["path LIKE 'a!_b!%c' ESCAPE '!'", true],
  ["color LIKE 'R%'", false],
  ["missing LIKE 'x%'", null],
  ["color IN ('red', 'green')", true],
  ["color IN ('blue')", false],
  ["color NOT IN ('blue', 'green')", true],
  ["missing IN ('a')", null],
  ["missing NOT IN ('a')", null],
  ['size IN (10, 11)', true],
  ['size BETWEEN 5 AND 10', true],
  ['size BETWEEN 11 AND 20', false],
  ['size NOT BETWEEN 11 AND 20', true],
  ['missing BETWEEN 1 AND 2', null],
  ['size BETWEEN 1 + 1 AND 5 * 2', true],
  ['flag = TRUE', true],
  ['flag = false', false],
  ['TRUE', true],
  ['FALSE OR TRUE', true],
  ['NULL IS NULL', true],
  ["color = 'red' AND size > 5 OR missing = 1", true],
  ["color = 'blue' OR size > 5 AND missing = 1", null],
  ["color = 'blue' or size > 5 and missing is null", true],
  ['empty = 5', null], // '' does not convert to a number
  ['color > 5', null],
  ["color > 'qqq'", true], // string ordering (ActiveMQ extension)
  ['JMSPriority = 7', true],
  ['JMSPriority > 5', true],
  ["JMSMessageID = 'ID:abc-1'", true],
  ['JMSTimestamp = 1000', true],
  ["JMSType = 'order'", true],
  ["JMSCorrelationID = 'c-1'", true],
  ["JMSDeliveryMode = 'PERSISTENT'", true],
  ['JMSExpiration = 0', true],
  ["JMSDestination = '/queue/A'", true],
  ["JMSReplyTo = '/queue/R'", true],
  ['JMSRedelivered = FALSE', true],
  ['JMSXDeliveryCount = 1', true],
]

describe('Selector', () => {
  test('Selector evaluates the table with three-valued logic', () => {
    for (const [sel, want] of evalTable) {
      const got = Selector.parse(sel).evaluate(headerSource(H))
      if (got !== want) throw new Error(`${sel}: expected ${want}, got ${got}`)
    }
    expect(evalTable.length).toBeGreaterThan(70)
  })

  test('Selector matches only on TRUE', () => {
    expect(Selector.parse("color = 'red'").matches(headerSource(H))).toBe(true)
    expect(Selector.parse('missing = 1').matches(headerSource(H))).toBe(false)
    expect(Selector.parse('NOT (missing = 1)').matches(headerSource(H))).toBe(false)
    expect(Selector.parse('size').matches(headerSource(H))).toBe(false)
  })

  test('Selector keywords are case-insensitive and identifiers case-sensitive', () => {
    expect(Selector.parse("Color = 'red'").evaluate(headerSource(H))).toBe(null)
    expect(
      Selector.parse("color like 'r%' and size between 1 and 10 and color not in ('x')").matches(headerSource(H)),
    ).toBe(true)
  })

  test('Selector JMSDeliveryMode, JMSRedelivered and JMSXDeliveryCount follow delivery state', () => {
    const src = headerSource({ persistent: 'false' }, true, 3)
    expect(Selector.parse("JMSDeliveryMode = 'NON_PERSISTENT'").matches(src)).toBe(true)
    expect(Selector.parse('JMSRedelivered').matches(src)).toBe(true)
    expect(Selector.parse('JMSXDeliveryCount = 3').matches(src)).toBe(true)
    expect(Selector.parse('JMSPriority = 4').matches(src)).toBe(true) // default priority
  })

  const badTable: [string, number][] = [
    ['', 1],
    ["color = 'red", 9],
    ['color =', 8],
    ['color = = 1', 9],
    ['color LIKE 5', 12],
    ['color IN ()', 11],
    ["color IN ('a' 'b')", 15],
    ['size BETWEEN 1 2', 16],
    ['(size = 1', 10],
    ['size = 1)', 9],
    ['size # 1', 6],
    ['color IS 5', 10],
    ["color LIKE 'a' ESCAPE 'ab'", 23],
    ["color LIKE 'a!' ESCAPE '!'", 12],
    ['AND', 1],
    ['size NOT 5', 6],
    ['12abc = 1', 3],
    ['09 = 9', 1],
  ]
  test('Selector rejects bad selectors with BROKER_SELECTOR_INVALID and the position', () => {
    for (const [sel, pos] of badTable) {
      let err: unknown
      try {
        Selector.parse(sel)
      } catch (e) {
        err = e
      }
      if (!isBrokerError(err, 'BROKER_SELECTOR_INVALID'))
        throw new Error(`${JSON.stringify(sel)}: expected BROKER_SELECTOR_INVALID, got ${err}`)
      expect({ sel, pos: err.details?.position }).toEqual({ sel, pos })
    }
  })

  function parseCode(sel: string): string | undefined {
    try {
      Selector.parse(sel)
      return undefined
    } catch (e) {
      if (!isBrokerError(e)) throw e
      return e.code
    }
  }

  test('Selector refuses selectors past SELECTOR_DEPTH_MAX with BROKER_SELECTOR_TOO_COMPLEX', () => {
    const nest = (d: number) => '('.repeat(d) + '1=1' + ')'.repeat(d)
    expect(parseCode(nest(SELECTOR_DEPTH_MAX + 1))).toBe('BROKER_SELECTOR_TOO_COMPLEX')
    expect(Selector.parse(nest(SELECTOR_DEPTH_MAX - 1)).matches(headerSource({}))).toBe(true)
    expect(parseCode('NOT '.repeat(SELECTOR_DEPTH_MAX + 1) + 'TRUE')).toBe('BROKER_SELECTOR_TOO_COMPLEX')
    expect(parseCode('-'.repeat(SELECTOR_DEPTH_MAX + 1) + '1 = 1')).toBe('BROKER_SELECTOR_TOO_COMPLEX')
  })

  test('Selector refuses selectors over SELECTOR_LENGTH_MAX characters', () => {
    const fill = (n: number) => "a = '" + 'x'.repeat(n - 6) + "'"
    expect(fill(SELECTOR_LENGTH_MAX).length).toBe(SELECTOR_LENGTH_MAX)
    expect(parseCode(fill(SELECTOR_LENGTH_MAX))).toBeUndefined()
    expect(parseCode(fill(SELECTOR_LENGTH_MAX + 1))).toBe('BROKER_SELECTOR_TOO_COMPLEX')
  })

  test('Selector refuses more than SELECTOR_NODES_MAX nodes, IN list items included', () => {
    // `a IN (1, ..., k)`: the identifier, the IN node and k items.
    const inList = (k: number) => `a IN (${Array.from({ length: k }, (_, i) => (i % 9) + 1).join(',')})`
    expect(Selector.parse(inList(SELECTOR_NODES_MAX - 2)).matches(headerSource({ a: '7' }))).toBe(true)
    expect(parseCode(inList(SELECTOR_NODES_MAX - 1))).toBe('BROKER_SELECTOR_TOO_COMPLEX')
    // A flat chain of ORs: 3 nodes per comparison plus one per OR.
    expect(parseCode(Array.from({ length: SELECTOR_NODES_MAX / 4 + 1 }, () => 'a=1').join(' OR '))).toBe(
      'BROKER_SELECTOR_TOO_COMPLEX',
    )
  })

  test('Selector refuses LIKE patterns over SELECTOR_LIKE_CHARS_MAX characters in all', () => {
    const half = 'x'.repeat(SELECTOR_LIKE_CHARS_MAX / 2)
    expect(parseCode(`a LIKE '${half}' OR b LIKE '${half}'`)).toBeUndefined()
    expect(parseCode(`a LIKE '${half}' OR b LIKE '${half}x'`)).toBe('BROKER_SELECTOR_TOO_COMPLEX')
    expect(parseCode(`a LIKE '${'%'.repeat(SELECTOR_LIKE_CHARS_MAX + 1)}'`)).toBe('BROKER_SELECTOR_TOO_COMPLEX')
  })
})

describe('LIKE matcher', () => {
  /** Steps one Selector.matches takes (the counter is process-wide and only grows). */
  function stepsOf(sel: Selector, headers: Record<string, string>): { matched: boolean; steps: number } {
    const before = likeStats.steps
    const matched = sel.matches(headerSource(headers))
    return { matched, steps: likeStats.steps - before }
  }

  test('LIKE matcher takes at most (value + 1) × (pattern + 1) steps on %a%a%a%a%a%a%a%a%b against 60 × a', () => {
    const pattern = '%a%a%a%a%a%a%a%a%b'
    const value = 'a'.repeat(60)
    const r = stepsOf(Selector.parse(`a LIKE '${pattern}'`), { a: value })
    expect(r.matched).toBe(false)
    expect(r.steps).toBeGreaterThan(0)
    expect(r.steps).toBeLessThanOrEqual((value.length + 1) * (pattern.length + 1))
  })

  test('LIKE matcher takes at most (value + 1) × (pattern + 1) steps on 30 × %a against 5,000 characters', () => {
    const pattern = '%a'.repeat(30) + '%b'
    const value = 'a'.repeat(5_000)
    const r = stepsOf(Selector.parse(`a LIKE '${pattern}'`), { a: value })
    expect(r.matched).toBe(false)
    expect(r.steps).toBeLessThanOrEqual((value.length + 1) * (pattern.length + 1))
    // And a match of the same shape is found (greedy `%` does not miss it).
    const hit = stepsOf(Selector.parse(`a LIKE '${'%a'.repeat(30)}%'`), { a: value })
    expect(hit.matched).toBe(true)
    expect(hit.steps).toBeLessThanOrEqual((value.length + 1) * (61 + 1))
  })

  test('LIKE matcher stays within the bound at the limits: SELECTOR_LIKE_CHARS_MAX pattern, 10 KiB value', () => {
    const pattern = '%' + 'a'.repeat(SELECTOR_LIKE_CHARS_MAX - 2) + 'b'
    const value = 'a'.repeat(10 * 1024)
    const r = stepsOf(Selector.parse(`a LIKE '${pattern}'`), { a: value })
    expect(r.matched).toBe(false)
    expect(r.steps).toBeLessThanOrEqual((value.length + 1) * (pattern.length + 1))
  })

  test('LIKE matcher keeps ActiveMQ semantics: _ is one code point, ESCAPE, case, whole value, newlines', () => {
    const t: Array<[string, string | null, string, boolean]> = [
      ['%', null, '', true],
      ['_', null, '', false],
      ['_', null, '😀', true], // one code point, two UTF-16 units
      ['a_c', null, 'a😀c', true],
      ['%😀', null, 'xx😀', true],
      ['a%', null, 'a\nb', true],
      ['a%b', null, 'a\nb', true],
      ['a.c', null, 'abc', false], // regex metacharacters are literal
      ['a*', null, 'aaa', false],
      ['(a)', null, '(a)', true],
      ['A%', null, 'abc', false],
      ['%!%%', '!', 'x%y', true],
      ['%!%', '!', 'x%y', false],
      ['!_', '!', '_', true],
      ['!_', '!', 'a', false],
      ['%%%a%%', null, 'xxaxx', true],
      ['%a%b%', null, 'ba', false],
      ['%ab', null, 'aab', true],
      ['a%a', null, 'a', false],
    ]
    for (const [pattern, esc, value, want] of t) {
      const v = value.replace('\\n', '\n')
      const got = matchLike(compileLike(pattern, esc), v)
      if (got !== want)
        throw new Error(
          `${JSON.stringify(v)} LIKE ${JSON.stringify(pattern)}${esc ? ` ESCAPE '${esc}'` : ''}: expected ${want}, got ${got}`,
        )
    }
  })

  test('LIKE matcher agrees with a reference regex on seeded random patterns and values', () => {
    const seed = Number(process.env.SEED ?? Date.now() % 1_000_000)
    const rnd = seededGenerator(seed)
    const pick = (s: string) => s[Math.floor(rnd() * s.length)]!
    for (let i = 0; i < 3000; i++) {
      let pattern = ''
      for (let j = Math.floor(rnd() * 8); j > 0; j--) pattern += pick('ab%_%')
      let value = ''
      for (let j = Math.floor(rnd() * 10); j > 0; j--) value += pick('abb')
      const re = new RegExp('^' + pattern.replace(/%/g, '.*').replace(/_/g, '.') + '$', 's')
      const got = matchLike(compileLike(pattern), value)
      if (got !== re.test(value))
        throw new Error(
          `SEED=${seed}: ${JSON.stringify(value)} LIKE ${JSON.stringify(pattern)}: expected ${!got}, got ${got}`,
        )
    }
  })
})
