/**
 * Goal (issue 19): one client cannot lock others out or grow the broker's names and admin output without bound.
 * Against a real `sfbroker run` process over real sockets:
 * - 200 silent sockets from 127.0.0.1 against a pre-CONNECT budget of 10 per address: the oldest are shed, a real
 *   client (same address, and another) still gets CONNECTED and a RECEIPT, and the refusal log has a few lines
 *   whose counts add up to the sheds, not one line per socket;
 * - transport.maximumConnectionsPerAddress refuses the next connected client of a full address with an ERROR
 *   (code BROKER_LIMIT) while other addresses get in;
 * - gcInactiveDestinations removes an unused queue and keeps one with a consumer;
 * - /metrics lists metricsDestinationsMax destinations (the deepest) and counts the rest; /status is paged;
 * - maxDestinations: the SEND that would create one too many gets ERROR code BROKER_LIMIT.
 * Method: one broker process (from source), its log read for the refusal and GC lines; distinct client addresses
 * on loopback via localAddress (127.0.0.2...). Assertions are on behaviour and counts, not on timing: every wait is
 * a bounded poll.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
// @ts-expect-error the package ships no type declarations
import parsePrometheus from 'parse-prometheus-text-format'
import { TestProcesses, startBroker, type BrokerProcess } from './fixtures/broker-process.ts'
import { freePorts } from '../src/testing/net-probe.ts'
import { until } from '../src/testing/until.ts'
import { RawClient, frame } from '../src/protocol/stomp/testing/raw-client.ts'

const procs = new TestProcesses()
afterAll(() => procs.cleanup())

const MAX_DESTINATIONS = 60
const METRICS_DESTINATIONS_MAX = 5
const PENDING_PER_ADDRESS = 10
const PER_ADDRESS = 30
let broker: BrokerProcess
let fairPort: number
let adminPort: number

beforeAll(async () => {
  const [plain, fair, admin] = await freePorts(3)
  fairPort = fair!
  adminPort = admin!
  const dir = procs.tempDir('sfbroker-fairness-')
  const config = path.join(dir, 'broker.json')
  fs.writeFileSync(
    config,
    JSON.stringify({
      maxDestinations: MAX_DESTINATIONS,
      schedulePeriodForDestinationPurge: 200,
      destinationPolicy: {
        policyMap: { policyEntries: [{ queue: 'gc.>', gcInactiveDestinations: true, inactiveTimoutBeforeGC: 300 }] },
      },
      admin: { listen: `127.0.0.1:${adminPort}`, metricsDestinationsMax: METRICS_DESTINATIONS_MAX },
    }),
  )
  const fairUri =
    `stomp://127.0.0.1:${fairPort}?maximumConnections=100&transport.maximumConnectionsPerAddress=${PER_ADDRESS}` +
    `&transport.maximumPendingConnects=20&transport.maximumPendingConnectsPerAddress=${PENDING_PER_ADDRESS}&transport.connectAttemptTimeout=60000`
  broker = await startBroker(procs, {
    args: ['--config', config, '--data', path.join(dir, 'data'), '--connector', fairUri],
    port: plain!,
    timeoutMs: 60_000,
  })
}, 90_000)

/** A client that completed CONNECT on the fair connector from `localAddress`. */
async function connected(localAddress = '127.0.0.1'): Promise<RawClient> {
  const c = await RawClient.connect(fairPort, '127.0.0.1', localAddress)
  c.write(frame('CONNECT', { 'accept-version': '1.2', host: 'localhost', 'heart-beat': '0,0' }))
  await c.next('CONNECTED', 0, 15_000)
  return c
}

async function get(p: string): Promise<{ status: number; body: string }> {
  const r = await fetch(`http://127.0.0.1:${adminPort}${p}`)
  return { status: r.status, body: await r.text() }
}

type Family = { name: string; metrics: { value?: string; labels?: Record<string, string> }[] }
async function metrics(): Promise<Family[]> {
  return parsePrometheus((await get('/metrics')).body) as Family[]
}
const gauge = (fs_: Family[], name: string): number =>
  Number(fs_.find((f) => f.name === name)?.metrics[0]?.value ?? NaN)

