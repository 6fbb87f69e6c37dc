/**
 * Goal: `<destinationPolicy>` loads the subset sfbroker implements (XML with or without Spring's doubled
 * `<policyMap>`, and the same model in JSON), picks one entry per destination as ActiveMQ does, and refuses
 * everything else with a stable code naming file:line (XML) or the JSON path; the STOMP connector URI options
 * `transport.connectAttemptTimeout`, `transport.defaultHeartBeat`, `transport.hbGracePeriodMultiplier` load and
 * their bad values fail the same way.
 * Method: small config files in a temp dir through loadConfig; policyEntryFor on the resolved config.
 */
import { describe, expect, test } from 'bun:test'
import path from 'node:path'
import { configScratch } from '../testing/config-scratch.ts'
import { loadConfig, matchesPattern, policyEntryFor, type LoadConfigOptions } from './index.ts'

const { dir, write, fail } = configScratch('sfbroker-policy-')
const repo = path.resolve(import.meta.dir, '../..')

/** A broker whose <destinationPolicy> holds `entries` (line 4 is the first entry when it is one line). */
function policyXml(entries: string, doubled = true): string {
  const open = doubled ? '<policyMap><policyMap>' : '<policyMap>'
  const close = doubled ? '</policyMap></policyMap>' : '</policyMap>'
  return `<broker xmlns="http://activemq.apache.org/schema/core">\n<destinationPolicy>${open}\n<policyEntries>\n${entries}\n</policyEntries>\n${close}</destinationPolicy>\n</broker>\n`
}

