/**
 * Goal: IdleGc collects once after enough large frees and a quiet moment, not per free and not below the threshold.
 * Method: a counting collector in place of Bun.gc and real (short) timers.
 */
import { expect, test } from 'bun:test'
import { IDLE_GC_BURST_BYTES, IDLE_GC_FREED_BYTES, IDLE_GC_QUIET_MS, IdleGc } from './idle-gc.ts'

test('IdleGc collects once, IDLE_GC_QUIET_MS after the last of enough large frees', async () => {
  let collected = 0
  const g = new IdleGc(() => collected++)
  g.noteFreed(IDLE_GC_FREED_BYTES / 2)
  await Bun.sleep(IDLE_GC_QUIET_MS + 200)
  expect(collected).toBe(0) // below the threshold: nothing
  for (let i = 0; i < 4; i++) {
    g.noteFreed(IDLE_GC_FREED_BYTES / 2)
    await Bun.sleep(IDLE_GC_QUIET_MS / 4)
  }
  expect(collected).toBe(0) // frees keep coming: still waiting for quiet
  await Bun.sleep(IDLE_GC_QUIET_MS + 200)
  expect(collected).toBe(1)
  expect(g.runs).toBe(1)
  g.stop()
})

test('IdleGc without a runtime collector does nothing', async () => {
  const g = new IdleGc(null)
  g.noteFreed(IDLE_GC_FREED_BYTES * 4)
  expect(g.runs).toBe(0)
  g.stop()
})

test('IdleGc does not wait for quiet past IDLE_GC_BURST_BYTES freed', async () => {
  let collected = 0
  const g = new IdleGc(() => collected++)
  g.noteFreed(IDLE_GC_BURST_BYTES)
  await Bun.sleep(50)
  expect(collected).toBe(1)
  g.stop()
})
