/**
 * The two brokers the benchmarks drive, behind one interface: sfbroker from its compiled binary, and Apache ActiveMQ
 * 5.17 (Debian package) as a private instance. Each `BrokerKind.start` launches one process on a shared data
 * directory and reports when it is ready in the role asked for: a primary when it answers a STOMP CONNECT with
 * CONNECTED, a replica when it has registered (sfbroker: its `replicas/<node>.json` heartbeat; ActiveMQ: its log
 * says it is a slave waiting for the lock). Several processes given the same directory form the shared file system
 * primary/replica pair being measured.
 *
 * ActiveMQ runs as Debian's package would run it (JVM options from /usr/share/activemq/activemq-options:
 * -Xms512M -Xmx512M, dedicated task runner), with a config of our own: KahaDB in the shared directory, one STOMP
 * connector on 127.0.0.1, no JMX, optional `lockAcquireSleepInterval` on the shared-file locker (default 10 s), and
 * log4j at INFO into a file so the role can be read. Not the test fixture's fast-start JVM flags (C1 only, small
 * heap): those would make ActiveMQ slower than a real deployment and the comparison unfair.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { BenchError, isAlive, stompConnected, waitUntil } from './proc.ts'
import { activemqXml, MQTT_CLIENT_JAR } from '../../src/testing/activemq-config.ts'

export const ACTIVEMQ_HOME = '/usr/share/activemq'
/** What Debian's init script passes (see /usr/share/activemq/activemq-options). */
export const ACTIVEMQ_JVM_OPTIONS = ['-Xms512M', '-Xmx512M', '-Dorg.apache.activemq.UseDedicatedTaskRunner=true']
/** SharedFileLocker's lockAcquireSleepInterval when the config sets none. */
export const ACTIVEMQ_LOCK_ACQUIRE_SLEEP_INTERVAL_DEFAULT_MS = 10_000
export const ACTIVEMQ_INSTALL_HINT =
  'ActiveMQ 5.17 is not installed: apt-get install -y activemq (needs a JRE: apt-get install -y default-jre-headless)'

export interface BrokerProcess {
  readonly kind: string
  readonly port: number
  readonly pid: number
  alive(): boolean
  /** kill -9 and wait for the exit (bounded). */
  kill9(): Promise<void>
  /** SIGTERM, SIGKILL after graceMs; then removes the process's private files. */
  stop(graceMs?: number): Promise<void>
  /** Last lines of its log, for error messages. */
  logTail(): string
}

export interface StartOptions {
  dataDir: string
  port: number
  role: 'primary' | 'replica'
  timeoutMs: number
}

export interface BrokerKind {
  /** Row label, e.g. "sfbroker" or "ActiveMQ 5.17". */
  readonly label: string
  /** How often a replica retries the lock (ms); 0 when it blocks on the lock and wakes at once. */
  readonly lockPollMs: number
  /** Starts one process; resolves once ready in `role`, with the ms from spawn to ready. */
  start(o: StartOptions): Promise<{ proc: BrokerProcess; readyMs: number }>
  /** Resolves once `proc` serves STOMP (after a takeover). */
  serving(proc: BrokerProcess, timeoutMs: number): Promise<number>
}

/** Why ActiveMQ cannot run here, or undefined if it can. */
export function activemqUnavailable(): string | undefined {
  if (!fs.existsSync(path.join(ACTIVEMQ_HOME, 'bin', 'activemq.jar'))) return ACTIVEMQ_INSTALL_HINT
  const paths = (process.env.PATH ?? '').split(':')
  if (!paths.some((p) => p && fs.existsSync(path.join(p, 'java'))))
    return 'no java on PATH (ActiveMQ needs a JRE: apt-get install -y default-jre-headless)'
  return undefined
}

/** Waits for `p` at most `ms` (the timer does not outlive the wait, so it never holds the process open). */
async function within(p: Promise<void>, ms: number): Promise<void> {
  let t: ReturnType<typeof setTimeout> | undefined
  await Promise.race([p, new Promise<void>((r) => (t = setTimeout(r, ms)))])
  clearTimeout(t)
}

/** Every broker process started and not yet exited, so that an interrupted script leaves none behind. */
const live = new Set<ChildBroker>()
let interruptHandlers = false

function killAllOnInterrupt(): void {
  if (interruptHandlers) return
  interruptHandlers = true
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const b of live) b.killNow()
      process.exit(130)
    })
  }
}

class ChildBroker implements BrokerProcess {
  private exitedFlag = false
  readonly exited: Promise<void>

  constructor(
    readonly kind: string,
    readonly port: number,
    private readonly child: ChildProcess,
    readonly logFile: string,
    private readonly privateDir: string | null,
  ) {
    killAllOnInterrupt()
    live.add(this)
    this.exited = new Promise<void>((r) => child.once('exit', () => ((this.exitedFlag = true), live.delete(this), r())))
  }

