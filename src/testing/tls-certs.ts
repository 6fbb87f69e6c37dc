/**
 * Test PKI made with the `openssl` command at test time (nothing checked in expires): a CA, a server
 * certificate for localhost/127.0.0.1, a client certificate, a second CA with its own server certificate (for
 * rotation), and the same keys as PKCS#12 stores. Used by unit and end-to-end TLS tests; never by the broker.
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

export interface TestPki {
  dir: string
  /** Password of every .p12 made here. */
  password: string
  caPem: string
  serverKey: string
  serverPem: string
  clientKey: string
  clientPem: string
  /** Server key+cert+CA as PKCS#12 (AES, what OpenSSL 3 writes by default). */
  serverP12: string
  /** The CA certificate only, as a PKCS#12 trust store. */
  trustP12: string
  /** A second CA and a server certificate it signed (rotation: the new certificate is told apart by its issuer). */
  ca2Pem: string
  server2Key: string
  server2Pem: string
  server2P12: string
}

function openssl(dir: string, args: string[]): void {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8', timeout: 60_000 })
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}`)
}

/** Make the PKI in `dir` (2048-bit RSA keys, valid 2 days). Takes about a second. */
export function makeTestPki(dir: string, password = 'changeit'): TestPki {
  fs.mkdirSync(dir, { recursive: true })
  const p = (f: string): string => path.join(dir, f)
  fs.writeFileSync(p('server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n')
  fs.writeFileSync(p('client.ext'), 'extendedKeyUsage=clientAuth\n')
  const ca = (name: string, cn: string): void =>
    openssl(dir, [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-subj',
      `/CN=${cn}`,
    ])
  const leaf = (name: string, cn: string, caName: string, ext: string): void => {
    openssl(dir, [
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      `/CN=${cn}`,
    ])
    openssl(dir, [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${caName}.pem`,
      '-CAkey',
      `${caName}.key`,
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-extfile',
      ext,
    ])
  }
  ca('ca', 'sfbroker test CA')
  leaf('server', 'localhost', 'ca', 'server.ext')
  leaf('client', 'client1', 'ca', 'client.ext')
  ca('ca2', 'sfbroker test CA 2')
  leaf('server2', 'localhost', 'ca2', 'server.ext')
  const pass = `pass:${password}`
  openssl(dir, [
    'pkcs12',
    '-export',
    '-in',
    'server.pem',
    '-inkey',
    'server.key',
    '-certfile',
    'ca.pem',
    '-out',
    'server.p12',
    '-passout',
    pass,
  ])
  openssl(dir, [
    'pkcs12',
    '-export',
    '-in',
    'server2.pem',
    '-inkey',
    'server2.key',
    '-certfile',
    'ca2.pem',
    '-out',
    'server2.p12',
    '-passout',
    pass,
  ])
  openssl(dir, ['pkcs12', '-export', '-nokeys', '-in', 'ca.pem', '-out', 'trust.p12', '-passout', pass])
  return {
    dir,
    password,
    caPem: p('ca.pem'),
    serverKey: p('server.key'),
    serverPem: p('server.pem'),
    clientKey: p('client.key'),
    clientPem: p('client.pem'),
    serverP12: p('server.p12'),
    trustP12: p('trust.p12'),
    ca2Pem: p('ca2.pem'),
    server2Key: p('server2.key'),
    server2Pem: p('server2.pem'),
    server2P12: p('server2.p12'),
  }
}

/** Whether the JDK's keytool is on PATH (JKS and keytool-made stores are tested only then). */
export function hasKeytool(): boolean {
  return spawnSync('keytool', ['-help'], { encoding: 'utf8' }).status === 0
}

/** Run keytool (throws with its output on failure). */
export function keytool(dir: string, args: string[]): void {
  const r = spawnSync('keytool', args, { cwd: dir, encoding: 'utf8', timeout: 60_000 })
  if (r.status !== 0)
    throw new Error(`keytool ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}${r.stdout}`)
}
