/**
 * The in-memory index of a journal store: per destination an ordered column store of small entries
 * (seq, segment id, op offset, op length, body bytes) — never bodies, so a deep queue costs ~29 bytes per message
 * in RAM and `load()` reads bodies from the journal page by page. Also: durable subscriptions, the producer-dedupe
 * window (recent dedupe keys, insertion order, bounded) and, per segment, how many live messages it still holds
 * (the GC's input). It also (de)serialises itself as the kahaDB checkpoint (binary, CRC-protected, versioned).
 * It does no I/O.
 */
import { BrokerError } from '../../lib/errors.ts'
import type { DestinationSummary, DurableSubscriptionRecord } from '../types.ts'
import { checksum, Reader } from './format.ts'

export interface Location {
  file: number
  offset: number
  length: number
}

/** Entries of one destination in seq order; removed entries are tombstoned and compacted in amortised O(1). */
export class DestIndex {
  n = 0
  live = 0
  bodyBytes = 0
  cap: number
  seq: Float64Array
  file: Uint32Array
  off: Float64Array
  len: Uint32Array
  body: Uint32Array
  alive: Uint8Array
  constructor(cap = 16) {
    this.cap = cap
    this.seq = new Float64Array(cap)
    this.file = new Uint32Array(cap)
    this.off = new Float64Array(cap)
    this.len = new Uint32Array(cap)
    this.body = new Uint32Array(cap)
    this.alive = new Uint8Array(cap)
  }
  private grow(min: number) {
    let cap = Math.max(16, this.cap * 2)
    while (cap < min) cap *= 2
    const g = <T extends Float64Array | Uint32Array | Uint8Array>(a: T, C: new (n: number) => T): T => {
      const b = new C(cap)
      b.set(a.subarray(0, this.n) as never)
      return b
    }
    this.seq = g(this.seq, Float64Array)
    this.file = g(this.file, Uint32Array)
    this.off = g(this.off, Float64Array)
    this.len = g(this.len, Uint32Array)
    this.body = g(this.body, Uint32Array)
    this.alive = g(this.alive, Uint8Array)
    this.cap = cap
  }
  push(seq: number, file: number, off: number, len: number, body: number) {
    if (this.n > 0 && seq <= this.seq[this.n - 1])
      throw new Error(`assertion failed: seq ${seq} after ${this.seq[this.n - 1]}`)
    if (this.n === this.cap) this.grow(this.n + 1)
    const i = this.n++
    this.seq[i] = seq
    this.file[i] = file
    this.off[i] = off
    this.len[i] = len
    this.body[i] = body
    this.alive[i] = 1
    this.live++
    this.bodyBytes += body
  }
  /** First index with seq > s. */
  upper(s: number): number {
    let lo = 0
    let hi = this.n
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.seq[mid] <= s) lo = mid + 1
      else hi = mid
    }
    return lo
  }
  /** Remove seq; returns the segment id that held it, or -1 when absent. */
  remove(s: number): number {
    const i = this.upper(s) - 1
    if (i < 0 || this.seq[i] !== s || !this.alive[i]) return -1
    this.alive[i] = 0
    this.live--
    this.bodyBytes -= this.body[i]
    const f = this.file[i]
    if (this.n - this.live > 1024 && this.n - this.live > this.live) this.compact()
    return f
  }
  compact() {
    let j = 0
    for (let i = 0; i < this.n; i++) {
      if (!this.alive[i]) continue
      if (i !== j) {
        this.seq[j] = this.seq[i]
        this.file[j] = this.file[i]
        this.off[j] = this.off[i]
        this.len[j] = this.len[i]
        this.body[j] = this.body[i]
        this.alive[j] = 1
      }
      j++
    }
    this.n = j
  }
}

/** Recent message ids, bounded, oldest evicted first; each remembers the segment that recorded it (amq GC). */
export class DedupeWindow {
  private ring: (string | undefined)[]
  private head = 0
  size = 0
  readonly ids = new Map<string, number>()
  constructor(readonly capacity: number) {
    this.ring = new Array(Math.max(1, capacity))
  }
  add(id: string, file: number) {
    if (this.capacity <= 0) return
    if (this.ids.has(id)) {
      this.ids.set(id, file)
      return
    }
    if (this.size === this.capacity) {
      const old = this.ring[this.head]!
      this.ids.delete(old)
      this.ring[this.head] = id
      this.head = (this.head + 1) % this.capacity
    } else {
      this.ring[(this.head + this.size) % this.capacity] = id
      this.size++
    }
    this.ids.set(id, file)
  }
  has(id: string) {
    return this.ids.has(id)
  }
  /** Oldest first. */
  *entries(): Generator<[string, number]> {
    for (let i = 0; i < this.size; i++) {
      const id = this.ring[(this.head + i) % this.capacity]!
      yield [id, this.ids.get(id)!]
    }
  }
}

export const subKey = (clientId: string, subscriptionName: string) => `${clientId}\u0000${subscriptionName}`

