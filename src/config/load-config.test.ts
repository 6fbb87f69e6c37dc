/**
 * Goal: loadConfig turns XML, JSON, flags and defaults into one complete BrokerConfig, and every kind of bad
 * input fails with a stable code and a message naming place (file:line, JSON path or flag), value and expectation.
 * Method: small config files written to a temp dir; assertions on fields and on error codes plus the place.
 */
import { describe, expect, test } from 'bun:test'
import fs from 'node:fs'
import path from 'node:path'
import { configScratch } from '../testing/config-scratch.ts'
import { loadConfig } from './index.ts'

const { dir, write, fail } = configScratch('sfbroker-config-')
const repo = path.resolve(import.meta.dir, '../..')

function xml(inner: string, brokerAttrs = ''): string {
  return `<broker xmlns="http://activemq.apache.org/schema/core"${brokerAttrs}>\n${inner}\n</broker>\n`
}

describe('loadConfig defaults', () => {
  test('loadConfig with no file fills every field with the embedded default', () => {
    const c = loadConfig({ cwd: dir })
    expect(c.source).toBe('embedded default')
    expect(c.brokerName).toBe('localhost')
    expect(c.dataDirectory).toBe(path.join(dir, 'data'))
    expect(c.persistence.directory).toBe(path.join(dir, 'data'))
    expect(c.persistence.adapter).toBe('kahaDB')
    expect(c.persistence.journalMaxFileLength).toBe(32 * 1024 * 1024)
    expect(c.persistence.journalDiskSyncStrategy).toBe('always')
    expect(c.schedulerDirectory).toBe(path.join(dir, 'data', 'scheduler'))
    expect(c.schedulerSupport).toBe(false)
    expect(c.persistent).toBe(true)
    expect(c.lock).toEqual({
      useLock: true,
      type: 'flock',
      lockKeepAlivePeriod: 1000,
      keepAliveTimeout: 1000,
      lockAcquireSleepInterval: 1000,
      blockingWait: true,
      failIfLocked: false,
      restartAllowed: true,
      failback: false,
      eventLoopStallMax: 10000,
    })
    expect(c.connectors).toEqual([
      {
        name: 'stomp',
        uri: 'stomp://127.0.0.1:61613',
        transport: 'tcp',
        protocol: 'stomp',
        host: '127.0.0.1',
        port: 61613,
        maximumConnections: 1000,
        maxFrameSize: 100 * 1024 * 1024,
        connectAttemptTimeout: 30000,
        defaultHeartBeat: '0,0',
        hbGracePeriodMultiplier: 1.5,
        maximumConnectionsPerAddress: 1000,
        maximumPendingConnects: 250,
        maximumPendingConnectsPerAddress: 125,
      },
    ])
    expect(c.destinationPolicy).toEqual({ entries: [], defaultEntry: null })
    expect(c.destinations).toEqual({
      maxDestinations: 10_000,
      schedulePeriodForDestinationPurge: 0,
      maxPurgedDestinationsPerSweep: 0,
    })
    expect(c.limits.memoryLimit).toBe(256 * 1024 * 1024)
    expect(c.admin).toBeNull()
    expect(c.nodeId).toBeNull()
  })
})

