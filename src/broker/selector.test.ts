/**
 * Goal: the selector parser accepts the JMS/SQL-92 grammar, evaluates with SQL three-valued logic over STOMP
 * string headers (numeric strings compare as numbers), and rejects bad selectors with BROKER_SELECTOR_INVALID
 * naming the position. Method: tables of (selector, headers) -> expected value.
 */
import { describe, expect, test } from 'bun:test'
import { Selector, headerSource, type SelectorValue } from './selector.ts'
import { isBrokerError } from '../lib/errors.ts'

const H = {
  color: 'red', size: '10', price: '2.5', name: "O'Brien", flag: 'true', empty: '',
  priority: '7', 'message-id': 'ID:abc-1', timestamp: '1000', type: 'order', 'correlation-id': 'c-1',
  persistent: 'true', expires: '0', path: 'a_b%c', destination: '/queue/A', 'reply-to': '/queue/R',
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
  ["color > 5", null],
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
    expect(Selector.parse("color like 'r%' and size between 1 and 10 and color not in ('x')").matches(headerSource(H))).toBe(true)
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
    ["color LIKE 5", 12],
    ["color IN ()", 11],
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
      try { Selector.parse(sel) } catch (e) { err = e }
      if (!isBrokerError(err, 'BROKER_SELECTOR_INVALID')) throw new Error(`${JSON.stringify(sel)}: expected BROKER_SELECTOR_INVALID, got ${err}`)
      expect({ sel, pos: err.details?.position }).toEqual({ sel, pos })
    }
  })

  test('Selector refuses selectors past the nesting limit', () => {
    let err: unknown
    try { Selector.parse('('.repeat(200) + '1=1' + ')'.repeat(200)) } catch (e) { err = e }
    expect(isBrokerError(err, 'BROKER_SELECTOR_INVALID')).toBe(true)
    expect(Selector.parse('('.repeat(50) + '1=1' + ')'.repeat(50)).matches(headerSource({}))).toBe(true)
  })
})
