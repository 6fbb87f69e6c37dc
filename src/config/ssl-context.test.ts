/**
 * `<sslContext>` and TLS connector options as config: parsed from XML and JSON the way ActiveMQ users write them,
 * checked against each other (a +ssl connector needs a key, client auth needs trust), ActiveMQ settings sfbroker
 * does not have refused by name, and passwords never printed. Files are only named here (tls-context.ts reads
 * them), so these tests write configs, not certificates.
 */
import { describe, expect, test } from 'bun:test'
import fs from 'node:fs'
import path from 'node:path'
import util from 'node:util'
import { BrokerError } from '../lib/errors.ts'
import { loadConfig, parseConnectorUri } from './index.ts'
import { tempDir } from '../testing/temp-dir.ts'

const dir = tempDir('sfb-sslcfg-')
let n = 0
function load(ext: 'xml' | 'json', text: string) {
  const file = path.join(dir, `c${n++}.${ext}`)
  fs.writeFileSync(file, text)
  return loadConfig({ cwd: dir, file })
}
function fails(ext: 'xml' | 'json', text: string): BrokerError {
  try {
    load(ext, text)
  } catch (e) {
    return e as BrokerError
  }
  throw new Error('expected an error')
}
const SSL = `<sslContext><sslContext keyStore="broker.p12" keyStorePassword="s3cret-pw" trustStore="trust.p12" trustStorePassword="t0p-pw"/></sslContext>`
const xml = (body: string, uri = 'stomp+ssl://0.0.0.0:61614'): string =>
  `<beans xmlns="http://www.springframework.org/schema/beans"><broker xmlns="http://activemq.apache.org/schema/core" brokerName="b">${body}<transportConnectors><transportConnector name="ssl" uri="${uri.replace(/&/g, '&amp;')}"/></transportConnectors></broker></beans>`

describe('sslContext config', () => {
  test('sslContext reads ActiveMQ XML unchanged: stores resolved against cwd, passwords kept as secrets', () => {
    const c = load('xml', xml(SSL))
    expect(c.sslContext?.keyStore).toBe(path.join(dir, 'broker.p12'))
    expect(c.sslContext?.trustStore).toBe(path.join(dir, 'trust.p12'))
    expect(c.sslContext?.keyStorePassword?.reveal()).toBe('s3cret-pw')
    expect(c.connectors[0].tls).toEqual({
      needClientAuth: false,
      wantClientAuth: false,
      enabledProtocols: ['TLSv1.2', 'TLSv1.3'],
      enabledCipherSuites: null,
    })
    const shown = JSON.stringify(c) + util.inspect(c, { depth: 10 }) + String(c.sslContext?.trustStorePassword)
    expect(shown).not.toContain('s3cret-pw')
    expect(shown).not.toContain('t0p-pw')
    expect(shown).toContain('[redacted]')
  })

  test('sslContext takes Spring file: resources as paths and refuses classpath: ones', () => {
    const c = load(
      'xml',
      xml(
        `<sslContext><sslContext keyStore="file:/etc/amq/broker.p12" trustStore="file:conf/trust.p12"/></sslContext>`,
      ),
    )
    expect(c.sslContext?.keyStore).toBe('/etc/amq/broker.p12')
    expect(c.sslContext?.trustStore).toBe(path.join(dir, 'conf/trust.p12'))
    const e = fails('xml', xml(`<sslContext><sslContext keyStore="classpath:broker.p12"/></sslContext>`))
    expect(e.code).toBe('CONFIG_UNSUPPORTED')
    expect(e.message).toMatch(/:1: <sslContext> attribute "keyStore": found "classpath:broker.p12"/)
  })

  test('sslContext in JSON with the PEM extension', () => {
    const c = load(
      'json',
      JSON.stringify({
        sslContext: { keyFile: '/k.pem', certFile: '/c.pem', caFile: '/ca.pem' },
        transportConnectors: [{ name: 's', uri: 'stomp+nio+ssl://127.0.0.1:0?transport.needClientAuth=true' }],
      }),
    )
    expect(c.sslContext).toMatchObject({ keyFile: '/k.pem', certFile: '/c.pem', caFile: '/ca.pem', keyStore: null })
    expect(c.connectors[0].tls?.needClientAuth).toBe(true)
  })

  test('sslContext: a TLS connector without <sslContext> is CONFIG_INVALID naming file:line', () => {
    const e = fails('xml', xml(''))
    expect(e.code).toBe('CONFIG_INVALID')
    expect(e.message).toMatch(/c\d+\.xml:1: .*no <sslContext>/)
  })

  test('sslContext: needClientAuth without a trust store, keyStore with keyFile, keyFile alone are refused', () => {
    expect(
      fails(
        'xml',
        xml(
          `<sslContext><sslContext keyStore="k.p12"/></sslContext>`,
          'stomp+ssl://0.0.0.0:61614?transport.needClientAuth=true',
        ),
      ).message,
    ).toMatch(/no trustStore or caFile/)
    expect(
      fails('xml', xml(`<sslContext><sslContext keyStore="k.p12" keyFile="k.pem" certFile="c.pem"/></sslContext>`))
        .message,
    ).toMatch(/both keyStore and keyFile/)
    expect(fails('xml', xml(`<sslContext><sslContext keyFile="k.pem"/></sslContext>`)).message).toMatch(
      /certFile is missing/,
    )
  })

  test('sslContext: ActiveMQ attributes sfbroker lacks are CONFIG_UNSUPPORTED by name; typos get a suggestion', () => {
    const e = fails(
      'xml',
      xml(`<sslContext><sslContext keyStore="k.p12" secureRandomAlgorithm="SHA1PRNG"/></sslContext>`),
    )
    expect(e.code).toBe('CONFIG_UNSUPPORTED')
    expect(e.message).toContain('secureRandomAlgorithm')
    expect(fails('xml', xml(`<sslContext><sslContext keyStor="k.p12"/></sslContext>`)).message).toContain(
      'did you mean "keyStore"',
    )
  })

  test('sslContext: a bad password value never appears in an error', () => {
    const e = fails(
      'xml',
      xml(`<sslContext><sslContext keyStore="k.p12" keyStorePassword="hunter2" bogus="1"/></sslContext>`),
    )
    expect(e.message).not.toContain('hunter2')
  })

  test('sslContext: admin ssl="true" shares <sslContext>, or has its own key; without a key it is refused', () => {
    const c = load('xml', xml(`${SSL}<admin listen="127.0.0.1:0" ssl="true" groups="admins,ops"/>`))
    expect(c.admin?.tls).toBe(c.sslContext!)
    expect(c.admin?.groups).toEqual(['admins', 'ops'])
    const own = load('xml', xml(`${SSL}<admin listen="127.0.0.1:0" ssl="true" keyFile="a.key" certFile="a.pem"/>`))
    expect(own.admin?.tls?.keyFile).toBe(path.join(dir, 'a.key'))
    expect(fails('xml', `<broker><admin listen="127.0.0.1:0" ssl="true"/></broker>`).message).toMatch(
      /ssl="true" but there is no key/,
    )
    expect(load('xml', `<broker><admin listen="127.0.0.1:0"/></broker>`).admin?.groups).toBeUndefined() // AdminServer then uses DEFAULTS.adminGroups
  })
})

