/**
 * The TLS rows of bench-vs-activemq: each broker serves STOMP over TLS from the SAME PKCS#12 key store, made by
 * the JDK's `keytool` (what an ActiveMQ user has; sfbroker reads it unchanged), through its own `stomp+ssl`
 * connector: sfbroker's `<sslContext keyStore=…>` + `stomp+ssl://`, ActiveMQ's `<sslContext>` + `stomp+ssl://`.
 * One primary per broker on a fresh directory (no replica: takeovers are measured without TLS), the same load
 * generator with TLS sockets (certificate not verified: 127.0.0.1 only). Rows, each bounded by loadTimeoutMs:
 *   tlsP1             persistent SENDs over TLS, one RECEIPT awaited per message, 1 producer (msg/s)
 *   tlsNonPersistent  non-persistent SENDs over TLS, 1 producer + 1 consumer at once (msg/s consumed)
 *   tlsConnects       sequential TLS handshakes + STOMP CONNECT/CONNECTED per second, 1 client
 * Prints nothing about plain TCP: the main rows beside it are the same loads without TLS.
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import tls from 'node:tls'
import { ActiveMQKind, SfbrokerKind, type BrokerKind } from './brokers.ts'
import { mustLoad } from './loads.ts'
import { BenchError, freePort } from './proc.ts'
import type { RowValue, SuiteOptions } from './suite.ts'
import { fmt } from './suite.ts'

export interface TlsRow {
  label: string
  unit: string
  better: 'higher' | 'lower'
  /** One value per broker, in the order given to runTlsRows. */
  values: RowValue[]
}

const PASSWORD = 'changeit'

/** A keytool-made PKCS#12 key store for CN=localhost (SAN localhost, 127.0.0.1). */
export function keytoolKeyStore(dir: string): string {
  const file = path.join(dir, 'bench-broker.p12')
  fs.rmSync(file, { force: true })
  const r = spawnSync(
    'keytool',
    [
      '-genkeypair',
      '-alias',
      'broker',
      '-keyalg',
      'RSA',
      '-keysize',
      '2048',
      '-dname',
      'CN=localhost',
      '-ext',
      'SAN=dns:localhost,ip:127.0.0.1',
      '-validity',
      '2',
      '-keystore',
      file,
      '-storetype',
      'PKCS12',
      '-storepass',
      PASSWORD,
      '-keypass',
      PASSWORD,
    ],
    { encoding: 'utf8', timeout: 60_000 },
  )
  if (r.status !== 0) throw new BenchError(`keytool failed (needs a JDK): ${r.stderr}${r.stdout}`)
  return file
}

/** The TLS variant of each broker kind: its BrokerKind and the port of its stomp+ssl connector. */
export async function tlsKinds(
  binary: string,
  workDir: string,
  withActiveMQ: boolean,
): Promise<{ keyStore: string; kinds: { kind: BrokerKind; tlsPort: number }[] }> {
  const keyStore = keytoolKeyStore(workDir)
  const sfPort = await freePort()
  const cfg = path.join(workDir, 'sfbroker-tls.json')
  fs.writeFileSync(cfg, JSON.stringify({ sslContext: { keyStore, keyStorePassword: PASSWORD } }))
  const kinds: { kind: BrokerKind; tlsPort: number }[] = [
    {
      kind: new SfbrokerKind(binary, workDir, ['--config', cfg, '--connector', `stomp+ssl://127.0.0.1:${sfPort}`]),
      tlsPort: sfPort,
    },
  ]
  if (withActiveMQ) {
    const amqPort = await freePort()
    kinds.push({ kind: new ActiveMQKind(undefined, { port: amqPort, keyStore, password: PASSWORD }), tlsPort: amqPort })
  }
  return { keyStore, kinds }
}