describe('loadConfig XML', () => {
  test('loadConfig reads the seed page XML (beans root, namespaces, kahaDB directory, stomp connector)', () => {
    const c = loadConfig({ cwd: dir, file: path.join(repo, 'examples/activemq.xml') })
    expect(c.persistence.adapter).toBe('kahaDB')
    expect(c.persistence.directory).toBe('/sharedFileSystem/sharedBrokerData')
    expect(c.connectors[0]).toMatchObject({
      name: 'stomp',
      host: '0.0.0.0',
      port: 61613,
      maximumConnections: 1000,
      maxFrameSize: 104857600,
    })
    expect(c.limits.memoryLimit).toBe(256 * 1024 * 1024)
    expect(c.lock.lockAcquireSleepInterval).toBe(1000)
  })

  test('loadConfig reads every supported attribute with sizes, booleans and extensions', () => {
    const file = write(
      'xml',
      xml(
        `  <persistenceAdapter>
    <levelDB directory="store" journalMaxFileLength="8 mb" journalDiskSyncStrategy="PERIODIC" journalDiskSyncInterval="250"
             checkpointInterval="7000" cleanupInterval="9000" lockKeepAlivePeriod="500" useLock="true" failIfLocked="false"
             lockType="fcntl" keepAliveTimeout="1500" blockingWait="false" failback="true" eventLoopStallMax="0">
      <locker><shared-file-locker lockAcquireSleepInterval="300"/></locker>
    </levelDB>
  </persistenceAdapter>
  <transportConnectors>
    <transportConnector name="a" uri="stomp://127.0.0.1:0"/>
    <transportConnector name="b" uri="stomp+nio://[::1]:61614?wireFormat.maxFrameSize=1mb"/>
  </transportConnectors>
  <systemUsage><systemUsage><memoryUsage><memoryUsage limit="64 mb"/></memoryUsage></systemUsage></systemUsage>
  <admin listen="127.0.0.1:8161"/>`,
        ' brokerName="b1" dataDirectory="d" schedulerSupport="TRUE" persistent="true" restartAllowed="false" useJmx="false" nodeId="n1"',
      ),
    )
    const c = loadConfig({ cwd: dir, file })
    expect(c.source).toBe(file)
    expect(c.brokerName).toBe('b1')
    expect(c.dataDirectory).toBe(path.join(dir, 'd'))
    expect(c.schedulerSupport).toBe(true)
    expect(c.schedulerDirectory).toBe(path.join(dir, 'd', 'scheduler'))
    expect(c.persistence).toEqual({
      adapter: 'levelDB',
      directory: path.join(dir, 'store'),
      journalMaxFileLength: 8 * 1024 * 1024,
      journalDiskSyncStrategy: 'periodic',
      journalDiskSyncInterval: 250,
      checkpointInterval: 7000,
      cleanupInterval: 9000,
    })
    expect(c.lock).toEqual({
      useLock: true,
      type: 'fcntl',
      lockKeepAlivePeriod: 500,
      keepAliveTimeout: 1500,
      lockAcquireSleepInterval: 300,
      blockingWait: false,
      failIfLocked: false,
      restartAllowed: false,
      failback: true,
      eventLoopStallMax: 0,
    })
    expect(c.connectors.map((k) => [k.name, k.host, k.port, k.maxFrameSize])).toEqual([
      ['a', '127.0.0.1', 0, 100 * 1024 * 1024],
      ['b', '::1', 61614, 1024 * 1024],
    ])
    expect(c.limits.memoryLimit).toBe(64 * 1024 * 1024)
    expect(c.admin).toEqual({ host: '127.0.0.1', port: 8161, metricsDestinationsMax: 100 })
    expect(c.nodeId).toBe('n1')
  })

  test('loadConfig maps amqPersistenceAdapter to the amq adapter and a bare <broker> to defaults', () => {
    expect(
      loadConfig({
        cwd: dir,
        file: write('xml', xml('<persistenceAdapter><amqPersistenceAdapter/></persistenceAdapter>')),
      }).persistence.adapter,
    ).toBe('amq')
    expect(loadConfig({ cwd: dir, file: write('xml', '<broker/>') }).connectors[0].port).toBe(61613)
  })

  test('loadConfig reads the repository examples', () => {
    for (const f of [
      'examples/activemq.xml',
      'examples/broker.json',
      'examples/two-hosts/host-a.xml',
      'examples/two-hosts/host-b.xml',
    ]) {
      const file = path.join(repo, f)
      if (!fs.existsSync(file)) continue
      expect(loadConfig({ cwd: dir, file }).persistence.adapter).toBe('kahaDB')
    }
  })

  test('loadConfig rejects a misspelt attribute naming file, line and a suggestion', () => {
    const file = write('xml', xml('  <persistenceAdapter>\n    <kahaDB directroy="/x"/>\n  </persistenceAdapter>'))
    const e = fail({ file })
    expect(e.code).toBe('CONFIG_INVALID')
    expect(e.message).toContain(`${file}:3: <kahaDB> has unknown attribute "directroy" (did you mean "directory"?)`)
  })

  test('loadConfig names the line of an attribute on a multi-line tag', () => {
    const file = write('xml', '<broker\n  brokerName="x"\n  persitent="true"/>')
    const e = fail({ file })
    expect(e.code).toBe('CONFIG_INVALID')
    expect(e.message).toContain(':3: <broker> has unknown attribute "persitent" (did you mean "persistent"?)')
  })

  test('loadConfig rejects an unknown element with a suggestion', () => {
    const e = fail({ file: write('xml', xml('<transportConectors/>')) })
    expect(e.code).toBe('CONFIG_INVALID')
    expect(e.message).toContain(
      ':2: <broker> has unknown element <transportConectors> (did you mean "transportConnectors"?)',
    )
  })

  test('loadConfig says which known ActiveMQ elements and attributes are unsupported', () => {
    const cases: [string, string][] = [
      [
        xml(
          '<destinationPolicy><policyMap><policyEntries><policyEntry topic=">"><pendingMessageLimitStrategy/></policyEntry></policyEntries></policyMap></destinationPolicy>',
        ),
        '<pendingMessageLimitStrategy>',
      ],
      [xml('<plugins><loggingBrokerPlugin/></plugins>'), '<loggingBrokerPlugin>'],
      [
        xml('<plugins><authorizationPlugin><map><cachedLDAPAuthorizationMap/></map></authorizationPlugin></plugins>'),
        '<cachedLDAPAuthorizationMap>',
      ],
      [xml('<networkConnectors/>'), '<networkConnectors>'],
      [xml('<managementContext/>'), '<managementContext>'],
      [xml('<persistenceAdapter><jdbcPersistenceAdapter/></persistenceAdapter>'), '<jdbcPersistenceAdapter>'],
      [xml('<persistenceAdapter><kahaDB indexCacheSize="10000"/></persistenceAdapter>'), '"indexCacheSize"'],
      [
        xml(
          '<systemUsage><systemUsage><storeUsage><storeUsage limit="1 gb"/></storeUsage></systemUsage></systemUsage>',
        ),
        '<storeUsage>',
      ],
      [xml('', ' useJmx="true"'), 'JMX'],
      [xml('', ' dataDirectory="${activemq.data}"'), 'placeholder'],
      [`<beans><bean class="x"/><broker/></beans>`, '<bean>'],
    ]
    for (const [text, named] of cases) {
      const e = fail({ file: write('xml', text) })
      expect(`${e.code} ${e.message}`).toContain('CONFIG_UNSUPPORTED')
      expect(e.message).toContain(named)
    }
  })

  test('loadConfig rejects bad values naming the attribute, the value and the expectation', () => {
    const cases: [string, string[]][] = [
      [
        xml('<persistenceAdapter><kahaDB journalMaxFileLength="32 parsecs"/></persistenceAdapter>'),
        ['<kahaDB> attribute "journalMaxFileLength"', '"32 parsecs"', 'a size'],
      ],
      [
        xml('<persistenceAdapter><kahaDB lockKeepAlivePeriod="-1"/></persistenceAdapter>'),
        ['"lockKeepAlivePeriod"', '"-1"', 'milliseconds'],
      ],
      [
        xml('<persistenceAdapter><kahaDB lockKeepAlivePeriod="99999999999"/></persistenceAdapter>'),
        ['"lockKeepAlivePeriod"', '2147483647'],
      ],
      [
        xml('<persistenceAdapter><kahaDB useLock="yes"/></persistenceAdapter>'),
        ['"useLock"', '"yes"', 'true or false'],
      ],
      [
        xml('<persistenceAdapter><kahaDB journalDiskSyncStrategy="sometimes"/></persistenceAdapter>'),
        ['"sometimes"', 'always, periodic, never'],
      ],
      [xml('<persistenceAdapter><kahaDB lockType="lockf"/></persistenceAdapter>'), ['"lockf"', 'flock, fcntl']],
      [
        xml(
          '<systemUsage><systemUsage><memoryUsage><memoryUsage limit="0"/></memoryUsage></systemUsage></systemUsage>',
        ),
        ['"limit"', 'a size > 0'],
      ],
      [xml('<admin listen="127.0.0.1:70000"/>'), ['<admin> attribute "listen"', '70000', 'host:port']],
      [xml('<persistenceAdapter/>'), ['<persistenceAdapter>', 'exactly one of']],
      [xml('<persistenceAdapter><kahaDB/><levelDB/></persistenceAdapter>'), ['<kahaDB> and <levelDB>', 'exactly one']],
      [
        xml(
          '<persistenceAdapter><kahaDB lockAcquireSleepInterval="1"><locker><shared-file-locker lockAcquireSleepInterval="2"/></locker></kahaDB></persistenceAdapter>',
        ),
        ['lockAcquireSleepInterval', 'one value'],
      ],
      [xml('<transportConnectors/>'), ['at least one']],
      [
        xml('<transportConnectors><transportConnector name="x"/></transportConnectors>'),
        ['attribute "uri" is missing'],
      ],
      [
        xml('<persistenceAdapter><kahaDB><directory>/x</directory></kahaDB></persistenceAdapter>'),
        ['<directory>', '<kahaDB directory="/x">'],
      ],
      [xml('hello'), ['contains text "hello"']],
      ['<activemq/>', ['root element is <activemq>', '<broker> or <beans>']],
      ['<beans/>', ['0 <broker> elements']],
    ]
    for (const [text, parts] of cases) {
      const e = fail({ file: write('xml', text) })
      expect(`${e.code}: ${e.message}`).toStartWith('CONFIG_INVALID: ')
      for (const p of parts) expect(e.message).toContain(p)
      expect(e.message).toMatch(/c\d+\.xml:\d+: /)
    }
  })

  test('loadConfig reports malformed XML with line and column', () => {
    const e = fail({ file: write('xml', '<broker>\n  <persistenceAdapter>\n</broker>') })
    expect(e.code).toBe('CONFIG_INVALID')
    expect(e.message).toMatch(/c\d+\.xml:3:\d+: /)
  })

  test('loadConfig reports the first problem by line and counts the rest', () => {
    const e = fail({
      file: write(
        'xml',
        '<broker\n  persistent="nope"\n  brokerNam="x">\n  <persistenceAdapter><kahaDB useLock="maybe"/></persistenceAdapter>\n</broker>',
      ),
    })
    expect(e.message).toContain(':2: <broker> attribute "persistent"')
    expect(e.message).toContain('and 2 more problems')
    expect((e.details?.more as string[])[0]).toContain(':3: <broker> has unknown attribute "brokerNam"')
  })
})

