/**
 * Goal: runtimeDescription names the runtime it runs in. Method: under Bun here; the Deno case is checked end to end
 * by test/deno-connectors.test.ts (the Deno broker's OpenWire PlatformDetails).
 */
import { expect, test } from 'bun:test'
import { runtimeDescription } from './runtime.ts'

test('runtimeDescription names Bun and its version under Bun', () => {
  expect(runtimeDescription()).toBe(`Bun ${Bun.version}`)
})