export class IndexState {
  readonly dests = new Map<string, DestIndex>()
  readonly subs = new Map<string, { rec: DurableSubscriptionRecord; file: number }>()
  /** segment id -> live messages whose bodies it holds */
  readonly refs = new Map<number, number>()
  dedupe: DedupeWindow
  nextSeq = 1
  messages = 0
  constructor(dedupeWindow: number) {
    this.dedupe = new DedupeWindow(dedupeWindow)
  }

  private ref(file: number, d: number) {
    const v = (this.refs.get(file) ?? 0) + d
    if (v === 0) this.refs.delete(file)
    else this.refs.set(file, v)
  }

  /** `dedupe`: the key to record (the model's dedupeKey of the message), null for none. */
  add(destination: string, seq: number, dedupe: string | null, loc: Location, bodyBytes: number) {
    let d = this.dests.get(destination)
    if (!d) this.dests.set(destination, (d = new DestIndex()))
    d.push(seq, loc.file, loc.offset, loc.length, bodyBytes)
    this.ref(loc.file, 1)
    this.messages++
    if (seq >= this.nextSeq) this.nextSeq = seq + 1
    if (dedupe !== null) this.dedupe.add(dedupe, loc.file)
  }
  remove(destination: string, seq: number) {
    const d = this.dests.get(destination)
    if (!d) return
    const f = d.remove(seq)
    if (f < 0) return
    this.ref(f, -1)
    this.messages--
    if (d.live === 0) this.dests.delete(destination)
  }
  purge(destination: string) {
    const d = this.dests.get(destination)
    if (!d) return
    for (let i = 0; i < d.n; i++) if (d.alive[i]) this.ref(d.file[i], -1)
    this.messages -= d.live
    this.dests.delete(destination)
  }
  putSubscription(rec: DurableSubscriptionRecord, file: number) {
    this.subs.set(subKey(rec.clientId, rec.subscriptionName), { rec, file })
  }
  removeSubscription(clientId: string, subscriptionName: string) {
    this.subs.delete(subKey(clientId, subscriptionName))
  }
  summaries(): DestinationSummary[] {
    return [...this.dests].map(([destination, d]) => ({ destination, count: d.live, bytes: d.bodyBytes }))
  }
}

// ---- checkpoint (kahaDB index) --------------------------------------------------------------------------------

/*
 * The checkpoint holds no message data (only journal locations, subscriptions and dedupe keys), so journal format 2
 * left it at version 1: a checkpoint 0.1.0 wrote is adopted as is (its locations point at v1 add ops, which load()
 * reads through the legacy reader; its dedupe ids are 0.1.0's dedupe keys), and 0.1.0 never reads one of ours
 * (the journal marker refuses first).
 */
export const CHECKPOINT_MAGIC = Buffer.from('SFBKIDX\0', 'latin1')
export const CHECKPOINT_FORMAT_VERSION = 1

export interface CheckpointMeta {
  epoch: number
  /** Replay resumes here: segment id and byte offset. */
  file: number
  offset: number
  createdAt: number
}

/** Serialise the index. Layout: magic, u32 version, u32 epoch, u32 file, f64 offset, f64 nextSeq, f64 createdAt,
 * u32 destinations, per destination (str name, u32 n, f64 seq[n], u32 file[n], f64 off[n], u32 len[n], u32 body[n]),
 * str subscriptions JSON, u32 dedupe count + (str id, u32 file)*, u32 CRC32 of all preceding bytes. */
export function encodeCheckpoint(st: IndexState, meta: CheckpointMeta): Buffer {
  // One buffer sized up front and written in place: at 1M entries the former per-part Buffers (three per dedupe id)
  // and their concat held the event loop ~1 s, every checkpoint.
  const names: Buffer[] = []
  let size = 48
  for (const [name, d] of st.dests) {
    d.compact()
    const nb = Buffer.from(name, 'utf8')
    names.push(nb)
    size += 4 + nb.length + 4 + d.n * (8 + 4 + 8 + 4 + 4)
  }
  const subs = Buffer.from(JSON.stringify([...st.subs.values()]), 'utf8')
  size += 4 + subs.length + 4
  const ids: string[] = []
  const files: number[] = []
  for (const [id, file] of st.dedupe.entries()) {
    ids.push(id)
    files.push(file)
    size += 4 + Buffer.byteLength(id, 'utf8') + 4
  }
  size += 4
  const b = Buffer.allocUnsafe(size)
  CHECKPOINT_MAGIC.copy(b, 0)
  b.writeUInt32LE(CHECKPOINT_FORMAT_VERSION, 8)
  b.writeUInt32LE(meta.epoch, 12)
  b.writeUInt32LE(meta.file, 16)
  b.writeDoubleLE(meta.offset, 20)
  b.writeDoubleLE(st.nextSeq, 28)
  b.writeDoubleLE(meta.createdAt, 36)
  b.writeUInt32LE(st.dests.size, 44)
  let p = 48
  const raw = (a: Float64Array | Uint32Array, n: number) => {
    const src = new Uint8Array(a.buffer, a.byteOffset, n * a.BYTES_PER_ELEMENT)
    b.set(src, p)
    p += src.length
  }
  let i = 0
  for (const d of st.dests.values()) {
    const nb = names[i++]!
    b.writeUInt32LE(nb.length, p)
    nb.copy(b, p + 4)
    p += 4 + nb.length
    b.writeUInt32LE(d.n, p)
    p += 4
    raw(d.seq, d.n)
    raw(d.file, d.n)
    raw(d.off, d.n)
    raw(d.len, d.n)
    raw(d.body, d.n)
  }
  b.writeUInt32LE(subs.length, p)
  subs.copy(b, p + 4)
  p += 4 + subs.length
  b.writeUInt32LE(ids.length, p)
  p += 4
  for (let k = 0; k < ids.length; k++) {
    const n = b.write(ids[k]!, p + 4, 'utf8')
    b.writeUInt32LE(n, p)
    p += 4 + n
    b.writeUInt32LE(files[k]!, p)
    p += 4
  }
  if (p !== size - 4) throw new Error(`assertion failed: checkpoint encoded ${p} bytes, sized ${size - 4}`)
  b.writeUInt32LE(checksum(b, 0, p), p)
  return b
}

