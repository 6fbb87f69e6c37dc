/**
 * Goal: issue 15's TLS half with the COMPILED binary and clients we did not write: python3-stomp over
 * `stomp+ssl://` with a CA and with a client certificate (needClientAuth), `openssl s_client` for protocol and
 * cipher limits, garbage and a stalled handshake costing one socket for a bounded time, certificate rotation by
 * SIGHUP, the HTTPS admin endpoint refusing without credentials, secrets out of logs and /status, and the
 * failover client over ssl:// across kill -9 of the primary losing nothing.
 * Method: a test PKI made with openssl in a temp dir; one broker (own data dir) with four TLS connectors and an
 * HTTPS admin listener; then two brokers on one shared dir for the failover. Every wait is bounded; timing
 * assertions are loose upper bounds (a loaded 2-core machine).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import https from 'node:https'
import net from 'node:net'
import path from 'node:path'
import { compiledBinary } from './fixtures/binary.ts'
import { TestProcesses, spawnLines, type LineChild } from './fixtures/broker-process.ts'
import { freePorts, tcpAccepts } from '../src/testing/net-probe.ts'
import { until } from '../src/testing/until.ts'
import { makeTestPki, type TestPki } from '../src/testing/tls-certs.ts'

const procs = new TestProcesses()
const work = procs.tempDir('sfb-tls-')
const env = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: work, NO_COLOR: '1' }
const ADMIN_KEYSTORE_PASSWORD = 'adm1n-ks-Pa55'
let binary = ''
let pki: TestPki
let broker: ChildProcess
let log = ''
const port = { plain: 0, ssl: 0, mutual: 0, cipher: 0, admin: 0 }
let rotDir = ''

function xml(): string {
  const key = path.join(rotDir, 'server.key')
  const cert = path.join(rotDir, 'server.pem')
  return `<beans xmlns="http://www.springframework.org/schema/beans">
<broker xmlns="http://activemq.apache.org/schema/core" brokerName="tls-e2e" dataDirectory="${path.join(work, 'data')}">
  <plugins>
    <simpleAuthenticationPlugin>
      <users>
        <authenticationUser username="admin" password="adminpw" groups="admins,users"/>
        <authenticationUser username="app" password="apppw" groups="users"/>
      </users>
    </simpleAuthenticationPlugin>
  </plugins>
  <sslContext>
    <sslContext keyFile="${key}" certFile="${cert}" caFile="${pki.caPem}"/>
  </sslContext>
  <transportConnectors>
    <transportConnector name="ssl" uri="stomp+ssl://127.0.0.1:${port.ssl}"/>
    <transportConnector name="mutual" uri="stomp+nio+ssl://127.0.0.1:${port.mutual}?transport.needClientAuth=true"/>
    <transportConnector name="cipher" uri="stomp+ssl://127.0.0.1:${port.cipher}?transport.enabledCipherSuites=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384&amp;transport.connectAttemptTimeout=1500"/>
  </transportConnectors>
  <admin listen="127.0.0.1:${port.admin}" ssl="true" keyStore="${path.join(rotDir, 'admin.p12')}" keyStorePassword="${ADMIN_KEYSTORE_PASSWORD}"/>
</broker>
</beans>`
}

beforeAll(async () => {
  binary = compiledBinary()
  pki = makeTestPki(path.join(work, 'pki'), ADMIN_KEYSTORE_PASSWORD)
  rotDir = path.join(work, 'rot')
  fs.mkdirSync(rotDir)
  fs.copyFileSync(pki.serverKey, path.join(rotDir, 'server.key'))
  fs.copyFileSync(pki.serverPem, path.join(rotDir, 'server.pem'))
  fs.copyFileSync(pki.serverP12, path.join(rotDir, 'admin.p12'))
  ;[port.plain, port.ssl, port.mutual, port.cipher, port.admin] = await freePorts(5)
  const file = path.join(work, 'broker.xml')
  fs.writeFileSync(file, xml())
  broker = procs.spawn([binary, 'run', '--config', file, '--log-format', 'json', '--log-level', 'debug'], {
    cwd: work,
    env,
  })
  broker.stdout!.on('data', (d) => (log += d))
  broker.stderr!.on('data', (d) => (log += d))
  await until(
    async () => broker.exitCode !== null || (await tcpAccepts(port.ssl, 2000)),
    () => `the TLS connector on ${port.ssl}: ${log.slice(-3000)}`,
    60_000,
  )
  if (broker.exitCode !== null) throw new Error(`broker exited ${broker.exitCode}: ${log.slice(-3000)}`)
}, 300_000)

afterAll(() => procs.cleanup())

/** `openssl s_client` to a port: the handshake result (protocol and cipher, or failed). */
function sClient(
  p: number,
  args: string[],
): { ok: boolean; protocol?: string; cipher?: string; issuer?: string; out: string } {
  const r = spawnSync(
    'openssl',
    ['s_client', '-connect', `127.0.0.1:${p}`, '-servername', 'localhost', '-CAfile', pki.caPem, ...args],
    { input: '', encoding: 'utf8', timeout: 20_000 },
  )
  const out = `${r.stdout}${r.stderr}`
  const cipher = /Cipher is (\S+)/.exec(out)?.[1]
  const ok = cipher !== undefined && cipher !== '(NONE)'
  return {
    ok,
    protocol: /Protocol\s*:\s*(\S+)/.exec(out)?.[1] ?? /New, (TLSv[\d.]+)/.exec(out)?.[1],
    cipher,
    issuer: /issuer=.*CN\s*=\s*([^\n,]+)/.exec(out)?.[1]?.trim(),
    out,
  }
}

