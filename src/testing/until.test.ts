/** until: returns the first truthy value; on the deadline, fails naming what it waited for. */
import { expect, test } from 'bun:test'
import { cameTrue, until } from './until.ts'

test('until returns the first truthy value of the condition', async () => {
  let n = 0
  expect(await until(() => (++n >= 3 ? n : 0), 'three polls', 5_000, 1)).toBe(3)
})

test('until fails after its deadline naming what it waited for', async () => {
  await expect(
    until(
      () => false,
      () => 'the moon',
      0,
      1,
    ),
  ).rejects.toThrow(/waiting for the moon/)
  expect(await cameTrue(() => false, 0, 1)).toBe(false)
})