describe('destinationPolicy', () => {
  test('loadConfig reads policy entries, in XML with one or two <policyMap> levels', () => {
    for (const doubled of [true, false]) {
      const c = loadConfig({
        cwd: dir,
        file: write(
          'xml',
          policyXml(
            `<policyEntry queue=">" memoryLimit="1 mb" producerFlowControl="true" prioritizedMessages="false" queuePrefetch="10" queueBrowserPrefetch="20"/>
<policyEntry topic="prices.>" memoryLimit="512kb" topicPrefetch="30" durableTopicPrefetch="40"/>`,
            doubled,
          ),
        ),
      })
      expect(c.destinationPolicy).toEqual({
        entries: [
          {
            kind: 'queue',
            pattern: '>',
            memoryLimit: 1024 * 1024,
            queuePrefetch: 10,
            queueBrowserPrefetch: 20,
            topicPrefetch: null,
            durableTopicPrefetch: null,
            maxDestinations: null,
            gcInactiveDestinations: null,
            inactiveTimeoutBeforeGC: null,
          },
          {
            kind: 'topic',
            pattern: 'prices.>',
            memoryLimit: 512 * 1024,
            queuePrefetch: null,
            queueBrowserPrefetch: null,
            topicPrefetch: 30,
            durableTopicPrefetch: 40,
            maxDestinations: null,
            gcInactiveDestinations: null,
            inactiveTimeoutBeforeGC: null,
          },
        ],
        defaultEntry: null,
      })
    }
  })

  test('loadConfig reads the same model from JSON, with a defaultEntry', () => {
    const c = loadConfig({
      cwd: dir,
      file: write(
        'json',
        JSON.stringify({
          destinationPolicy: {
            policyMap: {
              policyEntries: [{ queue: 'orders', memoryLimit: '2 mb' }],
              defaultEntry: { policyEntry: { memoryLimit: 4096, queuePrefetch: 5 } },
            },
          },
        }),
      ),
    })
    expect(c.destinationPolicy?.entries[0]).toMatchObject({
      kind: 'queue',
      pattern: 'orders',
      memoryLimit: 2 * 1024 * 1024,
    })
    expect(c.destinationPolicy?.defaultEntry).toMatchObject({
      kind: null,
      pattern: null,
      memoryLimit: 4096,
      queuePrefetch: 5,
    })
    expect(policyEntryFor(c.destinationPolicy, 'queue', 'orders')?.memoryLimit).toBe(2 * 1024 * 1024)
    expect(policyEntryFor(c.destinationPolicy, 'queue', 'other')?.memoryLimit).toBe(4096)
    expect(policyEntryFor(c.destinationPolicy, 'topic', 'orders')?.memoryLimit).toBe(4096)
  })

  test('matchesPattern follows ActiveMQ wildcards: * one segment, > the rest', () => {
    const cases: [string, string, boolean][] = [
      ['>', 'a', true],
      ['>', 'a.b.c', true],
      ['a.>', 'a.b', true],
      ['a.>', 'a.b.c', true],
      ['a.>', 'a', false],
      ['a.>', 'ab.c', false],
      ['a.*', 'a.b', true],
      ['a.*', 'a.b.c', false],
      ['*.in', 'x.in', true],
      ['*.in', 'in', false],
      ['orders', 'orders', true],
      ['orders', 'orders.eu', false],
    ]
    for (const [p, name, want] of cases) expect([p, name, matchesPattern(p, name)]).toEqual([p, name, want])
  })

  test('policyEntryFor picks the one matching entry whose pattern sorts last, per kind', () => {
    const c = loadConfig({
      cwd: dir,
      file: write(
        'xml',
        policyXml(
          `<policyEntry queue=">" memoryLimit="1mb"/>
<policyEntry queue="orders.>" memoryLimit="2mb"/>
<policyEntry queue="orders.eu" queuePrefetch="7"/>
<policyEntry topic=">" memoryLimit="3mb"/>`,
        ),
      ),
    })
    const p = c.destinationPolicy
    expect(policyEntryFor(p, 'queue', 'anything')?.memoryLimit).toBe(1024 * 1024)
    expect(policyEntryFor(p, 'queue', 'orders.us')?.memoryLimit).toBe(2 * 1024 * 1024)
    // "orders.eu" wins and says nothing about memory: settings are not merged from "orders.>".
    expect(policyEntryFor(p, 'queue', 'orders.eu')).toMatchObject({
      pattern: 'orders.eu',
      memoryLimit: null,
      queuePrefetch: 7,
    })
    expect(policyEntryFor(p, 'topic', 'orders.eu')?.memoryLimit).toBe(3 * 1024 * 1024)
    expect(policyEntryFor(undefined, 'queue', 'x')).toBeNull()
  })

  test('loadConfig refuses what sfbroker does not implement with CONFIG_UNSUPPORTED and file:line', () => {
    const cases: [string, string][] = [
      ['<policyEntry queue=">" producerFlowControl="false"/>', 'producerFlowControl'],
      ['<policyEntry queue=">" prioritizedMessages="true"/>', 'prioritizedMessages'],
      [
        '<policyEntry topic=">"><pendingMessageLimitStrategy><constantPendingMessageLimitStrategy limit="1000"/></pendingMessageLimitStrategy></policyEntry>',
        '<pendingMessageLimitStrategy>',
      ],
      [
        '<policyEntry queue=">"><deadLetterStrategy><individualDeadLetterStrategy queuePrefix="DLQ."/></deadLetterStrategy></policyEntry>',
        '<deadLetterStrategy>',
      ],
      ['<policyEntry queue=">" expireMessagesPeriod="0"/>', '"expireMessagesPeriod"'],
      ['<policyEntry queue="a,b" memoryLimit="1mb"/>', 'composite'],
      ['<policyEntry tempQueue="true" memoryLimit="1mb"/>', 'temporary'],
    ]
    for (const [entry, named] of cases) {
      const file = write('xml', policyXml(entry))
      const e = fail({ file })
      expect([entry, e.code]).toEqual([entry, 'CONFIG_UNSUPPORTED'])
      expect(e.message).toContain(named)
      expect(e.message).toContain(`${file}:4:`)
    }
  })

  test('loadConfig rejects bad policy entries with CONFIG_INVALID naming place, value and expectation', () => {
    const cases: [string, string][] = [
      ['<policyEntry queue=">" memoryLimt="1mb"/>', 'unknown attribute "memoryLimt" (did you mean "memoryLimit"?)'],
      ['<policyEntry queue=">" memoryLimit="lots"/>', 'attribute "memoryLimit": found "lots", expected a size'],
      ['<policyEntry queue=">" queuePrefetch="0"/>', 'found "0", expected a whole number from 1'],
      ['<policyEntry queue="a" topic="b"/>', 'expected exactly one'],
      ['<policyEntry memoryLimit="1mb"/>', 'expected queue="<pattern>" or topic="<pattern>"'],
      ['<policyEntry queue="foo*" memoryLimit="1mb"/>', 'found "foo*", expected a destination name or pattern'],
      ['<policyEntry queue="a.>.b"/>', 'found "a.>.b"'],
      ['<policyEntry queue=">" topicPrefetch="5"/>', 'applies to topic consumers, but this entry matches queues'],
      ['<policyEntry topic=">" queuePrefetch="5"/>', 'applies to queue consumers, but this entry matches topics'],
      ['<policyEntry queue=">"/><policyEntry queue=">"/>', 'is also the pattern of entry 1'],
    ]
    for (const [entry, expected] of cases) {
      const file = write('xml', policyXml(entry))
      const e = fail({ file })
      expect([entry, e.code]).toEqual([entry, 'CONFIG_INVALID'])
      expect(e.message).toContain(expected)
      expect(e.message).toContain(`${file}:4:`)
    }
    const d = fail({
      file: write(
        'xml',
        '<broker>\n<destinationPolicy><policyMap><defaultEntry>\n<policyEntry queue=">"/>\n</defaultEntry></policyMap></destinationPolicy></broker>',
      ),
    })
    expect(d.code).toBe('CONFIG_INVALID')
    expect(d.message).toContain(':3: <policyEntry> attribute "queue"')
    const j = fail({
      file: write(
        'json',
        JSON.stringify({
          destinationPolicy: { policyMap: { policyEntries: [{ queue: '>', producerFlowControl: false }] } },
        }),
      ),
    })
    expect(j.code).toBe('CONFIG_UNSUPPORTED')
    expect(j.message).toContain('destinationPolicy.policyMap.policyEntries[0].producerFlowControl: found false')
    const k = fail({
      file: write(
        'json',
        JSON.stringify({
          destinationPolicy: { policyMap: { policyEntries: [{ queue: '>', slowConsumerStrategy: {} }] } },
        }),
      ),
    })
    expect(k.code).toBe('CONFIG_UNSUPPORTED')
    expect(k.message).toContain('destinationPolicy.policyMap.policyEntries[0]')
  })

  test('the example activemq.xml and broker.json load their destination policies', () => {
    for (const f of ['examples/activemq.xml', 'examples/broker.json']) {
      const c = loadConfig({ cwd: dir, file: path.join(repo, f) })
      expect([f, c.destinationPolicy?.entries.map((e) => `${e.kind}:${e.pattern}`)]).toEqual([
        f,
        ['topic:>', 'queue:>'],
      ])
      expect(policyEntryFor(c.destinationPolicy, 'queue', 'orders')?.memoryLimit).toBe(64 * 1024 * 1024)
    }
  })
})