/** Sequential TLS connects (handshake + CONNECT/CONNECTED + close) for `ms`; connects per second. */
async function connectRate(port: number, ms: number): Promise<number> {
  const end = performance.now() + ms
  let n = 0
  const t0 = performance.now()
  while (performance.now() < end) {
    await new Promise<void>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false })
      const timer = setTimeout(
        () => (s.destroy(), reject(new BenchError(`no CONNECTED over TLS from ${port} in 10 s`))),
        10_000,
      )
      s.once('secureConnect', () => s.write('CONNECT\naccept-version:1.2\nhost:localhost\n\n\0'))
      s.on('data', (d: Buffer) => {
        if (d.toString('latin1').startsWith('CONNECTED')) {
          clearTimeout(timer)
          s.end('DISCONNECT\n\n\0')
          s.destroy()
          resolve()
        } else if (d.toString('latin1').startsWith('ERROR')) {
          clearTimeout(timer)
          s.destroy()
          reject(new BenchError(`CONNECT over TLS answered ERROR: ${d.toString('latin1').slice(0, 200)}`))
        }
      })
      s.once('error', (e) => (clearTimeout(timer), reject(e)))
    })
    n++
  }
  return (n * 1000) / (performance.now() - t0)
}

/** Run the TLS rows for each kind in turn (one primary each, stopped after its rows). */
export async function runTlsRows(kinds: { kind: BrokerKind; tlsPort: number }[], o: SuiteOptions): Promise<TlsRow[]> {
  const rows: TlsRow[] = [
    {
      label: `TLS (stomp+ssl): persistent, receipt each, 1 producer (${o.p1Count})`,
      unit: 'msg/s',
      better: 'higher',
      values: [],
    },
    {
      label: `TLS (stomp+ssl): non-persistent, 1 producer + 1 consumer (${o.nonPersistentCount})`,
      unit: 'msg/s',
      better: 'higher',
      values: [],
    },
    {
      label: 'TLS (stomp+ssl): handshake + CONNECT per second, 1 client, 5 s',
      unit: 'conn/s',
      better: 'higher',
      values: [],
    },
  ]
  for (const { kind, tlsPort } of kinds) {
    const dir = fs.mkdtempSync(path.join(o.workDir, 'tls-'))
    o.log(`${kind.label}: TLS rows on stomp+ssl://127.0.0.1:${tlsPort}`)
    let proc: Awaited<ReturnType<BrokerKind['start']>>['proc'] | null = null
    const attempt = async (i: number, run: () => Promise<RowValue>): Promise<void> => {
      try {
        rows[i]!.values.push(await run())
      } catch (e) {
        o.log(`  FAILED: ${(e as Error).message.split('\n')[0]}`)
        rows[i]!.values.push({ value: null, error: (e as Error).message.split('\n')[0] })
      }
    }
    try {
      proc = (await kind.start({ dataDir: dir, port: await freePort(), role: 'primary', timeoutMs: o.startTimeoutMs }))
        .proc
      const timeoutMs = o.loadTimeoutMs
      await attempt(0, async () => {
        const r = await mustLoad('tls p1', {
          timeoutMs,
          produce: {
            port: tlsPort,
            destination: '/queue/bench.tls.p1',
            producers: 1,
            count: o.p1Count,
            sizeBytes: o.sizeBytes,
            window: o.window,
            persistent: true,
            receipts: 'every',
            tls: true,
          },
        })
        return { value: r.produce!.msgsPerSec }
      })
      o.log(`  persistent receipted: ${fmt(rows[0]!.values.at(-1)!.value ?? NaN)} msg/s`)
      await attempt(1, async () => {
        const r = await mustLoad('tls nonPersistent', {
          timeoutMs,
          consume: { port: tlsPort, destination: '/queue/bench.tls.np', count: o.nonPersistentCount, tls: true },
          produce: {
            port: tlsPort,
            destination: '/queue/bench.tls.np',
            producers: 1,
            count: o.nonPersistentCount,
            sizeBytes: o.sizeBytes,
            window: o.window,
            persistent: false,
            receipts: 'none',
            tls: true,
          },
        })
        return { value: r.consume!.msgsPerSec, note: `producer ${fmt(r.produce!.msgsPerSec)} msg/s` }
      })
      o.log(`  non-persistent: ${fmt(rows[1]!.values.at(-1)!.value ?? NaN)} msg/s`)
      await attempt(2, async () => ({ value: await connectRate(tlsPort, 5000) }))
      o.log(`  connects: ${fmt(rows[2]!.values.at(-1)!.value ?? NaN)} /s`)
    } catch (e) {
      o.log(`  FAILED to start with TLS: ${(e as Error).message.split('\n').slice(0, 3).join(' | ')}`)
      for (const r of rows)
        if (r.values.length < kinds.indexOf(kinds.find((k) => k.kind === kind)!) + 1)
          r.values.push({ value: null, error: 'broker did not start with TLS' })
    } finally {
      await proc?.stop()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
  return rows
}