const PY = `
import json, sys, stomp, time
port, ca, cert, key, dest = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
class L(stomp.ConnectionListener):
    def __init__(self): self.got = []
    def on_message(self, frame): self.got.append(frame.body)
c = stomp.Connection12([('127.0.0.1', port)], reconnect_attempts_max=1)
kw = {'ca_certs': ca}
if cert != '-': kw.update(cert_file=cert, key_file=key)
c.set_ssl(for_hosts=[('127.0.0.1', port)], **kw)
l = L(); c.set_listener('', l)
try:
    c.connect('app', 'apppw', wait=True)
except Exception as e:
    print(json.dumps({'connected': False, 'error': type(e).__name__})); sys.exit(0)
c.subscribe(dest, id='1', ack='auto')
c.send(dest, 'over tls', headers={'receipt': 'r1'})
t = time.time()
while not l.got and time.time() - t < 10: time.sleep(0.05)
c.disconnect()
print(json.dumps({'connected': True, 'got': l.got}))
`

function python(p: number, cert: boolean, dest: string): Promise<Record<string, unknown>> {
  const script = path.join(work, 'tls-client.py')
  if (!fs.existsSync(script)) fs.writeFileSync(script, PY)
  return new Promise((resolve, reject) => {
    const child = procs.spawn([
      '/usr/bin/python3',
      script,
      String(p),
      pki.caPem,
      cert ? pki.clientPem : '-',
      cert ? pki.clientKey : '-',
      dest,
    ])
    let out = ''
    let err = ''
    child.stdout!.on('data', (d) => (out += d))
    child.stderr!.on('data', (d) => (err += d))
    const t = setTimeout(() => child.kill('SIGKILL'), 30_000)
    child.on('close', (code) => {
      clearTimeout(t)
      const last = out.trim().split('\n').pop() ?? ''
      if (code === 0 && last.startsWith('{')) resolve(JSON.parse(last))
      else reject(new Error(`python exited ${code}: ${err.slice(-1500)}`))
    })
  })
}

/** How long a raw TCP socket to `p` lives after sending `bytes` (or nothing), capped at capMs. */
function socketLifetime(p: number, bytes: Buffer | null, capMs: number): Promise<number> {
  return new Promise((resolve) => {
    const t0 = Date.now()
    const s = net.connect(p, '127.0.0.1', () => bytes && s.write(bytes))
    s.on('error', () => {})
    s.on('data', () => {})
    const cap = setTimeout(() => s.destroy(), capMs)
    s.on('close', () => {
      clearTimeout(cap)
      resolve(Date.now() - t0)
    })
  })
}

