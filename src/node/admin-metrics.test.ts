/**
 * Goal: the admin endpoint's output stays bounded: /metrics keeps the metricsDestinationsMax deepest destinations
 * and accounts for the rest; /status paging parameters are checked, with errors naming the parameter and value.
 * Method: the pure helpers (topDestinations, parsePage) on synthetic input; the endpoint itself is exercised end
 * to end in test/connection-fairness.test.ts and test/admin.test.ts.
 */
import { describe, expect, test } from 'bun:test'
import type { DestinationMetrics } from '../broker/index.ts'
import { STATUS_PAGE_DEFAULT, STATUS_PAGE_MAX, parsePage, topDestinations } from './admin-metrics.ts'

const d = (destination: string, depth: number): DestinationMetrics => ({
  destination,
  depth,
  enqueued: depth,
  dequeued: 0,
  consumers: 0,
  expired: 0,
})

describe('topDestinations', () => {
  test('topDestinations keeps the deepest metricsDestinationsMax, listed by name, and sums what it leaves out', () => {
    const all = [d('/queue/a', 1), d('/queue/b', 50), d('/queue/c', 0), d('/queue/d', 50), d('/queue/e', 7)]
    const t = topDestinations(all, 3)
    expect(t.shown.map((x) => x.destination)).toEqual(['/queue/b', '/queue/d', '/queue/e'])
    expect([t.omitted, t.omittedDepth]).toEqual([2, 1])
    expect(topDestinations(all, 10)).toMatchObject({ omitted: 0, omittedDepth: 0 })
    expect(topDestinations(all, 0)).toMatchObject({ shown: [], omitted: 5, omittedDepth: 108 })
  })
})

describe('parsePage', () => {
  const page = (q: string) => parsePage(new URL(`http://admin/status${q}`))
  test('parsePage reads offset and limit with defaults and bounds', () => {
    expect(page('')).toEqual({ offset: 0, limit: STATUS_PAGE_DEFAULT })
    expect(page('?offset=200&limit=5')).toEqual({ offset: 200, limit: 5 })
    expect(page(`?limit=${STATUS_PAGE_MAX}`)).toEqual({ offset: 0, limit: STATUS_PAGE_MAX })
  })
  test('parsePage rejects limits past STATUS_PAGE_MAX and non-numbers, naming the parameter', () => {
    for (const q of [`?limit=${STATUS_PAGE_MAX + 1}`, '?limit=0', '?offset=-1', '?offset=1e3', '?limit=abc']) {
      const p = page(q)
      expect([q, 'error' in p]).toEqual([q, true])
      expect((p as { error: string }).error).toContain(q.slice(1, q.indexOf('=')))
    }
  })
})
