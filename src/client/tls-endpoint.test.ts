/**
 * The client side of TLS: `ssl://` and `stomp+ssl://` broker URIs with their options, and what the connection
 * checks, as ActiveMQ's client does: the chain against the CA, and the broker's name against the URI host unless
 * verifyHostName=false. Method: a small TLS server (src/net's TlsTerminator) answering CONNECT with CONNECTED,
 * with a certificate made at test time for a name that is not the URI's host.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import type { BrokerError } from '../lib/errors.ts'
import { systemClock } from '../lib/clock.ts'
import { TlsContextSource } from '../net/index.ts'
import { TlsTerminator } from '../net/index.ts'
import { makeTestPki, type TestPki } from '../testing/tls-certs.ts'
import { parseBrokerUri } from './failover-uri.ts'
import { BrokerLink } from './broker-link.ts'
import { makeTempDir, type TempDir } from '../testing/temp-dir.ts'

const uriError = (uri: string): string => {
  try {
    parseBrokerUri(uri)
  } catch (e) {
    return `${(e as BrokerError).code}: ${(e as Error).message}`
  }
  return 'no error'
}

describe('ssl:// broker URIs', () => {
  test('ssl broker URI: ssl:// and stomp+ssl:// default to port 61614 and verify host names', () => {
    const u = parseBrokerUri('failover:(ssl://a,stomp+ssl://b:7000?caFile=/ca.pem&verifyHostName=false,tcp://c)')
    expect(u.endpoints.map((e) => e.uri)).toEqual(['ssl://a:61614', 'ssl://b:7000', 'tcp://c:61613'])
    expect(u.endpoints[0]!.tls).toEqual({ verifyHostName: true })
    expect(u.endpoints[1]!.tls).toEqual({ caFile: '/ca.pem', verifyHostName: false })
    expect(u.endpoints[2]!.tls).toBeNull()
  })

  test('ssl broker URI: nested TLS options reach the ssl:// brokers of a mixed list only', () => {
    const u = parseBrokerUri('failover:(ssl://a:1,tcp://b:2)?nested.caFile=/ca.pem&nested.socket.verifyHostName=false')
    expect(u.endpoints[0]!.tls).toEqual({ caFile: '/ca.pem', verifyHostName: false })
    expect(u.endpoints[1]!.tls).toBeNull()
  })

  test('ssl broker URI: TLS options on tcp://, a lone certFile, a bad boolean are CLIENT_URI_INVALID', () => {
    expect(uriError('tcp://a:1?caFile=/x')).toMatch(/^CLIENT_URI_INVALID: .*ssl:\/\/ and stomp\+ssl:\/\/ only/)
    expect(uriError('ssl://a:1?certFile=/c.pem')).toMatch(/certFile without keyFile/)
    expect(uriError('ssl://a:1?verifyHostName=maybe')).toMatch(/expected true or false/)
    expect(uriError('wss://a:1')).toMatch(/not supported/)
  })
})

let scratch: TempDir | undefined
let dir: string
let pki: TestPki
let server: net.Server
let port = 0
let terminator: TlsTerminator

beforeAll(async () => {
  scratch = makeTempDir('sfb-client-tls-')
  dir = scratch.path
  pki = makeTestPki(dir)
  // A certificate for "other.example" only, signed by the test CA.
  fs.writeFileSync(path.join(dir, 'other.ext'), 'subjectAltName=DNS:other.example\n')
  for (const args of [
    ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'other.key', '-out', 'other.csr', '-subj', '/CN=other.example'],
    [
      'x509',
      '-req',
      '-in',
      'other.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'other.pem',
      '-days',
      '2',
      '-extfile',
      'other.ext',
    ],
  ]) {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' })
    if (r.status !== 0) throw new Error(r.stderr)
  }
  const source = new TlsContextSource(
    {
      keyStore: null,
      keyStorePassword: null,
      trustStore: null,
      trustStorePassword: null,
      keyFile: path.join(dir, 'other.key'),
      certFile: path.join(dir, 'other.pem'),
      caFile: null,
      keyPassword: null,
    },
    'test',
  )
  terminator = new TlsTerminator({
    where: 'test',
    tls: {
      needClientAuth: false,
      wantClientAuth: false,
      enabledProtocols: ['TLSv1.2', 'TLSv1.3'],
      enabledCipherSuites: null,
    },
    source,
    handshakeTimeoutMs: 5000,
  })
  server = net.createServer((raw) => {
    raw.on('error', () => {})
    const s = terminator.wrap(raw)
    s.on('data', (d: Buffer) => {
      if (d.toString('latin1').startsWith('CONNECT')) s.write('CONNECTED\nversion:1.2\nheart-beat:0,0\n\n\0')
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  port = (server.address() as net.AddressInfo).port
}, 60_000)

afterAll(() => {
  terminator?.close()
  server?.close()
  scratch?.remove()
})

async function open(uri: string): Promise<string> {
  try {
    const c = await BrokerLink.open({
      endpoint: parseBrokerUri(uri).endpoints[0]!,
      heartbeat: [0, 0],
      clock: systemClock,
      onFrame: () => {},
      onClose: () => {},
    })
    c.destroy()
    return 'connected'
  } catch (e) {
    return `${(e as BrokerError).code}: ${(e as Error).message}`
  }
}

describe('client TLS verification', () => {
  test('client TLS: a certificate for another name is refused by default, accepted with verifyHostName=false', async () => {
    expect(await open(`ssl://127.0.0.1:${port}?caFile=${pki.caPem}`)).toMatch(
      /^CLIENT_DISCONNECTED: .*(not in the cert|does not match|altnames)/i,
    )
    expect(await open(`ssl://127.0.0.1:${port}?caFile=${pki.caPem}&verifyHostName=false`)).toBe('connected')
  }, 30_000)

  test('client TLS: an unknown CA is refused even with verifyHostName=false; a missing caFile names the option', async () => {
    expect(await open(`ssl://127.0.0.1:${port}?caFile=${pki.ca2Pem}&verifyHostName=false`)).toMatch(
      /^CLIENT_DISCONNECTED: /,
    )
    expect(await open(`ssl://127.0.0.1:${port}?caFile=${path.join(dir, 'nope.pem')}`)).toMatch(
      /^CLIENT_URI_INVALID: .*caFile .*not found/,
    )
  }, 30_000)
})