describe('STOMP connector URI options', () => {
  const uri = (q: string): LoadConfigOptions => ({ overrides: { connectors: [`stomp://127.0.0.1:0?${q}`] } })

  test('loadConfig reads connectAttemptTimeout, defaultHeartBeat and hbGracePeriodMultiplier', () => {
    const c = loadConfig({
      cwd: dir,
      ...uri(
        'transport.connectAttemptTimeout=2500&transport.defaultHeartBeat=%205000%2C0&transport.hbGracePeriodMultiplier=2.5',
      ),
    })
    expect(c.connectors[0]).toMatchObject({
      connectAttemptTimeout: 2500,
      defaultHeartBeat: '5000,0',
      hbGracePeriodMultiplier: 2.5,
    })
    const alias = loadConfig({
      cwd: dir,
      ...uri('wireFormat.connectionAttemptTimeout=4000&transport.hbGracePeriodMultiplier=1'),
    })
    expect(alias.connectors[0]).toMatchObject({
      connectAttemptTimeout: 4000,
      defaultHeartBeat: '0,0',
      hbGracePeriodMultiplier: 1,
    })
  })

  test('loadConfig rejects bad connector option values, naming the option and what was expected', () => {
    const cases: [string, string, string][] = [
      ['transport.connectAttemptTimeout=0', 'CONFIG_UNSUPPORTED', 'turning the CONNECT timeout off is not supported'],
      [
        'transport.connectAttemptTimeout=soon',
        'CONFIG_INVALID',
        'transport.connectAttemptTimeout="soon": expected a whole number from 1',
      ],
      [
        'transport.connectAttemptTimeout=1&wireFormat.connectionAttemptTimeout=2',
        'CONFIG_INVALID',
        'expected only one of them',
      ],
      ['transport.defaultHeartBeat=5000', 'CONFIG_INVALID', 'transport.defaultHeartBeat="5000": expected "<cx>,<cy>"'],
      ['transport.hbGracePeriodMultiplier=0.5', 'CONFIG_INVALID', 'expected a number from 1.0 (strict)'],
      ['transport.hbGracePeriodMultiplier=abc', 'CONFIG_INVALID', 'hbGracePeriodMultiplier="abc"'],
      ['transport.defaultHeartbeat=1,1', 'CONFIG_INVALID', 'did you mean "transport.defaultHeartBeat"'],
      ['transport.useInactivityMonitor=false', 'CONFIG_UNSUPPORTED', 'transport.useInactivityMonitor'],
    ]
    for (const [q, code, text] of cases) {
      const e = fail(uri(q))
      expect([q, e.code]).toEqual([q, code])
      expect(e.message).toContain('--connector')
      expect(e.message).toContain(text)
    }
  })
})
