/**
 * Goal: the admin console's access with security configured (#18 "Access", #15 admin endpoint): users of the
 * admin group read and write, users of `readOnlyGroups` see the page and every GET but each write is refused with
 * 403 ADMIN_READ_ONLY_USER, other users get 403 ADMIN_FORBIDDEN, no or wrong credentials 401 (/health stays
 * open); the CSRF guard still applies to admins; no password shows in a response or the broker log. Also: a
 * `probe-lock` verdict saved in the shared directory appears in `status` (text and --json) and the console's
 * group view, and scheduled jobs are listed with their next due time.
 * Method: the compiled binary with an ActiveMQ-style XML (simpleAuthenticationPlugin, <admin readOnlyGroups>),
 * fetch with HTTP Basic, and Debian's Chromium (playwright-core, httpCredentials) for the page when present.
 * Every wait is a bounded poll; nothing is timed.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import { compiledBinary } from './fixtures/binary.ts'
import { TestProcesses, startBroker } from './fixtures/broker-process.ts'
import { freePorts } from '../src/testing/net-probe.ts'
import { until } from '../src/testing/until.ts'

const CHROMIUM = process.env.SFBROKER_CHROMIUM ?? '/usr/bin/chromium'
const haveChromium = fs.existsSync(CHROMIUM)
const WAIT_MS = 45_000
const PASSWORDS = { admin: 'adm-Secret-4711', watcher: 'watch-Secret-0815', app: 'app-Secret-1234' }
const WRONG = 'wrong-Secret-9999'

const procs = new TestProcesses()
let browser: Browser | null = null
let bin = ''
afterAll(async () => {
  await browser?.close().catch(() => {})
  procs.cleanup()
})
beforeAll(() => {
  bin = compiledBinary()
}, 300_000)

type J = Record<string, unknown> & { code?: string; error?: string }
const basic = (user: string, password: string): Record<string, string> => ({
  authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
})
async function call(
  port: number,
  method: string,
  p: string,
  headers: Record<string, string> = {},
  body?: unknown,
): Promise<{ status: number; json: J; text: string; headers: Headers }> {
  const r = await fetch(`http://127.0.0.1:${port}${p}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await r.text()
  let json: J = {}
  try {
    json = JSON.parse(text) as J
  } catch {
    // not JSON (the page)
  }
  return { status: r.status, json, text, headers: r.headers }
}
const q = (name: string): string => encodeURIComponent(name)

test('console access: admin writes, read-only user reads and is refused writes, others 401/403; saved probe-lock verdict and next-due jobs shown', async () => {
  const dir = procs.tempDir('sfb-console-access-')
  const [stomp, admin] = await freePorts(2)
  const file = path.join(dir, 'activemq.xml')
  fs.writeFileSync(
    file,
    `<beans xmlns="http://www.springframework.org/schema/beans">
  <broker xmlns="http://activemq.apache.org/schema/core" brokerName="secured" schedulerSupport="true">
    <plugins>
      <simpleAuthenticationPlugin>
        <users>
          <authenticationUser username="admin" password="${PASSWORDS.admin}" groups="admins,publishers"/>
          <authenticationUser username="watcher" password="${PASSWORDS.watcher}" groups="monitors"/>
          <authenticationUser username="app" password="${PASSWORDS.app}" groups="publishers"/>
        </users>
      </simpleAuthenticationPlugin>
    </plugins>
    <admin listen="127.0.0.1:${admin}" groups="admins" readOnlyGroups="monitors"/>
  </broker>
</beans>
`,
    { mode: 0o600 },
  )
  const b = await startBroker(procs, {
    command: [bin],
    args: ['--config', file, '--data', path.join(dir, 'data'), '--log-level', 'info'],
    port: stomp,
    waitServing: false,
  })
  await until(
    async () => (await call(admin, 'GET', '/health').catch(() => ({ status: 0 }))).status === 200,
    () => `the secured broker to serve; log: ${b.log().slice(-2000)}`,
    WAIT_MS,
  )

  // No credentials, wrong ones, a user of neither group.
  const none = await call(admin, 'GET', '/api/node')
  expect([none.status, none.json.code, none.headers.get('www-authenticate')?.startsWith('Basic')]).toEqual([
    401,
    'ADMIN_UNAUTHENTICATED',
    true,
  ])
  expect((await call(admin, 'GET', '/console/')).status).toBe(401)
  expect((await call(admin, 'GET', '/status')).status).toBe(401)
  const wrong = await call(admin, 'GET', '/api/node', basic('admin', WRONG))
  expect([wrong.status, wrong.json.code, wrong.text.includes(WRONG)]).toEqual([401, 'ADMIN_UNAUTHENTICATED', false])
  const other = await call(admin, 'GET', '/api/node', basic('app', PASSWORDS.app))
  expect([other.status, other.json.code]).toEqual([403, 'ADMIN_FORBIDDEN'])

  // The admin: who am I, writes (the CSRF guard still applies), a scheduled job.
  const A = basic('admin', PASSWORDS.admin)
  const an = (await call(admin, 'GET', '/api/node', A)).json as {
    writable: boolean
    csrfToken: string
    auth: { enabled: boolean; user: string; role: string }
  }
  expect([an.writable, an.auth.enabled, an.auth.user, an.auth.role]).toEqual([true, true, 'admin', 'admin'])
  const sendTo = (who: Record<string, string>, body: unknown, token: string | null) =>
    call(
      admin,
      'POST',
      `/api/destinations/${q('/queue/orders')}/messages`,
      { ...who, ...(token ? { 'x-sfbroker-csrf': token } : {}) },
      body,
    )
  expect((await sendTo(A, { body: 'no token' }, null)).json.code).toBe('ADMIN_CSRF')
  expect((await sendTo(A, { body: 'one' }, an.csrfToken)).status).toBe(200)
  expect((await sendTo(A, { body: 'later', delayMs: 3_600_000 }, an.csrfToken)).status).toBe(200)

  // The read-only user: every GET, no write (with or without the token).
  const W = basic('watcher', PASSWORDS.watcher)
  const wn = (await call(admin, 'GET', '/api/node', W)).json as {
    writable: boolean
    csrfToken: string
    auth: { user: string; role: string; readOnly: boolean; adminGroups: string[] }
  }
  expect([wn.writable, wn.auth.user, wn.auth.role, wn.auth.readOnly, wn.auth.adminGroups]).toEqual([
    false,
    'watcher',
    'read-only',
    true,
    ['admins'],
  ])
  for (const p of [
    '/api/destinations',
    '/api/group',
    '/api/connections',
    '/api/store',
    '/status',
    '/metrics',
    '/console/',
  ])
    expect([p, (await call(admin, 'GET', p, W)).status]).toEqual([p, 200])
  for (const token of [wn.csrfToken, null]) {
    const r = await sendTo(W, { body: 'nope' }, token)
    expect([r.status, r.json.code]).toEqual([403, 'ADMIN_READ_ONLY_USER'])
  }
  expect(
    (await call(admin, 'DELETE', '/api/scheduler/jobs', { ...W, 'x-sfbroker-csrf': wn.csrfToken })).json.code,
  ).toBe('ADMIN_READ_ONLY_USER')
  expect(
    (
      await call(admin, 'POST', `/api/destinations/${q('/queue/orders')}/purge`, {
        ...W,
        'x-sfbroker-csrf': wn.csrfToken,
      })
    ).status,
  ).toBe(403)
  const depth = (
    (await call(admin, 'GET', '/api/destinations', W)).json as {
      destinations: { destination: string; depth: number }[]
    }
  ).destinations.find((d) => d.destination === '/queue/orders')?.depth
  expect(depth).toBe(1)

  // Scheduled jobs with their next due time.
  type Jobs = {
    total: number
    now: number
    jobs: { id: string; destination: string; nextDueAt: number; delayMs: number }[]
  }
  const jobs = (await call(admin, 'GET', '/api/scheduler', W)).json as Jobs
  expect([jobs.total, jobs.jobs.length, jobs.jobs[0]!.destination, jobs.jobs[0]!.delayMs]).toEqual([
    1,
    1,
    '/queue/orders',
    3_600_000,
  ])
  expect(jobs.jobs[0]!.nextDueAt).toBeGreaterThan(jobs.now + 3_000_000)
  expect((await call(admin, 'GET', '/api/scheduler?limit=0', W)).status).toBe(400)

  // probe-lock on the shared directory saves its verdict; status and the console show it.
  const shared = ((await call(admin, 'GET', '/api/group', W)).json as { directory: string; probeLock: unknown })
    .directory
  expect(((await call(admin, 'GET', '/api/group', W)).json as { probeLock: unknown }).probeLock).toBeNull()
  const probe = spawnSync(bin, ['probe-lock', shared, '--json'], { encoding: 'utf8', timeout: 120_000 })
  const pr = JSON.parse(probe.stdout) as {
    savedTo: string
    recommended: string | null
    kinds: { kind: string; verdict: string }[]
  }
  expect(pr.savedTo).toBe(path.join(shared, 'probe-lock.json'))
  const verdict = pr.recommended ? pr.kinds.find((k) => k.kind === pr.recommended)!.verdict : 'NOT SAFE'
  const st = spawnSync(bin, ['status', shared, '--json'], { encoding: 'utf8', timeout: 60_000 })
  const sj = JSON.parse(st.stdout) as {
    probeLock: { verdict: string; host: string; kinds: { kind: string; verdict: string }[] }
  }
  expect([sj.probeLock.verdict, sj.probeLock.host, sj.probeLock.kinds.map((k) => k.kind)]).toEqual([
    verdict,
    os.hostname(),
    ['flock', 'fcntl'],
  ])
  const text = spawnSync(bin, ['status', shared], { encoding: 'utf8', timeout: 60_000 }).stdout
  expect(text).toContain(`probe-lock: ${verdict}`)
  const g = (await call(admin, 'GET', '/api/group', W)).json as { probeLock: { verdict: string } | null }
  expect(g.probeLock?.verdict).toBe(verdict)

  // The page, as each user sees it.
  if (haveChromium) {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
        '--disable-sync',
      ],
    })
    const url = `http://127.0.0.1:${admin}/console/`
    const ro = await (
      await browser.newContext({ httpCredentials: { username: 'watcher', password: PASSWORDS.watcher } })
    ).newPage()
    await ro.goto(url)
    await ro.locator('#whoami', { hasText: 'watcher' }).waitFor({ timeout: WAIT_MS })
    await ro.locator('#access[data-role="read-only"]').waitFor({ timeout: WAIT_MS })
    await ro.locator(`#probe-lock[data-verdict="${verdict}"]`).waitFor({ timeout: WAIT_MS })
    await ro.goto(`${url}#queue/${q('/queue/orders')}`)
    await ro.locator('#queue-body tr[data-id]', { hasText: 'one' }).waitFor({ timeout: WAIT_MS })
    expect([
      await ro.locator('#send-btn').isVisible(),
      await ro.locator('#purge-btn').isVisible(),
      await ro.locator('#queue-body button.write').first().isVisible(),
    ]).toEqual([false, false, false])
    await ro.goto(`${url}#scheduler`)
    const due = ro.locator(`#sched-body tr[data-job="${jobs.jobs[0]!.id}"] td.next-due`)
    await due.waitFor({ timeout: WAIT_MS })
    expect(Number(await due.getAttribute('data-due'))).toBe(jobs.jobs[0]!.nextDueAt)
    expect(await due.textContent()).toMatch(/\(in \d+ (min|s)\)|\(in \d+ h/)
    expect(await ro.locator('#jobs-remove-all').isVisible()).toBe(false)

    const rw = await (
      await browser.newContext({ httpCredentials: { username: 'admin', password: PASSWORDS.admin } })
    ).newPage()
    rw.on('dialog', (d) => void d.accept())
    await rw.goto(`${url}#queue/${q('/queue/orders')}`)
    await rw.locator('#whoami', { hasText: 'admin' }).waitFor({ timeout: WAIT_MS })
    await rw.fill('#send-body', 'sent by the admin from the page')
    await rw.click('#send-btn')
    await rw
      .locator('#queue-body tr[data-id]', { hasText: 'sent by the admin from the page' })
      .waitFor({ timeout: WAIT_MS })
    await rw.goto(`${url}#scheduler`)
    await rw.locator(`#sched-body tr[data-job="${jobs.jobs[0]!.id}"]`).waitFor({ timeout: WAIT_MS })
    await rw.click('#jobs-remove-all')
    await until(
      async () => ((await call(admin, 'GET', '/api/scheduler', A)).json as Jobs).total === 0,
      'the admin to remove all jobs from the page',
      WAIT_MS,
    )
  }

  // No password anywhere in the log; the writes are logged with the user.
  const log = b.log()
  for (const pw of [...Object.values(PASSWORDS), WRONG]) expect([pw, log.includes(pw)]).toEqual([pw, false])
  expect(log).toContain('user "admin"')
}, 300_000)