describe('loadConfig connector URIs', () => {
  const bad: [string, 'CONFIG_INVALID' | 'CONFIG_UNSUPPORTED', string][] = [
    ['stmp://0.0.0.0:61613', 'CONFIG_INVALID', 'did you mean "stomp"'],
    ['amqp://0.0.0.0:5672', 'CONFIG_UNSUPPORTED', 'scheme "amqp" is not supported'],
    ['stomp+ssl://0.0.0.0:61614', 'CONFIG_INVALID', 'no <sslContext>'],
    ['stomp://0.0.0.0', 'CONFIG_INVALID', 'host:port'],
    ['stomp://0.0.0.0:65536', 'CONFIG_INVALID', 'out of range'],
    ['stomp://0.0.0.0:61613/path', 'CONFIG_INVALID', 'no path'],
    ['stomp://0.0.0.0:61613?maximumConnection=5', 'CONFIG_INVALID', 'did you mean "maximumConnections"'],
    ['stomp://0.0.0.0:61613?maximumConnections=0', 'CONFIG_INVALID', 'maximumConnections="0"'],
    ['stomp://0.0.0.0:61613?wireFormat.maxFrameSize=big', 'CONFIG_INVALID', 'maxFrameSize="big"'],
    ['stomp://0.0.0.0:61613?transport.closeAsync=false', 'CONFIG_UNSUPPORTED', 'transport.closeAsync'],
    ['stomp://0.0.0.0:61613?maximumConnections=1&maximumConnections=2', 'CONFIG_INVALID', 'twice'],
    ['61613', 'CONFIG_INVALID', 'expected a URI'],
  ]
  for (const [uri, code, part] of bad) {
    test(`loadConfig rejects connector ${uri}`, () => {
      const file = write(
        'xml',
        xml(
          `<transportConnectors>\n<transportConnector name="s" uri="${uri.replace(/&/g, '&amp;')}"/>\n</transportConnectors>`,
        ),
      )
      const e = fail({ file })
      expect(e.code).toBe(code)
      expect(e.message).toContain(`:3: <transportConnector> attribute "uri": found "${uri}"`)
      expect(e.message).toContain(part)
    })
  }

  test('loadConfig rejects two connectors on one address and duplicate names', () => {
    const same = fail({
      file: write(
        'xml',
        xml(
          '<transportConnectors><transportConnector name="a" uri="stomp://h:1"/><transportConnector name="b" uri="stomp://h:1"/></transportConnectors>',
        ),
      ),
    })
    expect(same.message).toContain('h:1 is also the address')
    const dup = fail({
      file: write(
        'xml',
        xml(
          '<transportConnectors><transportConnector name="a" uri="stomp://h:1"/><transportConnector name="a" uri="stomp://h:2"/></transportConnectors>',
        ),
      ),
    })
    expect(dup.message).toContain('name "a"')
  })
})