  /** kill -9 without waiting, and remove the private files (interrupt path). */
  killNow(): void {
    if (!this.exitedFlag) this.child.kill('SIGKILL')
    if (this.privateDir) fs.rmSync(this.privateDir, { recursive: true, force: true })
  }

  get pid(): number {
    return this.child.pid!
  }

  alive(): boolean {
    return !this.exitedFlag && isAlive(this.pid)
  }

  async kill9(): Promise<void> {
    if (!this.exitedFlag) this.child.kill('SIGKILL')
    await within(this.exited, 10_000)
  }

  async stop(graceMs = 15_000): Promise<void> {
    if (!this.exitedFlag) {
      this.child.kill('SIGTERM')
      const t = setTimeout(() => this.exitedFlag || this.child.kill('SIGKILL'), graceMs)
      await within(this.exited, graceMs + 5000)
      clearTimeout(t)
    }
    if (this.privateDir) fs.rmSync(this.privateDir, { recursive: true, force: true })
  }

  logTail(): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8').slice(-3000)
    } catch {
      return ''
    }
  }
}

async function servingProbe(proc: BrokerProcess, timeoutMs: number, everyMs: number): Promise<number> {
  return waitUntil(
    `${proc.kind} on port ${proc.port} answering STOMP CONNECT`,
    () => stompConnected(proc.port, 500),
    timeoutMs,
    everyMs,
    () => proc.alive(),
  )
}

/** sfbroker from its compiled binary: `sfbroker run --data DIR --connector stomp://127.0.0.1:PORT`. */
export class SfbrokerKind implements BrokerKind {
  readonly label = 'sfbroker'
  /** sfbroker's replicas wait in a blocking flock/fcntl call (lock.blockingWait, the default). */
  readonly lockPollMs = 0

  constructor(
    private readonly binary: string,
    private readonly logDir: string,
    private readonly extraArgs: string[] = [],
  ) {
    if (!fs.existsSync(binary))
      throw new BenchError(`sfbroker binary ${binary} not found: run \`npm run build\` first (or pass --binary)`)
  }

  async start(o: StartOptions): Promise<{ proc: BrokerProcess; readyMs: number }> {
    const logFile = path.join(this.logDir, `sfbroker-${o.port}-${Date.now()}.log`)
    const out = fs.openSync(logFile, 'a')
    const t0 = performance.now()
    const child = spawn(
      this.binary,
      [
        'run',
        '--data',
        o.dataDir,
        '--connector',
        `stomp://127.0.0.1:${o.port}`,
        '--log-level',
        'warn',
        ...this.extraArgs,
      ],
      {
        stdio: ['ignore', out, out],
      },
    )
    fs.closeSync(out)
    const proc = new ChildBroker(this.label, o.port, child, logFile, null)
    try {
      if (o.role === 'primary') {
        // Poll often: this is the start-time row, and a 2 ms probe costs little.
        await waitUntil(
          `sfbroker on port ${o.port} answering STOMP CONNECT`,
          () => stompConnected(o.port, 500),
          o.timeoutMs,
          1,
          () => proc.alive(),
        )
      } else {
        const dir = path.join(o.dataDir, 'replicas')
        await waitUntil(
          `sfbroker pid ${proc.pid} registered as a replica in ${dir}`,
          () => {
            let names: string[]
            try {
              names = fs.readdirSync(dir)
            } catch {
              return false
            }
            for (const n of names) {
              if (!n.endsWith('.json')) continue
              try {
                if ((JSON.parse(fs.readFileSync(path.join(dir, n), 'utf8')) as { pid?: number }).pid === proc.pid)
                  return true
              } catch {
                // being replaced (tmp + rename) or half-written: next poll
              }
            }
            return false
          },
          o.timeoutMs,
          2,
          () => proc.alive(),
        )
      }
    } catch (e) {
      const tail = proc.logTail()
      await proc.kill9()
      throw new BenchError(`${(e as Error).message}\n${tail}`)
    }
    return { proc, readyMs: performance.now() - t0 }
  }

  serving(proc: BrokerProcess, timeoutMs: number): Promise<number> {
    return servingProbe(proc, timeoutMs, 1)
  }
}

/** A private ActiveMQ 5.17 instance per process, sharing only the KahaDB directory. */
export class ActiveMQKind implements BrokerKind {
  readonly label: string
  readonly lockPollMs: number