const refusalLines = (): string[] =>
  broker
    .log()
    .split('\n')
    .filter((l) => l.includes('sockets refused or shed'))

describe('connection fairness', () => {
  test('a real client gets CONNECTED and a RECEIPT while 200 silent sockets from its address hold the pre-CONNECT budget', async () => {
    const silent: net.Socket[] = []
    let closedByServer = 0
    for (let batch = 0; batch < 4; batch++) {
      await Promise.all(
        Array.from(
          { length: 50 },
          () =>
            new Promise<void>((resolve) => {
              const s = net.connect({ host: '127.0.0.1', port: fairPort, localAddress: '127.0.0.1' }, () => resolve())
              s.on('error', () => resolve())
              s.on('close', () => closedByServer++)
              silent.push(s)
            }),
        ),
      )
    }
    // Every socket past the per-address budget shed the oldest one of that address.
    await until(
      async () => closedByServer >= 200 - PENDING_PER_ADDRESS || null,
      'the broker to shed the oldest silent sockets',
      30_000,
    )
    try {
      for (const from of ['127.0.0.1', '127.0.0.2']) {
        const c = await connected(from)
        c.write(frame('SEND', { destination: '/queue/fair', receipt: `r-${from}` }, 'hello'))
        expect((await c.receipt(`r-${from}`, 15_000)).command).toBe('RECEIPT')
        c.write(frame('DISCONNECT', { receipt: 'bye' }))
        await c.receipt('bye', 15_000)
        c.destroy()
      }
      expect(closedByServer).toBeLessThanOrEqual(200 - PENDING_PER_ADDRESS + 1)
      // Rate-limited refusal log: the first shed at once, the rest summed up once per 10 s interval.
      const summed = await until(
        async () => {
          const lines = refusalLines()
          const total = lines.reduce(
            (n, l) => n + [...l.matchAll(/(\d+) silent sockets shed/g)].reduce((m, x) => m + Number(x[1]), 0),
            0,
          )
          return total >= 200 - PENDING_PER_ADDRESS ? { lines, total } : null
        },
        () => `the refusal summary line; log lines: ${refusalLines().join(' | ')}`,
        30_000,
      )
      expect(summed.lines.length).toBeGreaterThanOrEqual(2)
      expect(summed.lines.length).toBeLessThanOrEqual(4)
    } finally {
      for (const s of silent) s.destroy()
    }
  }, 120_000)

  test('transport.maximumConnectionsPerAddress refuses the next client of a full address with BROKER_LIMIT; other addresses get in', async () => {
    const clients: RawClient[] = []
    try {
      for (let i = 0; i < PER_ADDRESS; i++) clients.push(await connected('127.0.0.3'))
      const extra = await RawClient.connect(fairPort, '127.0.0.1', '127.0.0.3')
      const err = await extra.next('ERROR', 0, 15_000)
      expect(err.headers.code).toBe('BROKER_LIMIT')
      expect(err.headers.message).toContain('transport.maximumConnectionsPerAddress')
      await extra.waitClosed(15_000)
      clients.push(await connected('127.0.0.4'))
      // Nothing was shed: the full address held only connected clients.
      expect(clients.every((c) => !c.isClosed)).toBe(true)
    } finally {
      for (const c of clients) c.destroy()
    }
  }, 120_000)
})

