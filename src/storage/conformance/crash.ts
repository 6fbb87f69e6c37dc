/**
 * Conformance: the kill -9 group. It runs src/testing/crash-writer.ts in a child process, kills it with SIGKILL at
 * seeded random moments and checks the recovered store against what the child reported durable.
 */
import { test, expect } from 'bun:test'
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { OpenOptions, PersistenceAdapter, RecoveredState } from '../types.ts'
import { dec, loadAll, SeededRandom, strProp, suiteSeed, type AdapterCapabilities } from './harness.ts'

// ---------------------------------------------------------------------------------------------------------------
// kill -9 group

/** Config handed to src/testing/crash-writer.ts as its one JSON argument. */
export interface CrashWriterConfig {
  module: string
  exportName: string
  dir: string
  epoch: number
  seed: number
  round: number
  destinations: number
  inflight: number
  maxBatches: number
  openOptions: Partial<OpenOptions>
}

/** Lines the writer prints (one JSON object each, written with a synchronous write so a kill cannot reorder them). */
export type CrashLine =
  | { t: 'ready'; present: number }
  | { t: 'issue'; b: number; adds: [id: string, destination: string][]; removes: string[] }
  | { t: 'durable'; b: number; seqs: number[] }
  | { t: 'error'; b: number; code: string; message: string }
  | { t: 'finished' }

const CRASH_WRITER = fileURLToPath(new URL('../../testing/crash-writer.ts', import.meta.url))
const CRASH_DESTINATIONS = 4
const CRASH_READY_TIMEOUT_MS = 60_000
const CRASH_KILL_DELAY_MAX_MS = 600

interface Present {
  destination: string
  seq: number
}

/** `r<round>-<n>`: the writer's id scheme, ordered by issue. */
function idOrder(id: string): [number, number] {
  const m = /^r(\d+)-(\d+)$/.exec(id)
  if (!m) throw new Error(`crash check: message id "${id}" is not one the writer issues (r<round>-<n>)`)
  return [Number(m[1]), Number(m[2])]
}

export function describeCrash(
  name: string,
  cap: AdapterCapabilities['crash'],
  openAt: (dir: string, opts?: Partial<OpenOptions>) => Promise<{ a: PersistenceAdapter; rec: RecoveredState }>,
  tmp: () => string,
): void {
  const reason = cap === undefined ? 'adapter declares no crash module' : typeof cap === 'string' ? cap : null
  if (reason !== null || typeof cap !== 'object') {
    test.skip(`${name} recovers every durable write after kill -9 (skipped: ${reason})`, () => {})
    return
  }
  const kills = Number(process.env.CRASH_KILLS ?? '') || cap.kills || 5
  test(
    `${name} recovers every durable write after kill -9 (${kills} kills)`,
    async () => {
      const seed = suiteSeed()
      console.log(`[${name} crash] seed=${seed} kills=${kills} (replay: SEED=${seed})`)
      const r = await runCrashRounds({
        name,
        module: cap.module,
        exportName: cap.exportName,
        openOptions: cap.openOptions,
        kills,
        seed,
        dir: tmp(),
        openAt,
      })
      console.log(
        `[${name} crash] ${kills} kills: ${r.batchesIssued} batches issued, ${r.batchesDurable} reported durable, ${r.messagesAtEnd} messages at the end`,
      )
      expect(r.batchesDurable).toBeGreaterThan(0)
    },
    60_000 + kills * 30_000,
  )
}

export interface CrashRoundsOptions {
  name: string
  /** Module and export the child writer constructs (see AdapterCapabilities.crash). */
  module: string
  exportName: string
  openOptions?: Partial<OpenOptions>
  kills: number
  seed: number
  /** An empty directory the rounds share (each round reopens what the previous one left). */
  dir: string
  /** Opens the store in the parent for verification (a fresh adapter, already opened). */
  openAt: (dir: string, opts?: Partial<OpenOptions>) => Promise<{ a: PersistenceAdapter }>
}

