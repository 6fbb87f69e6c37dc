/**
 * TlsTerminator and TlsContextSource with real sockets in one process: ActiveMQ's connector options as node:tls
 * limits (a table), a handshake that never comes or is garbage costs one socket within the deadline, client
 * certificates per needClientAuth / wantClientAuth, and a reload that switches new connections to the new
 * certificate while a bad reload keeps the old one. Certificates are made at test time.
 */
import { beforeAll, describe, expect, test } from 'bun:test'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import tls from 'node:tls'
import type { ConnectorTlsConfig, SslContextConfig } from '../config/types.ts'
import type { BrokerError } from '../lib/errors.ts'
import { tempDir } from '../testing/temp-dir.ts'
import { makeTestPki, type TestPki } from '../testing/tls-certs.ts'
import { until } from '../testing/until.ts'
import { TlsContextSource } from './tls-context.ts'
import { TlsTerminator, tlsLimits, type TlsRefusal } from './tls-server.ts'
import { Secret } from '../config/secret.ts'

const dir = tempDir('sfb-tlsserver-')
let pki: TestPki
beforeAll(() => {
  pki = makeTestPki(dir)
}, 60_000)

const base: ConnectorTlsConfig = {
  needClientAuth: false,
  wantClientAuth: false,
  enabledProtocols: ['TLSv1.2', 'TLSv1.3'],
  enabledCipherSuites: null,
}