describe('bounded names and admin output', () => {
  test('gcInactiveDestinations removes an unused empty queue and keeps one with a consumer', async () => {
    const c = await connected('127.0.0.5')
    c.write(frame('SUBSCRIBE', { id: 'busy', destination: '/queue/gc.busy', receipt: 's1' }))
    c.write(frame('SUBSCRIBE', { id: 'once', destination: '/queue/gc.once', receipt: 's2' }))
    await c.receipt('s2', 15_000)
    c.write(frame('UNSUBSCRIBE', { id: 'once', receipt: 'u1' }))
    await c.receipt('u1', 15_000)
    const line = await until(
      async () =>
        broker
          .log()
          .split('\n')
          .find((l) => l.includes('inactive destination(s)') && l.includes('/queue/gc.once')) ?? null,
      'the GC of /queue/gc.once',
      30_000,
    )
    expect(line).not.toContain('/queue/gc.busy')
    // Sweeps later the queue in use is still there (its consumer gets a message sent to it).
    const p = await connected('127.0.0.5')
    p.write(frame('SEND', { destination: '/queue/gc.busy', receipt: 'p1' }, 'still here'))
    await p.receipt('p1', 15_000)
    expect((await c.next('MESSAGE', 0, 15_000)).headers.destination).toBe('/queue/gc.busy')
    expect(broker.log()).not.toMatch(/inactive destination\(s\).*\/queue\/gc\.busy/)
    c.destroy()
    p.destroy()
  }, 120_000)

  test('/metrics lists metricsDestinationsMax destinations (the deepest) and counts the rest; /status is paged', async () => {
    const c = await connected('127.0.0.6')
    for (let i = 0; i < 40; i++) {
      const n = i >= 37 ? 3 : 1
      for (let k = 0; k < n; k++) c.write(frame('SEND', { destination: `/queue/m.${i}`, persistent: 'true' }, 'x'))
    }
    c.write(frame('SEND', { destination: '/queue/m.39', persistent: 'true', receipt: 'last' }, 'x'))
    await c.receipt('last', 30_000)
    const m = await metrics()
    const depth = m.find((f) => f.name === 'sfbroker_destination_depth')!
    expect(depth.metrics.length).toBe(METRICS_DESTINATIONS_MAX)
    expect(depth.metrics.map((x) => x.labels?.destination)).toEqual(
      expect.arrayContaining(['/queue/m.37', '/queue/m.38', '/queue/m.39']),
    )
    const total = gauge(m, 'sfbroker_destinations')
    expect(total).toBeGreaterThanOrEqual(40)
    expect(gauge(m, 'sfbroker_destination_series_omitted')).toBe(total - METRICS_DESTINATIONS_MAX)
    expect(gauge(m, 'sfbroker_destination_omitted_depth')).toBeGreaterThanOrEqual(35)
    // /status pages the store summary's destinations (the summary is written every few seconds).
    const st = await until(
      async () => {
        const r = await get('/status?offset=1&limit=2')
        const body = JSON.parse(r.body)
        return body.store?.destinationsPage?.total >= 40 ? body : null
      },
      '/status with the stored destinations',
      30_000,
    )
    expect(st.store.destinations.length).toBe(2)
    expect(st.store.destinationsPage).toMatchObject({ offset: 1, limit: 2 })
    expect((await get('/status?limit=100000')).status).toBe(400)
    c.destroy()
  }, 120_000)

  test('maxDestinations: the SEND that would create one destination too many gets ERROR code BROKER_LIMIT', async () => {
    const c = await connected('127.0.0.7')
    let err: { headers: Record<string, string> } | null = null
    for (let i = 0; i < MAX_DESTINATIONS + 5 && err === null; i++) {
      c.write(frame('SEND', { destination: `/queue/x.${i}`, receipt: `x${i}` }, 'x'))
      await c.waitFor(
        () =>
          c.frames.some(
            (f) => (f.command === 'RECEIPT' && f.headers['receipt-id'] === `x${i}`) || f.command === 'ERROR',
          ),
        15_000,
        `the outcome of SEND x.${i}`,
      )
      err = c.frames.find((f) => f.command === 'ERROR') ?? null
    }
    expect(err?.headers.code).toBe('BROKER_LIMIT')
    expect(err?.headers.message).toContain('maxDestinations')
    expect(gauge(await metrics(), 'sfbroker_destinations')).toBe(MAX_DESTINATIONS)
    // Existing destinations still take messages.
    const d = await connected('127.0.0.7')
    d.write(frame('SEND', { destination: '/queue/x.0', receipt: 'again' }, 'x'))
    expect((await d.receipt('again', 15_000)).command).toBe('RECEIPT')
    c.destroy()
    d.destroy()
  }, 120_000)
})
