/**
 * Goal: the admin console works in a real browser against the compiled binary, for an HA pair: both consoles show
 * the primary and the replica; a message sent from the page is found by browsing; it moves to another queue;
 * purge empties a queue; after kill -9 of the primary the other node's console turns primary and its takeover
 * joins the timeline; the API refuses a write without the guard.
 * Method: two `sfbroker run` processes (compiled) on one temp dir with `--admin ... --admin-writable`, Debian's
 * headless Chromium driven by playwright-core. Every wait is a bounded poll of what the page shows; no timing is
 * asserted. With SFBROKER_CONSOLE_SCREENSHOTS=<dir> it also saves the screenshots the README shows.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import fs from 'node:fs'
import path from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { compiledBinary } from './fixtures/binary.ts'
import { TestProcesses, killed, startBroker, type BrokerProcess } from './fixtures/broker-process.ts'
import { freePorts } from '../src/testing/net-probe.ts'
import { until } from '../src/testing/until.ts'

const CHROMIUM = process.env.SFBROKER_CHROMIUM ?? '/usr/bin/chromium'
const haveChromium = fs.existsSync(CHROMIUM)
const SHOTS = process.env.SFBROKER_CONSOLE_SCREENSHOTS ?? null
const WAIT_MS = 45_000

const procs = new TestProcesses()
let browser: Browser | null = null
let bin = ''
afterAll(async () => {
  await browser?.close().catch(() => {})
  procs.cleanup()
})

beforeAll(() => {
  if (haveChromium) bin = compiledBinary()
}, 300_000)

async function shot(page: Page, name: string): Promise<void> {
  if (!SHOTS) return
  await page.screenshot({ path: path.join(SHOTS, `console-${name}.png`), fullPage: true })
}

test.skipIf(!haveChromium)(
  'console: group view, send/browse/move/purge from the page, failover seen by the replica console, guarded writes',
  async () => {
    const dir = procs.tempDir('sfb-console-')
    const [s1, s2, a1, a2] = await freePorts(4)
    const args = (admin: number): string[] => [
      '--data',
      dir,
      '--admin',
      `127.0.0.1:${admin}`,
      '--admin-writable',
      '--log-level',
      'warn',
    ]
    const b1: BrokerProcess = await startBroker(procs, { command: [bin], args: args(a1), port: s1, timeoutMs: WAIT_MS })
    const b2 = await startBroker(procs, { command: [bin], args: args(a2), port: s2, waitServing: false })
    const c1 = `http://127.0.0.1:${a1}/console/`
    const c2 = `http://127.0.0.1:${a2}/console/`

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
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const page = await ctx.newPage()
    page.on('dialog', (d) => void d.accept())

    // 1. Both consoles show the primary and the replica.
    await page.goto(c1)
    await page.locator('#role-badge', { hasText: 'primary' }).waitFor({ timeout: WAIT_MS })
    await page.locator('#group-body tr[data-node]').first().waitFor({ timeout: WAIT_MS })
    const primaryId = (await page.locator('#primary-node').textContent())!.trim()
    const replicaId = (await page.locator('#group-body tr[data-node]').first().getAttribute('data-node'))!
    expect(replicaId).not.toBe(primaryId)
    await shot(page, 'group')
    const p2 = await ctx.newPage()
    p2.on('dialog', (d) => void d.accept())
    await p2.goto(c2)
    await p2.locator('#role-badge', { hasText: 'replica' }).waitFor({ timeout: WAIT_MS })
    await p2.locator('#replica-banner #primary-link').waitFor({ timeout: WAIT_MS })
    expect(await p2.locator('#replica-banner #primary-link').getAttribute('href')).toBe(c1)
    expect(await p2.locator('#primary-node').textContent()).toBe(primaryId)
    await shot(p2, 'replica')
    if (SHOTS) {
      const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1 })
      await phone.goto(c1)
      await phone.locator('#group-body tr[data-node]').first().waitFor({ timeout: WAIT_MS })
      await shot(phone, 'phone')
      await phone.close()
    }

    // 2. Send from the page, find it by browsing.
    await page.goto(`${c1}#queue/${encodeURIComponent('/queue/console.in')}`)
    await page.fill('#send-body', 'hello from the console')
    await page.fill('#send-headers', 'type: greeting')
    await page.click('#send-btn')
    const row = page.locator('#queue-body tr[data-id]', { hasText: 'hello from the console' })
    await row.waitFor({ timeout: WAIT_MS })
    const id = (await row.getAttribute('data-id'))!
    await shot(page, 'queue')

    // 3. Move it to another queue.
    await row.locator('input[type=checkbox]').check()
    await page.fill('#move-to', '/queue/console.out')
    await page.click('#move-selected')
    await until(
      async () => (await page.locator('#queue-body tr[data-id]').count()) === 0,
      'the moved message to leave /queue/console.in',
      WAIT_MS,
    )
    await page.goto(`${c1}#queue/${encodeURIComponent('/queue/console.out')}`)
    await page.locator(`#queue-body tr[data-id="${id}"]`).waitFor({ timeout: WAIT_MS })

    // 4. Purge (after two more messages).
    for (const body of ['two', 'three']) {
      await page.fill('#send-body', body)
      await page.click('#send-btn')
      await page.locator('#queue-body tr[data-id]', { hasText: body }).waitFor({ timeout: WAIT_MS })
    }
    await page.click('#purge-btn')
    await until(
      async () =>
        (await page.locator('#queue-body tr[data-id]').count()) === 0 &&
        /^0 messages/.test((await page.locator('#queue-summary').textContent()) ?? ''),
      'the purged queue to show no message',
      WAIT_MS,
    )
    await page.goto(`${c1}#destinations`)
    await page.locator('#dest-body tr[data-dest="/queue/console.out"]').waitFor({ timeout: WAIT_MS })
    await shot(page, 'destinations')

    // 6. The API refuses a write without the guard (no token), and one from another origin.
    const noToken = await fetch(
      `http://127.0.0.1:${a1}/api/destinations/${encodeURIComponent('/queue/console.in')}/purge`,
      { method: 'POST', body: '{}' },
    )
    expect(noToken.status).toBe(403)
    expect(((await noToken.json()) as { code: string }).code).toBe('ADMIN_CSRF')
    const token = ((await (await fetch(`http://127.0.0.1:${a1}/api/node`)).json()) as { csrfToken: string }).csrfToken
    const crossOrigin = await fetch(
      `http://127.0.0.1:${a1}/api/destinations/${encodeURIComponent('/queue/console.in')}/purge`,
      { method: 'POST', body: '{}', headers: { 'x-sfbroker-csrf': token, origin: 'http://evil.example' } },
    )
    expect(crossOrigin.status).toBe(403)

    // 5. kill -9 the primary: the other console turns primary and its takeover joins the timeline.
    const epochsBefore = await p2.locator('#timeline li').count()
    await killed(b1.child)
    await p2.locator('#role-badge', { hasText: 'primary' }).waitFor({ timeout: WAIT_MS })
    await until(
      async () =>
        (await p2.locator('#timeline li').count()) > epochsBefore &&
        (await p2.locator('#timeline li').first().textContent())!.includes(replicaId),
      () => `a takeover by ${replicaId} in the timeline; log: ${b2.log().slice(-2000)}`,
      WAIT_MS,
    )
    expect(await p2.locator('#replica-banner').isHidden()).toBe(true)
    await shot(p2, 'failover')
  },
  240_000,
)