describe('tlsLimits', () => {
  test.each([
    [{}, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' }],
    [{ enabledProtocols: ['TLSv1.3'] }, { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' }],
    [
      { enabledCipherSuites: ['TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384'] },
      { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES256-GCM-SHA384' },
    ],
    [
      { enabledCipherSuites: ['TLS_AES_256_GCM_SHA384'] },
      { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', ciphers: 'TLS_AES_256_GCM_SHA384' },
    ],
    [
      { enabledCipherSuites: ['TLS_AES_128_GCM_SHA256', 'ECDHE-RSA-AES128-GCM-SHA256'] },
      { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3', ciphers: 'TLS_AES_128_GCM_SHA256:ECDHE-RSA-AES128-GCM-SHA256' },
    ],
  ] as [Partial<ConnectorTlsConfig>, object][])('tlsLimits maps %j', (opts, want) => {
    expect(tlsLimits({ ...base, ...opts }, 'c')).toEqual(want)
  })

  test('tlsLimits refuses an unknown Java suite name and a TLS 1.3-only connector without a 1.3 suite', () => {
    const err = (o: Partial<ConnectorTlsConfig>): string => {
      try {
        tlsLimits({ ...base, ...o }, 'connector x')
      } catch (e) {
        return `${(e as BrokerError).code}: ${(e as Error).message}`
      }
      return 'no error'
    }
    expect(err({ enabledCipherSuites: ['TLS_RSA_WITH_RC4_128_SHA'] })).toMatch(
      /^CONFIG_UNSUPPORTED: connector x: .*RC4/,
    )
    expect(err({ enabledProtocols: ['TLSv1.3'], enabledCipherSuites: ['TLS_RSA_WITH_AES_128_GCM_SHA256'] })).toMatch(
      /^CONFIG_INVALID: .*no TLS 1.3 suite/,
    )
  })
})

/** A plain TCP server whose sockets go through a TlsTerminator; each secured socket answers "hello <CN or ->". */
async function serve(o: Partial<ConnectorTlsConfig>, source: TlsContextSource, handshakeTimeoutMs = 5000) {
  const refused: TlsRefusal[] = []
  const term = new TlsTerminator({
    where: 'test',
    tls: { ...base, ...o },
    source,
    handshakeTimeoutMs,
    onRefused: (w) => refused.push(w),
  })
  const server = net.createServer((raw) => {
    raw.on('error', () => {})
    const s = term.wrap(raw)
    s.once('secure', () => {
      const peer = s.getPeerCertificate()
      if (!s.destroyed) s.end(`hello ${peer?.subject?.CN ?? '-'}\n`)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  const port = (server.address() as net.AddressInfo).port
  return {
    term,
    port,
    refused,
    close: () => {
      term.close()
      server.close()
    },
  }
}

function client(
  port: number,
  opts: tls.ConnectionOptions,
): Promise<{ text?: string; error?: string; issuer?: string }> {
  return new Promise((resolve) => {
    let text = ''
    let issuer: string | undefined
    const c = tls.connect(
      { host: '127.0.0.1', port, servername: 'localhost', ...opts },
      () => (issuer = String(c.getPeerCertificate().issuer?.CN)),
    )
    c.on('data', (d) => (text += d))
    c.on('error', (e) => resolve({ error: e.message }))
    c.on('close', () => resolve(text ? { text: text.trim(), issuer } : { error: 'closed without data' }))
  })
}

function rawSocketLifetime(port: number, send: Buffer | null, capMs: number): Promise<number> {
  return new Promise((resolve) => {
    const t0 = Date.now()
    const s = net.connect(port, '127.0.0.1', () => send && s.write(send))
    s.on('error', () => {})
    const cap = setTimeout(() => s.destroy(), capMs)
    s.on('close', () => {
      clearTimeout(cap)
      resolve(Date.now() - t0)
    })
  })
}

const pemCtx = (p: TestPki): SslContextConfig => ({
  keyStore: null,
  keyStorePassword: null,
  trustStore: null,
  trustStorePassword: null,
  keyFile: p.serverKey,
  certFile: p.serverPem,
  caFile: p.caPem,
  keyPassword: null,
})

describe('TlsTerminator', () => {
  test('TlsTerminator serves TLS 1.2/1.3 from a PKCS#12 key store and refuses TLS 1.1', async () => {
    const source = new TlsContextSource(
      {
        ...pemCtx(pki),
        keyFile: null,
        certFile: null,
        keyStore: pki.serverP12,
        keyStorePassword: new Secret(pki.password),
      },
      'sslContext',
    )
    const s = await serve({}, source)
    try {
      expect(await client(s.port, { ca: fs.readFileSync(pki.caPem) })).toMatchObject({
        text: 'hello -',
        issuer: 'sfbroker test CA',
      })
      expect(await client(s.port, { ca: fs.readFileSync(pki.caPem), maxVersion: 'TLSv1.2' })).toMatchObject({
        text: 'hello -',
      })
      expect(
        (await client(s.port, { ca: fs.readFileSync(pki.caPem), minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1' })).error,
      ).toBeDefined()
    } finally {
      s.close()
    }
  }, 30_000)

  test('TlsTerminator: garbage bytes and a stalled handshake cost one socket, bounded by the handshake deadline', async () => {
    const s = await serve({}, new TlsContextSource(pemCtx(pki), 'sslContext'), 800)
    try {
      expect(await rawSocketLifetime(s.port, Buffer.from('GET / HTTP/1.0\r\n\r\n'.repeat(50)), 10_000)).toBeLessThan(
        5000,
      )
      const stalled = await rawSocketLifetime(s.port, null, 10_000)
      expect(stalled).toBeGreaterThanOrEqual(700)
      expect(stalled).toBeLessThan(8000)
      expect(s.refused).toEqual(['TLS handshake failed', 'TLS handshake timed out'])
      expect(s.term.handshaking()).toBe(0)
      // still serving after both
      expect((await client(s.port, { ca: fs.readFileSync(pki.caPem) })).text).toBe('hello -')
    } finally {
      s.close()
    }
  }, 30_000)

  test('TlsTerminator needClientAuth refuses a client without a certificate; wantClientAuth lets it in', async () => {
    const source = new TlsContextSource(pemCtx(pki), 'sslContext')
    const need = await serve({ needClientAuth: true }, source)
    const want = await serve({ wantClientAuth: true }, source)
    const ca = fs.readFileSync(pki.caPem)
    const withCert = { ca, cert: fs.readFileSync(pki.clientPem), key: fs.readFileSync(pki.clientKey) }
    try {
      expect((await client(need.port, withCert)).text).toBe('hello client1')
      expect((await client(need.port, { ca })).text).toBeUndefined()
      expect((await client(want.port, { ca })).text).toBe('hello -')
      expect((await client(want.port, withCert)).text).toBe('hello client1')
      expect(need.refused).toContain('TLS client certificate refused')
    } finally {
      need.close()
      want.close()
    }
  }, 30_000)

  test('TlsContextSource reload switches new connections to the new certificate; a bad file keeps the old one', async () => {
    const d = fs.mkdtempSync(path.join(dir, 'rot-'))
    const key = path.join(d, 'key.pem')
    const cert = path.join(d, 'cert.pem')
    fs.copyFileSync(pki.serverKey, key)
    fs.copyFileSync(pki.serverPem, cert)
    const source = new TlsContextSource({ ...pemCtx(pki), keyFile: key, certFile: cert, caFile: null }, 'sslContext')
    const s = await serve({}, source)
    const both = Buffer.concat([fs.readFileSync(pki.caPem), fs.readFileSync(pki.ca2Pem)])
    try {
      expect((await client(s.port, { ca: both })).issuer).toBe('sfbroker test CA')
      fs.writeFileSync(cert, 'not a certificate')
      expect(source.reload('test')).toBe(false)
      expect((await client(s.port, { ca: both })).issuer).toBe('sfbroker test CA')
      fs.copyFileSync(pki.server2Key, key)
      fs.copyFileSync(pki.server2Pem, cert)
      expect(source.reload('test')).toBe(true)
      expect((await client(s.port, { ca: both })).issuer).toBe('sfbroker test CA 2')
      expect(source.failedReloads).toBe(1)
    } finally {
      s.close()
    }
  }, 30_000)

  test('TlsContextSource watch reloads when a file is replaced (rename over it, as rotation tools do)', async () => {
    const d = fs.mkdtempSync(path.join(dir, 'watch-'))
    const key = path.join(d, 'key.pem')
    const cert = path.join(d, 'cert.pem')
    fs.copyFileSync(pki.serverKey, key)
    fs.copyFileSync(pki.serverPem, cert)
    const source = new TlsContextSource({ ...pemCtx(pki), keyFile: key, certFile: cert, caFile: null }, 'sslContext')
    const seen: string[] = []
    source.onChange((m) => seen.push(String(m.cert).slice(0, 40)))
    source.watch({ signal: false, pollMs: 100 })
    try {
      // New key first, then the certificate: the settle delay lets both land before one reload.
      fs.copyFileSync(pki.server2Key, `${key}.tmp`)
      fs.renameSync(`${key}.tmp`, key)
      fs.copyFileSync(pki.server2Pem, `${cert}.tmp`)
      fs.renameSync(`${cert}.tmp`, cert)
      await until(() => source.reloads > 0, 'a reload after the key and certificate were replaced', 15_000)
      expect(String(source.material().cert)).toBe(fs.readFileSync(pki.server2Pem, 'utf8'))
      expect(seen.length).toBe(source.reloads)
    } finally {
      source.unwatch()
    }
  }, 30_000)
})