  /**
   * `tls`: also a `stomp+ssl://127.0.0.1:<port>` connector with `<sslContext>` on this PKCS#12 key store.
   * `mqtt`: also an `mqtt://127.0.0.1:<port>` connector (Debian's libmqtt-client-java on the class path).
   */
  constructor(
    private readonly lockAcquireSleepIntervalMs?: number,
    private readonly tls?: { port: number; keyStore: string; password: string },
    private readonly mqtt?: { port: number },
    /** Also an OpenWire `tcp://127.0.0.1:<port>` connector. */
    private readonly openwire?: { port: number },
  ) {
    this.lockPollMs = lockAcquireSleepIntervalMs ?? ACTIVEMQ_LOCK_ACQUIRE_SLEEP_INTERVAL_DEFAULT_MS
    const why = activemqUnavailable()
    if (why) throw new BenchError(why)
    if (mqtt && !fs.existsSync(MQTT_CLIENT_JAR))
      throw new BenchError(`ActiveMQ's MQTT transport needs ${MQTT_CLIENT_JAR}: apt-get install -y libmqtt-client-java`)
    this.label =
      lockAcquireSleepIntervalMs === undefined
        ? 'ActiveMQ 5.17'
        : `ActiveMQ 5.17 (lockAcquireSleepInterval=${lockAcquireSleepIntervalMs})`
  }

  async start(o: StartOptions): Promise<{ proc: BrokerProcess; readyMs: number }> {
    const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfb-bench-amq-'))
    const conf = path.join(baseDir, 'conf')
    fs.mkdirSync(conf)
    fs.mkdirSync(o.dataDir, { recursive: true })
    fs.writeFileSync(
      path.join(conf, 'activemq.xml'),
      withTls(
        activemqXml({
          brokerName: 'bench',
          dataDirectory: path.join(baseDir, 'data'),
          kahaDbDirectory: o.dataDir,
          stompPort: o.port,
          mqttPort: this.mqtt?.port,
          openwirePort: this.openwire?.port,
          lockAcquireSleepInterval: this.lockAcquireSleepIntervalMs,
        }),
        this.tls,
      ),
    )
    // log4j 1.2 (what 5.17's Debian package ships): INFO to stdout, which goes to our log file.
    fs.writeFileSync(
      path.join(conf, 'log4j.properties'),
      'log4j.rootLogger=INFO, out\nlog4j.appender.out=org.apache.log4j.ConsoleAppender\nlog4j.appender.out.layout=org.apache.log4j.PatternLayout\n' +
        'log4j.appender.out.layout.ConversionPattern=%d %-5p [%c{1}] %m%n\nlog4j.logger.org.springframework=WARN\nlog4j.logger.org.apache.xbean=WARN\n',
    )
    const logFile = path.join(baseDir, 'activemq.log')
    const out = fs.openSync(logFile, 'a')
    const t0 = performance.now()
    const child = spawn(
      'java',
      [
        ...ACTIVEMQ_JVM_OPTIONS,
        `-Dactivemq.classpath=${this.mqtt ? `${conf}:${MQTT_CLIENT_JAR}` : conf}`,
        `-Dactivemq.home=${ACTIVEMQ_HOME}`,
        `-Dactivemq.base=${baseDir}`,
        `-Dactivemq.conf=${conf}`,
        `-Dactivemq.data=${path.join(baseDir, 'data')}`,
        `-Dlog4j.configuration=file:${path.join(conf, 'log4j.properties')}`,
        '-jar',
        path.join(ACTIVEMQ_HOME, 'bin', 'activemq.jar'),
        'start',
        `xbean:file:${path.join(conf, 'activemq.xml')}`,
      ],
      { cwd: baseDir, stdio: ['ignore', out, out] },
    )
    fs.closeSync(out)
    const proc = new ChildBroker(this.label, o.port, child, logFile, baseDir)
    try {
      if (o.role === 'primary') await servingProbe(proc, o.timeoutMs, 5)
      else
        await waitUntil(
          `ActiveMQ pid ${proc.pid} waiting as a slave`,
          () => /slave mode|is locked by another server/i.test(proc.logTail()),
          o.timeoutMs,
          20,
          () => proc.alive(),
        )
    } catch (e) {
      const tail = proc.logTail()
      await proc.kill9()
      await proc.stop(0)
      throw new BenchError(`${(e as Error).message}\n${tail}`)
    }
    return { proc, readyMs: performance.now() - t0 }
  }

  serving(proc: BrokerProcess, timeoutMs: number): Promise<number> {
    return servingProbe(proc, timeoutMs, 1)
  }
}

/** ActiveMQ's own way to serve STOMP over TLS: `<sslContext>` with a PKCS#12 key store and a stomp+ssl connector. */
function withTls(xml: string, t: { port: number; keyStore: string; password: string } | undefined): string {
  if (!t) return xml
  const ssl = `<sslContext><sslContext keyStore="file:${t.keyStore}" keyStorePassword="${t.password}" keyStoreType="pkcs12"/></sslContext>\n    `
  return xml
    .replace('<persistenceAdapter>', `${ssl}<persistenceAdapter>`)
    .replace(
      '</transportConnectors>',
      `<transportConnector name="stomp+ssl" uri="stomp+ssl://127.0.0.1:${t.port}"/></transportConnectors>`,
    )
}
