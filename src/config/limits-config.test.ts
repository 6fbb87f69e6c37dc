/**
 * Goal: the limits of issue 19 load from config with their defaults, and bad values fail with a stable code that
 * names the place, the value and the expectation: connection fairness (`transport.maximumConnectionsPerAddress`,
 * `transport.maximumPendingConnects`, `transport.maximumPendingConnectsPerAddress`), `maxDestinations` (broker and
 * policy entry), destination GC (`schedulePeriodForDestinationPurge`, `gcInactiveDestinations`,
 * `inactiveTimoutBeforeGC` in ActiveMQ's spelling) and the admin endpoint's `metricsDestinationsMax`.
 * Method: small config files in a temp dir and `--connector` overrides through loadConfig.
 */
import { describe, expect, test } from 'bun:test'
import { configScratch } from '../testing/config-scratch.ts'
import { loadConfig, policyEntryFor, warnings, type LoadConfigOptions } from './index.ts'

const { dir, write, fail } = configScratch('sfbroker-limits-')

const uri = (q: string): LoadConfigOptions => ({ overrides: { connectors: [`stomp://127.0.0.1:0?${q}`] } })

describe('connection fairness options', () => {
  test('loadConfig derives the fairness defaults from maximumConnections', () => {
    expect(loadConfig({ cwd: dir, ...uri('maximumConnections=40') }).connectors[0]).toMatchObject({
      maximumConnections: 40,
      maximumConnectionsPerAddress: 40,
      maximumPendingConnects: 10,
      maximumPendingConnectsPerAddress: 5,
    })
    // Tiny connectors still admit one silent socket (a budget of 0 would refuse every client).
    expect(loadConfig({ cwd: dir, ...uri('maximumConnections=1') }).connectors[0]).toMatchObject({
      maximumPendingConnects: 1,
      maximumPendingConnectsPerAddress: 1,
    })
    // The per-address pending default follows an explicit budget and never exceeds the per-address limit.
    expect(loadConfig({ cwd: dir, ...uri('transport.maximumPendingConnects=100') }).connectors[0]).toMatchObject({
      maximumPendingConnects: 100,
      maximumPendingConnectsPerAddress: 50,
    })
    expect(loadConfig({ cwd: dir, ...uri('transport.maximumConnectionsPerAddress=5') }).connectors[0]).toMatchObject({
      maximumConnectionsPerAddress: 5,
      maximumPendingConnectsPerAddress: 5,
    })
  })

  test('loadConfig reads the fairness options in any order', () => {
    const c = loadConfig({
      cwd: dir,
      ...uri(
        'transport.maximumPendingConnectsPerAddress=3&transport.maximumPendingConnects=8&transport.maximumConnectionsPerAddress=20&maximumConnections=50',
      ),
    })
    expect(c.connectors[0]).toMatchObject({
      maximumConnections: 50,
      maximumConnectionsPerAddress: 20,
      maximumPendingConnects: 8,
      maximumPendingConnectsPerAddress: 3,
    })
  })

  test('loadConfig rejects fairness options that contradict each other or are not counts', () => {
    const cases: [string, string][] = [
      [
        'transport.maximumConnectionsPerAddress=0',
        'transport.maximumConnectionsPerAddress="0": expected a whole number from 1',
      ],
      [
        'transport.maximumPendingConnects=lots',
        'transport.maximumPendingConnects="lots": expected a whole number from 1',
      ],
      ['maximumConnections=10&transport.maximumConnectionsPerAddress=11', 'is above maximumConnections (10)'],
      [
        'maximumConnections=10&transport.maximumPendingConnects=11',
        'transport.maximumPendingConnects="11" is above maximumConnections (10)',
      ],
      [
        'transport.maximumPendingConnects=4&transport.maximumPendingConnectsPerAddress=5',
        'is above transport.maximumPendingConnects (4)',
      ],
      [
        'transport.maximumConnectionsPerAddress=2&transport.maximumPendingConnectsPerAddress=3',
        'is above transport.maximumConnectionsPerAddress (2)',
      ],
      ['transport.maximumConnectionPerAddress=2', 'did you mean "transport.maximumConnectionsPerAddress"'],
    ]
    for (const [q, text] of cases) {
      const e = fail(uri(q))
      expect([q, e.code]).toEqual([q, 'CONFIG_INVALID'])
      expect(e.message).toContain('--connector')
      expect(e.message).toContain(text)
    }
  })
})