function adminGet(pathname: string, auth?: string, ca = pki.caPem): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      {
        host: '127.0.0.1',
        port: port.admin,
        path: pathname,
        ca: fs.readFileSync(ca),
        servername: 'localhost',
        headers: auth ? { authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {},
      },
      (res) => {
        let body = ''
        res.on('data', (d) => (body += d))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      },
    )
    req.on('error', reject)
    req.setTimeout(20_000, () => req.destroy(new Error('admin request timed out')))
  })
}

describe('TLS with the compiled binary', () => {
  test('TLS python3-stomp over stomp+ssl:// with the CA sends and receives', async () => {
    expect(await python(port.ssl, false, '/queue/tls-a')).toEqual({ connected: true, got: ['over tls'] })
  }, 60_000)

  test('TLS needClientAuth: python3-stomp with a client certificate gets in, without one it does not', async () => {
    expect(await python(port.mutual, true, '/queue/tls-b')).toEqual({ connected: true, got: ['over tls'] })
    expect((await python(port.mutual, false, '/queue/tls-b')).connected).toBe(false)
  }, 60_000)

  test('TLS openssl s_client: TLS 1.1 refused, 1.2 and 1.3 accepted; a cipher list limits suites and caps the version', () => {
    expect(sClient(port.ssl, ['-tls1_1']).ok).toBe(false)
    expect(sClient(port.ssl, ['-tls1_2'])).toMatchObject({ ok: true })
    expect(sClient(port.ssl, ['-tls1_3'])).toMatchObject({ ok: true })
    expect(sClient(port.cipher, ['-tls1_2', '-cipher', 'ECDHE-RSA-AES128-GCM-SHA256']).ok).toBe(false)
    expect(sClient(port.cipher, ['-tls1_2', '-cipher', 'ECDHE-RSA-AES256-GCM-SHA384'])).toMatchObject({
      ok: true,
      cipher: 'ECDHE-RSA-AES256-GCM-SHA384',
    })
    expect(sClient(port.cipher, ['-tls1_3']).ok).toBe(false) // only TLS 1.2 suites listed: Java would not speak 1.3 either
  }, 120_000)

  test('TLS garbage bytes and a stalled handshake cost one socket for a bounded time; the listener keeps serving', async () => {
    const garbage = await socketLifetime(
      port.cipher,
      Buffer.from('\x16\x03\x01\x00\x05hello'.repeat(200), 'latin1'),
      20_000,
    )
    expect(garbage).toBeLessThan(10_000)
    const stalled = await socketLifetime(port.cipher, null, 20_000)
    expect(stalled).toBeGreaterThanOrEqual(1000) // connectAttemptTimeout=1500
    expect(stalled).toBeLessThan(15_000)
    const half = await socketLifetime(port.cipher, Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00]), 20_000) // a ClientHello cut short
    expect(half).toBeLessThan(15_000)
    expect(sClient(port.cipher, ['-tls1_2']).ok).toBe(true)
    expect(broker.exitCode).toBeNull()
  }, 90_000)

  test('TLS HTTPS admin: /health without credentials, everything else needs a user of the admins group', async () => {
    expect([200, 503]).toContain((await adminGet('/health')).status)
    expect((await adminGet('/status')).status).toBe(401)
    expect((await adminGet('/metrics', 'admin:wrong')).status).toBe(401)
    expect((await adminGet('/metrics', 'app:apppw')).status).toBe(403)
    const ok = await adminGet('/status', 'admin:adminpw')
    expect(ok.status).toBe(200)
    expect(ok.body).not.toContain(ADMIN_KEYSTORE_PASSWORD)
  }, 60_000)

  test('TLS rotation: new files + SIGHUP, a new connection sees the new certificate; secrets never in the log', async () => {
    expect(sClient(port.ssl, ['-tls1_2']).issuer).toBe('sfbroker test CA')
    fs.copyFileSync(pki.server2Key, path.join(rotDir, 'server.key'))
    fs.copyFileSync(pki.server2Pem, path.join(rotDir, 'server.pem'))
    fs.copyFileSync(pki.server2P12, path.join(rotDir, 'admin.p12'))
    broker.kill('SIGHUP')
    await until(
      () => sClient(port.ssl, ['-tls1_2', '-CAfile', pki.ca2Pem]).issuer === 'sfbroker test CA 2',
      () => `the new certificate (log: ${log.slice(-2000)})`,
      30_000,
      300,
    )
    await until(
      () => log.includes('reloaded (SIGHUP)'),
      () => `the reload log line (log: ${log.slice(-2000)})`,
      10_000,
    )
    // The HTTPS admin listener re-opens with its reloaded key store.
    await until(
      async () => (await adminGet('/health', undefined, pki.ca2Pem).catch(() => ({ status: 0 }))).status > 0,
      () => `the admin listener with the new certificate (log: ${log.slice(-2000)})`,
      30_000,
      300,
    )
    expect(broker.exitCode).toBeNull()
    expect(log).not.toContain(ADMIN_KEYSTORE_PASSWORD)
    expect(log).toContain('[redacted]') // the debug dump of the resolved config
  }, 90_000)
})

