/**
 * Goal: the console's JSON API (README "Console API") without a browser: the guard (token, origin, writable
 * switch) refuses writes with stable codes, replicas answer the group view and refuse broker calls, paging,
 * delete, move, copy, purge and destination removal behave as documented, and an operator can see and close a
 * client connection. Method: the compiled binary as a writable primary, a replica and a read-only single node;
 * fetch for HTTP and a raw STOMP socket for the client. Waits are bounded polls; nothing is timed.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import net from 'node:net'
import { compiledBinary } from './fixtures/binary.ts'
import { TestProcesses, startBroker } from './fixtures/broker-process.ts'
import { freePorts } from '../src/testing/net-probe.ts'
import { until } from '../src/testing/until.ts'

const procs = new TestProcesses()
afterAll(() => procs.cleanup())
let bin = ''
beforeAll(() => {
  bin = compiledBinary()
}, 300_000)

type J = Record<string, unknown> & { code?: string }
async function call(
  port: number,
  method: string,
  p: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: J }> {
  const r = await fetch(`http://127.0.0.1:${port}${p}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: r.status, json: (await r.json().catch(() => ({}))) as J }
}
const q = (name: string): string => encodeURIComponent(name)

test('console API: guard, replica view, paging, delete/move/copy/purge, connections', async () => {
  const dir = procs.tempDir('sfb-console-api-')
  const solo = procs.tempDir('sfb-console-ro-')
  const [s1, s2, s3, a1, a2, a3] = await freePorts(6)
  await startBroker(procs, {
    command: [bin],
    args: ['--data', dir, '--admin', `127.0.0.1:${a1}`, '--admin-writable', '--log-level', 'warn'],
    port: s1,
  })
  await startBroker(procs, {
    command: [bin],
    args: ['--data', dir, '--admin', `127.0.0.1:${a2}`, '--admin-writable', '--log-level', 'warn'],
    port: s2,
    waitServing: false,
  })
  await startBroker(procs, {
    command: [bin],
    args: ['--data', solo, '--admin', `127.0.0.1:${a3}`, '--log-level', 'warn'],
    port: s3,
  })

  const node = (await call(a1, 'GET', '/api/node')).json as {
    csrfToken: string
    csrfHeader: string
    role: string
    writable: boolean
  }
  expect([node.role, node.writable, node.csrfHeader]).toEqual(['primary', true, 'x-sfbroker-csrf'])
  const guard = { 'x-sfbroker-csrf': node.csrfToken, 'content-type': 'application/json' }

  // The replica: group view with the primary's console link; broker calls and writes refused.
  const group = await until(
    async () => {
      const g = (await call(a2, 'GET', '/api/group')).json as {
        self: { role: string }
        primaryConsole: string | null
        replicas: unknown[]
      }
      return g.self.role === 'replica' && g.primaryConsole ? g : null
    },
    'the replica console to see the primary and its console address',
    30_000,
  )
  expect(group.primaryConsole).toBe(`http://127.0.0.1:${a1}/console/`)
  expect((await call(a2, 'GET', '/api/destinations')).json.code).toBe('ADMIN_NOT_PRIMARY')
  const replicaToken = ((await call(a2, 'GET', '/api/node')).json as { csrfToken: string }).csrfToken
  const rw = await call(
    a2,
    'POST',
    `/api/destinations/${q('/queue/a')}/messages`,
    { body: 'x' },
    { 'x-sfbroker-csrf': replicaToken },
  )
  expect([rw.status, rw.json.code]).toEqual([409, 'ADMIN_NOT_PRIMARY'])

  // The guard: no token, a wrong token, another origin; a read-only listener.
  const send = (port: number, body: unknown, headers: Record<string, string>) =>
    call(port, 'POST', `/api/destinations/${q('/queue/a')}/messages`, body, headers)
  expect((await send(a1, { body: 'x' }, {})).json.code).toBe('ADMIN_CSRF')
  expect((await send(a1, { body: 'x' }, { 'x-sfbroker-csrf': 'f'.repeat(32) })).json.code).toBe('ADMIN_CSRF')
  const evil = await send(a1, { body: 'x' }, { ...guard, origin: 'http://evil.example' })
  expect([evil.status, evil.json.code]).toEqual([403, 'ADMIN_CSRF'])
  const roToken = ((await call(a3, 'GET', '/api/node')).json as { csrfToken: string }).csrfToken
  const ro = await send(a3, { body: 'x' }, { 'x-sfbroker-csrf': roToken })
  expect([ro.status, ro.json.code]).toEqual([403, 'ADMIN_READ_ONLY'])
  expect((await call(a3, 'GET', '/api/destinations')).status).toBe(200)
  expect((await call(a1, 'GET', '/api/nope')).status).toBe(404)
  expect((await call(a1, 'PUT', '/api/destinations')).status).toBe(405)

  // Send 30, page through them, delete one, move two, copy one, purge the rest.
  for (let i = 0; i < 30; i++) {
    const r = await send(a1, { body: `m${i}`, persistent: i % 2 === 0, headers: { n: String(i) } }, guard)
    expect(r.status).toBe(200)
  }
  const page = (offset: number, limit: number) =>
    call(a1, 'GET', `/api/destinations/${q('/queue/a')}/messages?offset=${offset}&limit=${limit}`)
  const p0 = (await page(0, 10)).json as {
    depth: number
    more: boolean
    messages: { id: string; bodyPreview: string; persistent: boolean }[]
  }
  expect([p0.depth, p0.more, p0.messages.length, p0.messages[0]!.bodyPreview, p0.messages[0]!.persistent]).toEqual([
    30,
    true,
    10,
    'm0',
    true,
  ])
  const p2 = (await page(25, 10)).json as typeof p0
  expect([p2.more, p2.messages.map((m) => m.bodyPreview)]).toEqual([false, ['m25', 'm26', 'm27', 'm28', 'm29']])
  expect((await page(0, 100_000)).status).toBe(400)
  const ids = ((await page(0, 30)).json as typeof p0).messages.map((m) => m.id)
  expect(
    (await call(a1, 'DELETE', `/api/destinations/${q('/queue/a')}/messages/${q(ids[0]!)}`, undefined, guard)).json,
  ).toEqual({ deleted: 1 })
  expect(
    (await call(a1, 'DELETE', `/api/destinations/${q('/queue/a')}/messages/${q(ids[0]!)}`, undefined, guard)).status,
  ).toBe(404)
  expect(
    (
      await call(
        a1,
        'POST',
        `/api/destinations/${q('/queue/a')}/move`,
        { to: '/queue/b', ids: [ids[1], ids[2]] },
        guard,
      )
    ).json,
  ).toEqual({ moved: 2, to: '/queue/b' })
  expect(
    (
      await call(
        a1,
        'POST',
        `/api/destinations/${q('/queue/a')}/move`,
        { to: '/queue/c', ids: [ids[3]], copy: true },
        guard,
      )
    ).json,
  ).toEqual({ copied: 1, to: '/queue/c' })
  expect((await call(a1, 'DELETE', `/api/destinations/${q('/queue/a')}`, undefined, guard)).status).toBe(400)
  expect((await call(a1, 'POST', `/api/destinations/${q('/queue/a')}/purge`, undefined, guard)).json).toEqual({
    purged: 27,
  })
  expect((await call(a1, 'DELETE', `/api/destinations/${q('/queue/a')}`, undefined, guard)).status).toBe(200)
  const dests = (await call(a1, 'GET', '/api/destinations')).json as {
    destinations: { destination: string; depth: number; rates: { enqueue: number[] } }[]
  }
  expect(dests.destinations.map((d) => [d.destination, d.depth])).toEqual([
    ['/queue/b', 2],
    ['/queue/c', 1],
  ])

  // A client connection with a subscription is listed, then closed by the operator.
  const sock = net.connect({ port: s1, host: '127.0.0.1' })
  let got = ''
  let closed = false
  sock.on('data', (d) => (got += d.toString()))
  sock.on('close', () => (closed = true))
  sock.on('error', () => {})
  sock.write(
    'CONNECT\naccept-version:1.2\nhost:localhost\nclient-id:console-test\nlogin:alice\n\n\0SUBSCRIBE\nid:s1\ndestination:/queue/z\nack:client\nactivemq.prefetchSize:7\n\n\0',
  )
  type Conn = {
    sessionId: string
    clientId: string
    login: string
    protocol: string
    protocolVersion: string
    subscriptions: { id: string; destination: string; prefetch: number; inflight: number }[]
  }
  const conn = await until(
    async () => {
      const cs = ((await call(a1, 'GET', '/api/connections')).json as { connections: Conn[] }).connections
      return cs.find((c) => c.clientId === 'console-test' && c.subscriptions.length === 1) ?? null
    },
    'the STOMP client in /api/connections',
    20_000,
  )
  expect([conn.login, conn.protocol, conn.protocolVersion, conn.subscriptions[0]]).toEqual([
    'alice',
    'stomp',
    '1.2',
    {
      id: 's1',
      destination: '/queue/z',
      ack: 'client',
      prefetch: 7,
      inflight: 0,
      selector: false,
      browser: false,
    } as never,
  ])
  expect((await call(a1, 'DELETE', `/api/connections/${q(conn.sessionId)}`, undefined, guard)).json).toEqual({
    closed: conn.sessionId,
  })
  await until(() => closed, 'the closed client socket to end', 20_000)
  expect(got).toContain('ERROR')
  expect((await call(a1, 'DELETE', `/api/connections/${q(conn.sessionId)}`, undefined, guard)).status).toBe(404)

  // Store view, and the page itself with its security headers.
  const store = (await call(a1, 'GET', '/api/store')).json as {
    adapter: string
    live: { messages: number } | null
    files: unknown[]
  }
  expect(store.adapter).toBe('kahaDB')
  expect(store.files.length).toBeGreaterThan(0)
  const html = await fetch(`http://127.0.0.1:${a1}/console/`)
  expect(html.status).toBe(200)
  expect(html.headers.get('content-security-policy')).toContain("script-src 'self'")
  expect(await html.text()).toContain('/console/app.js')
}, 180_000)