describe('loadConfig JSON', () => {
  test('loadConfig reads the JSON twin of the seed XML to the same config', () => {
    const fromXml = loadConfig({ cwd: dir, file: path.join(repo, 'examples/activemq.xml') })
    const fromJson = loadConfig({ cwd: dir, file: path.join(repo, 'examples/broker.json') })
    expect({ ...fromJson, source: '' }).toEqual({ ...fromXml, source: '' })
  })

  test('loadConfig accepts native JSON numbers, booleans and size strings', () => {
    const c = loadConfig({
      cwd: dir,
      file: write(
        'json',
        JSON.stringify({
          persistent: false,
          persistenceAdapter: { kahaDB: { journalMaxFileLength: 1048576, checkpointInterval: 0 } },
          systemUsage: { memoryUsage: { limit: '1 gb' } },
        }),
      ),
    })
    expect(c.persistent).toBe(false)
    expect(c.persistence.journalMaxFileLength).toBe(1048576)
    expect(c.persistence.checkpointInterval).toBe(0)
    expect(c.limits.memoryLimit).toBe(1024 ** 3)
  })

  test('loadConfig names the JSON path of a bad value', () => {
    const file = write('json', JSON.stringify({ transportConnectors: [{ name: 's', uri: 'stmp://:61613' }] }))
    const e = fail({ file })
    expect(e.code).toBe('CONFIG_INVALID')
    expect(e.message).toContain(`${file}: transportConnectors[0].uri: found "stmp://:61613"`)
    const e2 = fail({
      file: write('json', JSON.stringify({ persistenceAdapter: { kahaDB: { lockKeepAlivePeriod: 1.5 } } })),
    })
    expect(e2.message).toContain(
      'persistenceAdapter.kahaDB.lockKeepAlivePeriod: found 1.5, expected a whole number of milliseconds',
    )
    const e3 = fail({ file: write('json', JSON.stringify({ transportConnectors: { uri: 'x' } })) })
    expect(e3.message).toContain('transportConnectors: found {"uri":"x"}, expected a list')
  })

  test('loadConfig rejects unknown and unsupported JSON keys', () => {
    const e = fail({ file: write('json', JSON.stringify({ persistenceAdapter: { kahaDB: { directroy: '/x' } } })) })
    expect(e.code).toBe('CONFIG_INVALID')
    expect(e.message).toContain('persistenceAdapter.kahaDB has unknown key "directroy" (did you mean "directory"?)')
    const u = fail({ file: write('json', JSON.stringify({ plugins: { loggingBrokerPlugin: {} } })) })
    expect(u.code).toBe('CONFIG_UNSUPPORTED')
    expect(u.message).toContain('"loggingBrokerPlugin"')
  })

  test('loadConfig reports JSON syntax errors and a non-object top level', () => {
    const e = fail({ file: write('json', '{\n  "brokerName": "x",\n}') })
    expect(e.code).toBe('CONFIG_INVALID')
    expect(e.message).toContain('invalid JSON')
    expect(fail({ file: write('json', '[]') }).message).toContain('top level is an array')
  })
})

