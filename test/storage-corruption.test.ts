/**
 * Damage in a stopped broker's journal, over real processes: what an operator sees, and that the broker keeps
 * serving. Method: `sfbroker run` (bun src/main.ts) on a temp dir, `sfbroker produce` puts 20 persistent messages
 * (receipted) on a queue, the broker stops cleanly (so kahaDB checkpoints and the next open does not replay those
 * records), one byte of the 10th message is flipped in db-1.log, the broker starts again: the corruption must be
 * logged at startup with file and offset, shown by `sfbroker status` (text and --json), the 19 intact messages
 * consumed, and the node must stay primary (before the fix it stepped down and retook the lock in a loop as soon as
 * a consumer reached the message). Then a torn tail (partial record appended after kill -9) is reported likewise.
 * Ports random in 20000-60000; every child killed in afterAll; temp dir removed.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import fs from 'node:fs'
import path from 'node:path'
import { TestProcesses, runCli, startBroker, type BrokerProcess } from './fixtures/broker-process.ts'
import { pickPort, until } from '../src/testing/net-probe.ts'

const procs = new TestProcesses()
afterAll(() => procs.cleanup())

type Node = BrokerProcess

function startNode(dataDir: string, port: number): Promise<Node> {
  return startBroker(procs, { args: ['--data', dataDir, '--log-format', 'json'], port })
}

function cli(args: string[], timeoutMs = 60_000): ReturnType<typeof runCli> {
  return runCli(procs, args, { timeoutMs })
}

/** Poll `fn` every 200 ms until it returns non-null (bounded). */
function waitFor<T>(what: string, fn: () => Promise<T | null> | T | null, timeoutMs = 30_000): Promise<T> {
  return until(fn, what, timeoutMs, 200) as Promise<T>
}

/** JSON log lines of a node. */
function logLines(n: Node): { level: string; msg: string; [k: string]: unknown }[] {
  return n
    .log()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l))
}

describe('journal damage over real processes', () => {
  test("a flipped byte in a stopped broker's db-1.log is reported at startup and by status; the rest is served, the node stays primary", async () => {
    const dir = procs.tempDir('sfbroker-corrupt-')
    const port = await pickPort()
    const url = `tcp://127.0.0.1:${port}`
    let node = await startNode(dir, port)
    const prod = await cli([
      'produce',
      '--url',
      url,
      '--destination',
      'queue://ROT',
      '--count',
      '20',
      '--message',
      'qa-corruption-body',
    ])
    expect(prod.code).toBe(0)
    // Past one checkpointInterval (5 s): the index covers the messages, so the reopen does not replay them and
    // only the background verification can find the damage.
    await Bun.sleep(6500)
    node.child.kill('SIGTERM')
    expect(await node.exited).toBe(0)
    expect(fs.readdirSync(dir).some((n) => /^index-\d+\.ckpt$/.test(n))).toBe(true)

    // Flip one byte inside the 10th message body.
    const seg = path.join(dir, 'db-1.log')
    const bytes = fs.readFileSync(seg)
    let at = -1
    for (let i = 0; i < 10; i++) at = bytes.indexOf('qa-corruption-body', at + 1)
    expect(at).toBeGreaterThan(0)
    bytes[at + 3] ^= 0xff
    fs.writeFileSync(seg, bytes)

    node = await startNode(dir, port)
    const reported = await waitFor(
      'the corrupt-message log line',
      () =>
        logLines(node).find((l) => l.level === 'error' && l.tag === 'storage' && /corrupt message at/.test(l.msg)) ??
        null,
    )
    expect(reported.file).toBe(seg)
    expect(reported.code).toBe('STORAGE_CORRUPT_RECORD')

    const json = await waitFor('status --json listing the corruption', async () => {
      const st = await cli(['status', dir, '--json'])
      const r = JSON.parse(st.out)
      return r.store?.integrity?.store?.corruptCount === 1 ? r : null
    })
    expect(json.exitCode).toBe(0)
    expect(json.store.integrity.store.corrupt[0].file).toBe(seg)
    expect(json.warnings.some((w: string) => /store: 1 corrupt/.test(w))).toBe(true)
    const text = await cli(['status', dir])
    expect(text.code).toBe(0)
    expect(text.out).toContain(
      `WARNING: store: 1 corrupt record(s) or message(s) found in the store, not delivered; first at ${seg}:`,
    )
    expect(text.out).toContain('store corrupt:')

    const cons = await cli([
      'consume',
      '--url',
      url,
      '--destination',
      'queue://ROT',
      '--count',
      '19',
      '--timeout',
      '10000',
      '--quiet',
    ])
    expect(cons.code).toBe(0)
    expect(cons.out + cons.err).toContain('consumed 19 message(s)')
    // Still the same primary, never stepped down.
    expect(logLines(node).some((l) => l.event === 'role' && l.from === 'primary')).toBe(false)
    expect(node.child.exitCode).toBe(null)

    // Torn tail: kill -9, append half a record to the newest segment, start again.
    node.child.kill('SIGKILL')
    await node.exited
    const newest = fs
      .readdirSync(dir)
      .filter((n) => /^db-\d+\.log$/.test(n))
      .sort((a, b) => Number(a.slice(3, -4)) - Number(b.slice(3, -4)))
      .at(-1)!
    const newestPath = path.join(dir, newest)
    const sizeBefore = fs.statSync(newestPath).size
    fs.appendFileSync(newestPath, Buffer.from([0x40, 0, 0, 0, 1, 2, 3]))
    node = await startNode(dir, port)
    const torn = logLines(node).find((l) => /torn tail/.test(l.msg))
    expect(torn).toBeDefined()
    const tornJson = await waitFor('status --json listing the torn tail', async () => {
      const r = JSON.parse((await cli(['status', dir, '--json'])).out)
      return r.store?.integrity?.store?.tornTail ? r : null
    })
    expect(tornJson.store.integrity.store.tornTail).toEqual({ file: newestPath, offset: sizeBefore, bytes: 7 })
    expect((await cli(['status', dir])).out).toContain(
      `store: torn tail cut off at recovery: ${newestPath}:${sizeBefore} (7 bytes`,
    )
    node.child.kill('SIGTERM')
    expect(await node.exited).toBe(0)
  }, 240_000)
})