export interface CrashRoundsResult {
  batchesIssued: number
  batchesDurable: number
  messagesAtEnd: number
}

/**
 * The kill -9 check, usable outside describeAdapter: `kills` rounds of (spawn writer, let it write a random
 * while, SIGKILL, reopen, verify). Throws an Error naming seed, round and the broken promise on the first
 * violation. Every child is killed before this returns or throws.
 */
export async function runCrashRounds(o: CrashRoundsOptions): Promise<CrashRoundsResult> {
  const children = new Set<ChildProcess>()
  try {
    return await crashRounds(o, children)
  } finally {
    for (const c of children) c.kill('SIGKILL')
  }
}

async function crashRounds(o: CrashRoundsOptions, children: Set<ChildProcess>): Promise<CrashRoundsResult> {
  const { name, seed, dir, kills } = o
  const rnd = new SeededRandom(seed)
  const dests = Array.from({ length: CRASH_DESTINATIONS }, (_, i) => `q${i}`)
  let state = new Map<string, Present>()
  let epoch = 1
  let totalDurable = 0
  let totalIssued = 0
  const fail = (round: number, what: string): never => {
    throw new Error(`[${name} crash] seed=${seed} round=${round}: ${what}`)
  }

  for (let round = 0; round < kills; round++) {
    const cfg: CrashWriterConfig = {
      module: o.module,
      exportName: o.exportName,
      dir,
      epoch: epoch++,
      seed: seed + round,
      round,
      destinations: CRASH_DESTINATIONS,
      inflight: 8,
      maxBatches: 20_000,
      openOptions: o.openOptions ?? {},
    }
    const lines = await runAndKill(cfg, rnd.int(0, CRASH_KILL_DELAY_MAX_MS), children)
    // Expectations of this round.
    const issuedAdd = new Map<string, { b: number; destination: string }>()
    const issuedRemove = new Map<string, number>()
    const batches = new Map<number, { adds: string[]; removes: string[] }>()
    const durable = new Map<number, number[]>()
    for (const l of lines) {
      if (l.t === 'issue') {
        batches.set(l.b, { adds: l.adds.map((x) => x[0]), removes: l.removes })
        for (const [id, destination] of l.adds) issuedAdd.set(id, { b: l.b, destination })
        for (const id of l.removes) issuedRemove.set(id, l.b)
      } else if (l.t === 'durable') durable.set(l.b, l.seqs)
      else if (l.t === 'error') fail(round, `writer reported a failed write: batch ${l.b} ${l.code} ${l.message}`)
    }
    totalIssued += batches.size
    totalDurable += durable.size

    const { a } = await o.openAt(dir, { epoch: epoch++, ...(o.openOptions ?? {}) })
    const actual = new Map<string, Present>()
    let maxPrevSeq = 0
    for (const p of state.values()) maxPrevSeq = Math.max(maxPrevSeq, p.seq)
    for (const d of dests) {
      const got = await loadAll(a, d)
      let prev: [number, number] = [-1, -1]
      for (const m of got) {
        const ord = idOrder(m.message.messageId)
        if (ord[0] < prev[0] || (ord[0] === prev[0] && ord[1] <= prev[1]))
          fail(round, `order broken in ${d}: ${m.message.messageId} (seq ${m.seq}) after r${prev[0]}-${prev[1]}`)
        prev = ord
        if (dec.decode(m.message.body.subarray(0, m.message.messageId.length + 1)) !== `${m.message.messageId}|`)
          fail(round, `body of ${m.message.messageId} is not the one written`)
        if (strProp(m, 'x-dest') !== d)
          fail(round, `${m.message.messageId} recovered in ${d} but written to ${strProp(m, 'x-dest')}`)
        actual.set(m.message.messageId, { destination: d, seq: m.seq })
      }
    }
    await a.close()

    // Nothing invented: every message was present before or issued this round.
    for (const [id, p] of actual) {
      const before = state.get(id)
      if (before) {
        if (before.seq !== p.seq || before.destination !== p.destination)
          fail(round, `${id} moved: ${JSON.stringify(before)} -> ${JSON.stringify(p)}`)
      } else if (!issuedAdd.has(id)) fail(round, `${id} recovered but never written`)
      else if (p.seq <= maxPrevSeq) fail(round, `${id} got seq ${p.seq}, not above the previous maximum ${maxPrevSeq}`)
    }
    // Earlier messages stay unless a remove was issued; a durable remove is applied.
    for (const [id] of state) {
      const rb = issuedRemove.get(id)
      if (rb === undefined && !actual.has(id)) fail(round, `${id} lost: present before the kill, never removed`)
      if (rb !== undefined && durable.has(rb) && actual.has(id))
        fail(round, `${id} present although its remove (batch ${rb}) was reported durable`)
    }
    // Every add reported durable is present (with its reported seq) unless a remove was issued.
    for (const [b, seqs] of durable) {
      const batch = batches.get(b)
      if (!batch) fail(round, `durable line for batch ${b} without its issue line`)
      batch!.adds.forEach((id, i) => {
        const rb = issuedRemove.get(id)
        const p = actual.get(id)
        if (rb === undefined && !p) fail(round, `${id} (batch ${b}) reported durable but lost`)
        if (p && p.seq !== seqs[i]) fail(round, `${id} recovered with seq ${p.seq}, reported ${seqs[i]}`)
        if (rb !== undefined && durable.has(rb) && p)
          fail(round, `${id} present although its remove (batch ${rb}) was reported durable`)
      })
    }
    // Batches not reported durable are whole or absent.
    for (const [b, batch] of batches) {
      if (durable.has(b)) continue
      const applied = [...batch.adds.map((id) => actual.has(id)), ...batch.removes.map((id) => !actual.has(id))]
      if (applied.some((x) => x !== applied[0]))
        fail(
          round,
          `batch ${b} applied in part: adds ${JSON.stringify(batch.adds)} removes ${JSON.stringify(batch.removes)}`,
        )
    }
    state = actual
  }
  return { batchesIssued: totalIssued, batchesDurable: totalDurable, messagesAtEnd: state.size }
}