describe('maxDestinations and destination GC', () => {
  const xml = (attrs: string, entries = ''): string =>
    `<broker xmlns="http://activemq.apache.org/schema/core"${attrs}>\n<destinationPolicy><policyMap><policyEntries>\n${entries}\n</policyEntries></policyMap></destinationPolicy>\n</broker>\n`

  test('loadConfig reads maxDestinations, the purge schedule and the GC policy (ActiveMQ spelling and the correct one)', () => {
    const c = loadConfig({
      cwd: dir,
      file: write(
        'xml',
        xml(
          ' maxDestinations="500" schedulePeriodForDestinationPurge="10000" maxPurgedDestinationsPerSweep="50"',
          `<policyEntry queue="tmp.>" gcInactiveDestinations="true" inactiveTimoutBeforeGC="30000" maxDestinations="20"/>
<policyEntry topic=">" gcInactiveDestinations="TRUE" inactiveTimeoutBeforeGC="5000" maxDestinations="-1"/>`,
        ),
      ),
    })
    expect(c.destinations).toEqual({
      maxDestinations: 500,
      schedulePeriodForDestinationPurge: 10000,
      maxPurgedDestinationsPerSweep: 50,
    })
    expect(policyEntryFor(c.destinationPolicy, 'queue', 'tmp.a')).toMatchObject({
      gcInactiveDestinations: true,
      inactiveTimeoutBeforeGC: 30000,
      maxDestinations: 20,
    })
    expect(policyEntryFor(c.destinationPolicy, 'topic', 'x')).toMatchObject({
      gcInactiveDestinations: true,
      inactiveTimeoutBeforeGC: 5000,
      maxDestinations: null,
    })
    expect(warnings(c).some((w) => w.includes('schedulePeriodForDestinationPurge'))).toBe(false)
    const json = loadConfig({
      cwd: dir,
      file: write('json', JSON.stringify({ maxDestinations: -1, schedulePeriodForDestinationPurge: 1000 })),
    })
    expect(json.destinations).toEqual({
      maxDestinations: -1,
      schedulePeriodForDestinationPurge: 1000,
      maxPurgedDestinationsPerSweep: 0,
    })
  })

  test('loadConfig warns when gcInactiveDestinations is set but no purge is scheduled (ActiveMQ would silently never GC)', () => {
    const c = loadConfig({
      cwd: dir,
      file: write('xml', xml('', '<policyEntry queue=">" gcInactiveDestinations="true"/>')),
    })
    expect(warnings(c).some((w) => w.includes('schedulePeriodForDestinationPurge'))).toBe(true)
  })

  test('loadConfig rejects bad limit and GC values naming file:line, value and expectation', () => {
    const cases: [string, string, string, number][] = [
      [
        ' maxDestinations="-2"',
        '',
        'attribute "maxDestinations": found "-2", expected -1 (no limit) or a whole number',
        1,
      ],
      [' maxDestinations="many"', '', 'found "many"', 1],
      [' schedulePeriodForDestinationPurge="soon"', '', 'expected a whole number of milliseconds', 1],
      [' maxPurgedDestinationsPerSweep="-1"', '', 'expected a whole number from 0 (no limit)', 1],
      ['', '<policyEntry queue=">" maxDestinations="x"/>', 'found "x"', 3],
      ['', '<policyEntry queue=">" gcInactiveDestinations="yes"/>', 'expected true or false', 3],
      [
        '',
        '<policyEntry queue=">" inactiveTimoutBeforeGC="1000" inactiveTimeoutBeforeGC="2000"/>',
        'found both inactiveTimoutBeforeGC',
        3,
      ],
    ]
    for (const [attrs, entries, text, line] of cases) {
      const file = write('xml', xml(attrs, entries))
      const e = fail({ file })
      expect([attrs + entries, e.code]).toEqual([attrs + entries, 'CONFIG_INVALID'])
      expect(e.message).toContain(text)
      expect(e.message).toContain(`${file}:${line}:`)
    }
  })
})

