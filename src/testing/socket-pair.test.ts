/** socketPair: bytes cross in order and asynchronously, end and destroy reach the peer. */
import { expect, test } from 'bun:test'
import { socketPair } from './socket-pair.ts'

function readAll(s: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = ''
    s.on('data', (c: Buffer) => {
      text += c.toString('utf8')
    })
    s.once('end', () => resolve(text))
    s.once('error', reject)
  })
}

test('socketPair carries bytes both ways in order and ends the peer on end()', async () => {
  const [a, b] = socketPair()
  const atB = readAll(b)
  const atA = readAll(a)
  let seenInCall = false
  b.once('data', () => {
    seenInCall = true
  })
  a.write('one,')
  expect(seenInCall).toBe(false)
  a.write('two')
  a.end()
  b.write('back')
  b.end()
  expect(await atB).toBe('one,two')
  expect(await atA).toBe('back')
  expect(a.bytesWritten).toBe(7)
})

test('socketPair destroy on one end closes the other', async () => {
  const [a, b] = socketPair()
  const closed = new Promise<void>((r) => b.once('close', () => r()))
  a.destroy()
  await closed
  expect(b.destroyed).toBe(true)
  const err = await new Promise<Error | null | undefined>((r) => b.write('x', r))
  expect(err).toBeInstanceOf(Error)
})