/** Spawn the writer, wait until it is ready, let it write `delayMs`, SIGKILL it, return its complete lines. */
async function runAndKill(cfg: CrashWriterConfig, delayMs: number, children: Set<ChildProcess>): Promise<CrashLine[]> {
  const child = spawn(process.execPath, [CRASH_WRITER, JSON.stringify(cfg)], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  let out = ''
  let err = ''
  child.stdout!.setEncoding('utf8')
  child.stderr!.setEncoding('utf8')
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`crash writer not ready after ${CRASH_READY_TIMEOUT_MS} ms; stderr: ${err}`)),
      CRASH_READY_TIMEOUT_MS,
    )
    child.stdout!.on('data', (d: string) => {
      out += d
      if (out.includes('"t":"ready"')) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.stderr!.on('data', (d: string) => (err += d))
    exited.then((code) => {
      clearTimeout(timer)
      if (!out.includes('"t":"ready"'))
        reject(new Error(`crash writer exited with ${code} before ready; stderr: ${err}`))
      else resolve()
    })
  })
  await new Promise((r) => setTimeout(r, delayMs))
  child.kill('SIGKILL')
  await exited
  children.delete(child)
  // Streams may still hold buffered data after exit: wait for their end (bounded).
  await Promise.race([new Promise((r) => child.stdout!.once('close', r)), new Promise((r) => setTimeout(r, 2000))])
  if (err.trim() !== '') console.log(`[crash writer stderr] ${err.trim().slice(0, 2000)}`)
  const lines: CrashLine[] = []
  const parts = out.split('\n')
  parts.pop() // the last piece is incomplete (or empty)
  for (const p of parts) if (p.trim() !== '') lines.push(JSON.parse(p) as CrashLine)
  return lines
}
