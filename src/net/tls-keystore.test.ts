/**
 * Key and trust stores without Java: format detection by magic bytes, the keytool command for JKS, and the
 * PKCS#12 reader against stores made by OpenSSL (AES and legacy 3DES) and, when the JDK is installed, by keytool
 * (the trust store an ActiveMQ user has). Certificates are made at test time (src/testing/tls-certs.ts).
 */
import { beforeAll, describe, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { BrokerError } from '../lib/errors.ts'
import { tempDir } from '../testing/temp-dir.ts'
import { hasKeytool, keytool, makeTestPki, type TestPki } from '../testing/tls-certs.ts'
import { detectKeystoreFormat, keytoolConvertCommand, readPkcs12 } from './tls-keystore.ts'
import { TLS_FILE_BYTES_MAX, readTlsMaterial } from './tls-context.ts'
import { Secret } from '../config/secret.ts'
import type { SslContextConfig } from '../config/types.ts'

const dir = tempDir('sfb-keystore-')
let pki: TestPki
beforeAll(() => {
  pki = makeTestPki(dir)
}, 60_000)

const none: SslContextConfig = {
  keyStore: null,
  keyStorePassword: null,
  trustStore: null,
  trustStorePassword: null,
  keyFile: null,
  certFile: null,
  caFile: null,
  keyPassword: null,
}
const fingerprint = (pem: string): string => new crypto.X509Certificate(pem).fingerprint256

describe('keystore formats', () => {
  test('detectKeystoreFormat tells JKS, JCEKS, PEM and PKCS#12 apart by their first bytes', () => {
    expect(detectKeystoreFormat(Buffer.from([0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2]))).toBe('jks')
    expect(detectKeystoreFormat(Buffer.from([0xce, 0xce, 0xce, 0xce, 0, 0, 0, 2]))).toBe('jceks')
    expect(detectKeystoreFormat(fs.readFileSync(pki.caPem))).toBe('pem')
    expect(detectKeystoreFormat(fs.readFileSync(pki.serverP12))).toBe('pkcs12')
    expect(detectKeystoreFormat(Buffer.from('hello'))).toBe('unknown')
  })

  test('keytoolConvertCommand gives the exact conversion command, quoted for a shell', () => {
    expect(keytoolConvertCommand('/etc/amq/broker.ks', 'jks')).toBe(
      'keytool -importkeystore -srckeystore /etc/amq/broker.ks -destkeystore /etc/amq/broker.p12 -deststoretype PKCS12',
    )
    expect(keytoolConvertCommand('/x/my store.jceks', 'jceks')).toBe(
      "keytool -importkeystore -srckeystore '/x/my store.jceks' -srcstoretype JCEKS -destkeystore '/x/my store.p12' -deststoretype PKCS12",
    )
  })

  test('readTlsMaterial refuses a JKS keyStore with the keytool command (magic bytes, whatever the name)', () => {
    const jks = path.join(dir, 'broker.ks')
    fs.writeFileSync(jks, Buffer.concat([Buffer.from([0xfe, 0xed, 0xfe, 0xed]), crypto.randomBytes(60)]))
    let err: BrokerError | undefined
    try {
      readTlsMaterial({ ...none, keyStore: jks, keyStorePassword: new Secret('pw-not-shown') }, 'sslContext')
    } catch (e) {
      err = e as BrokerError
    }
    expect(err?.code).toBe('TLS_KEYSTORE_INVALID')
    expect(err?.message).toContain(
      `keytool -importkeystore -srckeystore ${jks} -destkeystore ${path.join(dir, 'broker.p12')} -deststoretype PKCS12`,
    )
    expect(err?.message).not.toContain('pw-not-shown')
  })
})

test('readTlsMaterial refuses a store over TLS_FILE_BYTES_MAX before reading it', () => {
  const big = path.join(dir, 'big.p12')
  fs.writeFileSync(big, Buffer.alloc(TLS_FILE_BYTES_MAX + 1, 0x30))
  let err: BrokerError | undefined
  try {
    readTlsMaterial({ ...none, keyStore: big }, 'sslContext')
  } catch (e) {
    err = e as BrokerError
  }
  expect(err?.code).toBe('TLS_KEYSTORE_INVALID')
  expect(err?.message).toContain(`expected at most ${TLS_FILE_BYTES_MAX}`)
})

describe('readPkcs12', () => {
  test('readPkcs12 reads an OpenSSL 3 key store (AES-256, SHA-256 MAC): certificates and that a key is there', () => {
    const r = readPkcs12(fs.readFileSync(pki.serverP12), pki.password, 'server.p12')
    expect(r.hasKey).toBe(true)
    expect(r.certificatesPem.map(fingerprint).sort()).toEqual(
      [fingerprint(fs.readFileSync(pki.serverPem, 'utf8')), fingerprint(fs.readFileSync(pki.caPem, 'utf8'))].sort(),
    )
  })

  test('readPkcs12 reads a legacy 3DES/SHA-1 store and a certificates-only trust store', () => {
    const legacy = path.join(dir, 'legacy.p12')
    const r = spawnSync('openssl', [
      'pkcs12',
      '-export',
      '-in',
      pki.serverPem,
      '-inkey',
      pki.serverKey,
      '-out',
      legacy,
      '-passout',
      `pass:${pki.password}`,
      '-certpbe',
      'PBE-SHA1-3DES',
      '-keypbe',
      'PBE-SHA1-3DES',
      '-macalg',
      'sha1',
    ])
    expect(r.status).toBe(0)
    expect(readPkcs12(fs.readFileSync(legacy), pki.password, 'legacy').certificatesPem).toHaveLength(1)
    const trust = readPkcs12(fs.readFileSync(pki.trustP12), pki.password, 'trust')
    expect(trust.hasKey).toBe(false)
    expect(trust.certificatesPem.map(fingerprint)).toEqual([fingerprint(fs.readFileSync(pki.caPem, 'utf8'))])
  })

  test('readPkcs12 with a wrong password is TLS_KEYSTORE_INVALID without the password; garbage is refused', () => {
    for (const [bytes, pw] of [
      [fs.readFileSync(pki.trustP12), 'wrong-pass-xyz'],
      [Buffer.from([0x30, 0x82, 0x01, 0x00, 1, 2, 3]), 'x'],
    ] as const) {
      let err: BrokerError | undefined
      try {
        readPkcs12(bytes, pw, 'store')
      } catch (e) {
        err = e as BrokerError
      }
      expect(err?.code).toBe('TLS_KEYSTORE_INVALID')
      expect(err?.message).not.toContain('wrong-pass-xyz')
    }
  })

  test.skipIf(!hasKeytool())(
    'readPkcs12 reads a keytool-made PKCS#12 trust store (what ActiveMQ users have)',
    () => {
      const ts = path.join(dir, 'client.ts.p12')
      keytool(dir, [
        '-importcert',
        '-noprompt',
        '-alias',
        'ca',
        '-file',
        pki.caPem,
        '-keystore',
        ts,
        '-storetype',
        'PKCS12',
        '-storepass',
        pki.password,
      ])
      const m = readTlsMaterial(
        {
          ...none,
          keyStore: pki.serverP12,
          keyStorePassword: new Secret(pki.password),
          trustStore: ts,
          trustStorePassword: new Secret(pki.password),
        },
        'sslContext',
      )
      expect(m.ca?.map(fingerprint)).toEqual([fingerprint(fs.readFileSync(pki.caPem, 'utf8'))])
      expect(m.pfx).toBeDefined()
    },
    60_000,
  )
})