/** Parse a checkpoint into a fresh IndexState. STORAGE_FORMAT for a foreign/newer file, STORAGE_CORRUPT_RECORD for damage. */
export function decodeCheckpoint(
  b: Buffer,
  file: string,
  dedupeWindow: number,
): { state: IndexState; meta: CheckpointMeta } {
  if (b.length < 52 || !b.subarray(0, 8).equals(CHECKPOINT_MAGIC)) {
    throw new BrokerError(
      'STORAGE_FORMAT',
      `index ${file}: not an sfbroker kahaDB index (magic ${JSON.stringify(b.subarray(0, 8).toString('latin1'))}, expected "SFBKIDX\\0")`,
      { details: { file } },
    )
  }
  const version = b.readUInt32LE(8)
  if (version > CHECKPOINT_FORMAT_VERSION) {
    throw new BrokerError(
      'STORAGE_FORMAT',
      `index ${file}: format version ${version} is newer than this broker supports (${CHECKPOINT_FORMAT_VERSION})`,
      { details: { file, version } },
    )
  }
  if (checksum(b, 0, b.length - 4) !== b.readUInt32LE(b.length - 4)) {
    throw new BrokerError('STORAGE_CORRUPT_RECORD', `index ${file}: CRC mismatch over ${b.length} bytes`, {
      details: { file, offset: 0 },
    })
  }
  const meta: CheckpointMeta = {
    epoch: b.readUInt32LE(12),
    file: b.readUInt32LE(16),
    offset: b.readDoubleLE(20),
    createdAt: b.readDoubleLE(36),
  }
  const st = new IndexState(dedupeWindow)
  st.nextSeq = b.readDoubleLE(28)
  const nd = b.readUInt32LE(44)
  const r = new Reader(b, 48, b.length - 4, `index ${file}`)
  const col = <T>(C: { new (ab: ArrayBuffer): T; BYTES_PER_ELEMENT: number }, n: number): T => {
    const bytes = n * C.BYTES_PER_ELEMENT
    if (r.pos + bytes > r.end)
      throw new BrokerError('STORAGE_CORRUPT_RECORD', `index ${file}: column runs past the end`)
    // slice() copies into a fresh, aligned ArrayBuffer.
    const t = new C(b.buffer.slice(b.byteOffset + r.pos, b.byteOffset + r.pos + bytes) as ArrayBuffer)
    r.pos += bytes
    return t
  }
  for (let i = 0; i < nd; i++) {
    const name = r.str()
    const n = r.u32()
    const d = new DestIndex(1)
    d.seq = col(Float64Array, n)
    d.file = col(Uint32Array, n)
    d.off = col(Float64Array, n)
    d.len = col(Uint32Array, n)
    d.body = col(Uint32Array, n)
    d.alive = new Uint8Array(n).fill(1)
    d.cap = n
    d.n = n
    d.live = n
    let bytes = 0
    for (let k = 0; k < n; k++) {
      bytes += d.body[k]
      const f = d.file[k]
      st.refs.set(f, (st.refs.get(f) ?? 0) + 1)
    }
    d.bodyBytes = bytes
    st.messages += n
    if (n > 0) st.dests.set(name, d)
  }
  let subs: { rec: DurableSubscriptionRecord; file: number }[]
  try {
    subs = JSON.parse(r.str())
  } catch (e) {
    throw new BrokerError('STORAGE_CORRUPT_RECORD', `index ${file}: subscriptions unparsable`, { cause: e })
  }
  for (const s of subs) st.subs.set(subKey(s.rec.clientId, s.rec.subscriptionName), s)
  const nid = r.u32()
  for (let i = 0; i < nid; i++) {
    const id = r.str()
    st.dedupe.add(id, r.u32())
  }
  return { state: st, meta }
}