test('sslContext: examples/secured XML and its JSON twin give the same TLS settings', () => {
  const root = path.resolve(import.meta.dir, '..', '..')
  const x = loadConfig({ cwd: dir, file: path.join(root, 'examples/secured/activemq.xml') })
  const j = loadConfig({ cwd: dir, file: path.join(root, 'examples/secured/broker.json') })
  const tlsOf = (c: typeof x) => ({
    ssl: JSON.parse(JSON.stringify(c.sslContext, (_k, v) => (v && typeof v.reveal === 'function' ? v.reveal() : v))),
    connectors: c.connectors.map((k) => [k.uri, k.tls ?? null]),
  })
  expect(tlsOf(x)).toEqual(tlsOf(j))
  expect(x.sslContext?.keyStore).toBe('/etc/sfbroker/tls/broker.p12')
  expect(x.connectors.find((k) => k.tls)?.tls?.wantClientAuth).toBe(true)
})

describe('TLS connector URI', () => {
  const parse = (uri: string) => parseConnectorUri(uri, undefined, 'test')
  const err = (uri: string): BrokerError => {
    try {
      parse(uri)
    } catch (e) {
      return e as BrokerError
    }
    throw new Error('expected an error')
  }

  test('TLS connector URI: stomp+ssl and stomp+nio+ssl, default port 61614 as ActiveMQ', () => {
    expect(parse('stomp+ssl://0.0.0.0').port).toBe(61614)
    expect(parse('stomp+nio+ssl://[::1]:7000').tls).not.toBeNull()
    expect(parse('stomp://0.0.0.0:61613').tls).toBeUndefined()
    expect(err('stomp://0.0.0.0').message).toMatch(/host:port/)
  })

  test('TLS connector URI: ActiveMQ option names map to the config', () => {
    const c = parse(
      'stomp+ssl://h:1?transport.needClientAuth=true&transport.wantClientAuth=false&transport.enabledProtocols=TLSv1.3&transport.enabledCipherSuites=TLS_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
    )
    expect(c.tls).toEqual({
      needClientAuth: true,
      wantClientAuth: false,
      enabledProtocols: ['TLSv1.3'],
      enabledCipherSuites: ['TLS_AES_128_GCM_SHA256', 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256'],
    })
    expect(
      parse('stomp+ssl://h:1?transport.enabledProtocols=TLSv1.3,SSLv2Hello,tlsv1.2').tls?.enabledProtocols,
    ).toEqual(['TLSv1.2', 'TLSv1.3'])
  })

  test('TLS connector URI: bad TLS options are refused with the place and the expectation', () => {
    expect(err('stomp://h:1?transport.needClientAuth=true').message).toMatch(/TLS connectors only/)
    expect(err('stomp+ssl://h:1?transport.needClientAuth=yes').message).toMatch(/expected true or false/)
    expect(err('stomp+ssl://h:1?transport.enabledProtocols=SSLv3').message).toMatch(/SSLv3.*not supported/)
    expect(err('stomp+ssl://h:1?transport.enabledProtocols=TLSv1.1,TLSv1.3').message).toMatch(
      /contiguous.*TLSv1.2 is missing/,
    )
    expect(err('stomp+ssl://h:1?needClientAuth=true').message).toMatch(/transport\.needClientAuth/)
    expect(err('stomp+ssl://h:1?transport.enabledCipherSuites=a b').message).toMatch(/not a cipher suite name/)
  })
})