describe('admin metricsDestinationsMax', () => {
  test('loadConfig reads metricsDestinationsMax and rejects a bad one', () => {
    const c = loadConfig({
      cwd: dir,
      file: write('xml', '<broker>\n<admin listen="127.0.0.1:0" metricsDestinationsMax="7"/>\n</broker>\n'),
    })
    expect(c.admin).toEqual({ host: '127.0.0.1', port: 0, metricsDestinationsMax: 7 })
    const file = write('xml', '<broker>\n<admin listen="127.0.0.1:0" metricsDestinationsMax="-1"/>\n</broker>\n')
    const e = fail({ file })
    expect(e.code).toBe('CONFIG_INVALID')
    expect(e.message).toContain(`${file}:2:`)
    expect(e.message).toContain('found "-1", expected a whole number from 0')
  })
})

describe('systemUsage sendFailIfNoSpace', () => {
  test('loadConfig reads sendFailIfNoSpace and sendFailIfNoSpaceAfterTimeout from XML and JSON; both off by default', () => {
    expect(loadConfig({ cwd: dir }).limits).not.toHaveProperty('sendFailIfNoSpace')
    const xml = write(
      'xml',
      '<broker><systemUsage><systemUsage sendFailIfNoSpace="true" sendFailIfNoSpaceAfterTimeout="3000"><memoryUsage><memoryUsage limit="64 mb"/></memoryUsage></systemUsage></systemUsage></broker>',
    )
    expect(loadConfig({ cwd: dir, file: xml }).limits).toMatchObject({
      memoryLimit: 64 << 20,
      sendFailIfNoSpace: true,
      sendFailIfNoSpaceAfterTimeout: 3000,
    })
    const json = write('json', JSON.stringify({ systemUsage: { sendFailIfNoSpaceAfterTimeout: 500 } }))
    expect(loadConfig({ cwd: dir, file: json }).limits).toMatchObject({ sendFailIfNoSpaceAfterTimeout: 500 })
    expect(fail({ file: write('json', JSON.stringify({ systemUsage: { sendFailIfNoSpace: 'maybe' } })) }).code).toBe(
      'CONFIG_INVALID',
    )
  })
})

describe('memory bounds (#19)', () => {
  test('loadConfig reads transport.maxReceiveSize and transport.maxOutboundSize, leaving them unset by default', () => {
    const c = loadConfig({ cwd: dir, ...uri('transport.maxReceiveSize=32mb&transport.maxOutboundSize=1mb') })
      .connectors[0]!
    expect(c).toMatchObject({ maxReceiveSize: 32 << 20, maxOutboundSize: 1 << 20 })
    const d = loadConfig({ cwd: dir, ...uri('maximumConnections=5') }).connectors[0]!
    expect(d.maxReceiveSize).toBeUndefined()
    expect(d.maxOutboundSize).toBeUndefined()
  })

  test('loadConfig refuses a transport.maxReceiveSize or maxOutboundSize that is not a size of at least 64kb', () => {
    for (const q of [
      'transport.maxReceiveSize=1kb',
      'transport.maxReceiveSize=lots',
      'transport.maxOutboundSize=0',
      'transport.maxOutboundSize=-5mb',
    ]) {
      const e = fail(uri(q))
      expect(e.code).toBe('CONFIG_INVALID')
      expect(e.message).toContain(q.split('=')[0]!)
    }
  })

  test('loadConfig reads <systemUsage maxTransactionSize maxTransactionSizePerConnection> from XML and JSON', () => {
    const file = write(
      'xml',
      '<broker>\n<systemUsage><systemUsage maxTransactionSize="16 mb" maxTransactionSizePerConnection="24 mb"/></systemUsage>\n</broker>\n',
    )
    expect(loadConfig({ cwd: dir, file }).limits).toMatchObject({
      maxTransactionSize: 16 << 20,
      maxTransactionSizePerConnection: 24 << 20,
    })
    const json = write('json', JSON.stringify({ systemUsage: { maxTransactionSize: '8mb' } }))
    const l = loadConfig({ cwd: dir, file: json }).limits
    expect(l.maxTransactionSize).toBe(8 << 20)
    expect(l.maxTransactionSizePerConnection).toBeUndefined()
    expect(fail({ file: write('json', JSON.stringify({ systemUsage: { maxTransactionSize: '0' } })) }).code).toBe(
      'CONFIG_INVALID',
    )
  })
})