describe('TLS failover', () => {
  test('TLS failover client over ssl:// with authentication across kill -9 of the primary re-authenticates and loses nothing (compiled binary, two brokers, one shared dir)', async () => {
    const shared = path.join(work, 'shared')
    fs.mkdirSync(shared)
    const ports = await freePorts(2)
    const logs = ['', '']
    const start = (i: number): ChildProcess => {
      const p = procs.spawn(
        [
          binary,
          'run',
          '--data',
          shared,
          '--connector',
          `stomp+ssl://127.0.0.1:${ports[i]}`,
          '--config',
          path.join(work, `fo-${i}.json`),
        ],
        { cwd: work, env },
      )
      p.stdout!.on('data', (d) => (logs[i] += d))
      p.stderr!.on('data', (d) => (logs[i] += d))
      return p
    }
    for (const i of [0, 1])
      fs.writeFileSync(
        path.join(work, `fo-${i}.json`),
        JSON.stringify({
          sslContext: { keyStore: pki.serverP12, keyStorePassword: ADMIN_KEYSTORE_PASSWORD },
          plugins: { simpleAuthenticationPlugin: { users: [{ username: 'app', password: 'apppw', groups: 'users' }] } },
        }),
      )
    const primary = start(0)
    await until(
      () => tcpAccepts(ports[0], 2000),
      () => `the primary (log: ${logs[0].slice(-2000)})`,
      60_000,
    )
    const replica = start(1)
    const url = `failover:(ssl://127.0.0.1:${ports[0]},ssl://127.0.0.1:${ports[1]})?randomize=false&initialReconnectDelay=50&maxReconnectDelay=1000&timeout=120000`
    const total = 800
    const run = (args: string[]): LineChild =>
      spawnLines(
        procs,
        [
          binary,
          ...args,
          '--url',
          url,
          '--ca',
          pki.caPem,
          '--user',
          'app',
          '--password',
          'apppw',
          '--log-level',
          'warn',
        ],
        { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] },
      )
    const consumer = run([
      'consume',
      '--destination',
      'queue://tls-failover',
      '--ack',
      'individual',
      '--prefetch',
      '10',
      '--timeout',
      '15000',
    ])
    const producer = run([
      'produce',
      '--destination',
      'queue://tls-failover',
      '--count',
      String(total),
      '--persistent',
      '--window',
      '10',
      '--quiet',
    ])
    await until(
      () => consumer.lines.length >= 80,
      () => `the consumer to print 80 messages (stderr: ${consumer.stderr()})`,
      90_000,
    )
    primary.kill('SIGKILL')
    const [pc, cc] = await Promise.all([producer.exit, consumer.exit])
    if (pc !== 0 || cc !== 0)
      throw new Error(
        `produce exit ${pc}: ${producer.stderr()}\nconsume exit ${cc}: ${consumer.stderr()}\nreplica log: ${logs[1].slice(-2000)}`,
      )
    const bodies = new Set(consumer.lines)
    expect(Array.from({ length: total }, (_, i) => `message ${i}`).filter((b) => !bodies.has(b))).toEqual([])
    expect(await tcpAccepts(ports[1], 2000)).toBe(true)
    replica.kill('SIGKILL')
  }, 240_000)
})