describe('loadConfig files and flags', () => {
  test('loadConfig fails with CONFIG_NOT_FOUND for a missing file and CONFIG_INVALID for an unknown format', () => {
    expect(fail({ file: 'nope.xml' }).code).toBe('CONFIG_NOT_FOUND')
    expect(fail({ file: write('conf', 'brokerName=x') }).message).toContain('neither .xml nor .json')
    expect(loadConfig({ cwd: dir, file: write('conf', '<broker brokerName="sniffed"/>') }).brokerName).toBe('sniffed')
  })

  test('loadConfig applies flags over the file', () => {
    const file = write(
      'xml',
      xml(
        '<transportConnectors><transportConnector name="s" uri="stomp://0.0.0.0:61613"/></transportConnectors>',
        ' brokerName="file"',
      ),
    )
    const c = loadConfig({
      cwd: dir,
      file,
      overrides: {
        data: 'flagdata',
        connectors: ['stomp://127.0.0.1:0', 'stomp://127.0.0.1:5'],
        brokerName: 'flag',
        admin: '127.0.0.1:0',
        lockType: 'fcntl',
      },
    })
    expect(c.brokerName).toBe('flag')
    expect(c.dataDirectory).toBe(path.join(dir, 'flagdata'))
    expect(c.persistence.directory).toBe(path.join(dir, 'flagdata'))
    expect(c.connectors.map((k) => [k.name, k.port])).toEqual([
      ['stomp', 0],
      ['stomp-2', 5],
    ])
    expect(c.admin).toEqual({ host: '127.0.0.1', port: 0, metricsDestinationsMax: 100 })
    expect(c.lock.type).toBe('fcntl')
  })

  test('loadConfig names the flag of a bad override', () => {
    const e = fail({ overrides: { connectors: ['amqp://0.0.0.0:1'] } })
    expect(e.code).toBe('CONFIG_UNSUPPORTED')
    expect(e.message).toStartWith('--connector: found "amqp://0.0.0.0:1"')
    expect(fail({ overrides: { admin: 'nowhere' } }).message).toStartWith('--admin: found "nowhere"')
    expect(fail({ overrides: { lockType: 'lockf' } }).message).toStartWith('--lock-type: found "lockf"')
    expect(fail({ overrides: { brokerName: ' ' } }).message).toStartWith('--broker-name: found " "')
  })
})
