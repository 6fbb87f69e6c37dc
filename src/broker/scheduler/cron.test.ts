/**
 * Goal: CronExpression parses the 5-field dialect, rejects what it does not support with SCHEDULER_HEADER_INVALID,
 * and finds the next firing correctly. Method: fixed UTC instants (so the result does not depend on the test
 * machine's time zone), plus one local-time check that only asserts field values.
 */
import { describe, expect, test } from 'bun:test'
import { CronExpression } from './cron.ts'
import { isBrokerError } from '../../lib/errors.ts'

const U = (s: string) => Date.parse(s)
const NOW = U('2025-03-14T10:17:30Z') // a Friday
const next = (expr: string, after = NOW) => {
  const t = CronExpression.parse(expr, 'AMQ_SCHEDULED_CRON', { utc: true, now: after }).next(after, { utc: true })
  return t === null ? null : new Date(t).toISOString()
}

describe('CronExpression next', () => {
  test('CronExpression every minute fires at the next whole minute', () => {
    expect(next('* * * * *')).toBe('2025-03-14T10:18:00.000Z')
    expect(next('* * * * *', U('2025-03-14T10:18:00Z'))).toBe('2025-03-14T10:19:00.000Z')
  })
  test('CronExpression fixed minute and hour', () => {
    expect(next('30 9 * * *')).toBe('2025-03-15T09:30:00.000Z')
    expect(next('20 10 * * *')).toBe('2025-03-14T10:20:00.000Z')
  })
  test('CronExpression steps, ranges and lists', () => {
    expect(next('*/15 * * * *')).toBe('2025-03-14T10:30:00.000Z')
    expect(next('5-50/20 * * * *')).toBe('2025-03-14T10:25:00.000Z')
    expect(next('0 8,12,18 * * *')).toBe('2025-03-14T12:00:00.000Z')
    expect(next('0 22/1 * * *')).toBe('2025-03-14T22:00:00.000Z')
  })
  test('CronExpression day-of-week names and 7 as Sunday', () => {
    expect(next('0 0 * * SUN')).toBe('2025-03-16T00:00:00.000Z')
    expect(next('0 0 * * 7')).toBe('2025-03-16T00:00:00.000Z')
    expect(next('0 0 * * mon-wed')).toBe('2025-03-17T00:00:00.000Z')
  })
  test('CronExpression month names roll over the year', () => {
    expect(next('0 0 1 jan *')).toBe('2026-01-01T00:00:00.000Z')
    expect(next('0 0 1 FEB,apr *')).toBe('2025-04-01T00:00:00.000Z')
  })
  test('CronExpression day-of-month OR day-of-week when both are restricted', () => {
    // 20th of the month, or any Monday: Monday the 17th comes first.
    expect(next('0 0 20 * 1')).toBe('2025-03-17T00:00:00.000Z')
    // With day-of-week `*`, only the day of month counts.
    expect(next('0 0 20 * *')).toBe('2025-03-20T00:00:00.000Z')
  })
  test('CronExpression February 29 is found years ahead', () => {
    expect(next('0 0 29 2 *')).toBe('2028-02-29T00:00:00.000Z')
  })
  test('CronExpression local time zone matches fields', () => {
    const e = CronExpression.parse('45 13 * * *')
    const t = e.next(Date.now())
    expect(t).not.toBeNull()
    const d = new Date(t!)
    expect([d.getHours(), d.getMinutes(), d.getSeconds(), d.getMilliseconds()]).toEqual([13, 45, 0, 0])
    expect(t!).toBeGreaterThan(Date.now())
  })
})

describe('CronExpression parse', () => {
  const invalid = [
    '',
    '* * * *',
    '* * * * * *',
    '60 * * * *',
    '* 24 * * *',
    '* * 0 * *',
    '* * * 13 *',
    '* * * * 8',
    '*/0 * * * *',
    '5-1 * * * *',
    'a * * * *',
    '* * * FOO *',
    '1,,2 * * * *',
    '1-2-3 * * * *',
    '@hourly',
    '0 0 30 2 *',
    '0 0 L * *',
    '? * * * *',
    '1/2/3 * * * *',
  ]
  for (const expr of invalid) {
    test(`CronExpression rejects ${JSON.stringify(expr)} with SCHEDULER_HEADER_INVALID`, () => {
      let err: unknown
      try {
        CronExpression.parse(expr, 'AMQ_SCHEDULED_CRON', { utc: true, now: NOW })
      } catch (e) {
        err = e
      }
      expect(isBrokerError(err, 'SCHEDULER_HEADER_INVALID')).toBe(true)
      expect((err as Error).message).toContain('AMQ_SCHEDULED_CRON')
    })
  }
  test('CronExpression keeps the normalised text', () => {
    expect(CronExpression.parse('  0   12 * *  MON ').text).toBe('0 12 * * MON')
  })
})
