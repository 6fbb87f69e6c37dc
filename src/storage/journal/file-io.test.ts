/**
 * nodeFileIO's durable write (O_DSYNC descriptor): what it writes is read back at the right place through the
 * ordinary descriptor, the file size follows, a read-only handle refuses it with STORAGE_IO, and close() closes it.
 * Method: a temp dir on the real file system; durability itself (power loss) cannot be observed here, the journal's
 * crash tests cover the journal's use of it through kill -9.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { isBrokerError } from '../../lib/errors.ts'
import { nodeFileIO } from './file-io.ts'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfb-file-io-'))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

describe('nodeFileIO', () => {
  test('nodeFileIO writeDurable writes at the position and extends the size', async () => {
    const p = path.join(dir, 'a.log')
    const h = await nodeFileIO.open(p, 'createExclusive')
    await h.write(Buffer.from('head'), 0)
    await h.sync()
    await h.writeDurable!(Buffer.from('-durable-'), 4)
    await h.writeDurable!(Buffer.from('tail'), 13)
    expect(await h.size()).toBe(17)
    const back = Buffer.alloc(17)
    expect(await h.read(back, 17, 0)).toBe(17)
    expect(back.toString()).toBe('head-durable-tail')
    await h.close()
    expect(fs.readFileSync(p, 'utf8')).toBe('head-durable-tail')
  })

  test('nodeFileIO writeDurable on a read-only handle fails with STORAGE_IO', async () => {
    const p = path.join(dir, 'b.log')
    fs.writeFileSync(p, 'x')
    const h = await nodeFileIO.open(p, 'read')
    let err: unknown = null
    try {
      await h.writeDurable!(Buffer.from('y'), 1)
    } catch (e) {
      err = e
    }
    expect(isBrokerError(err, 'STORAGE_IO')).toBe(true)
    await h.close()
    expect(fs.readFileSync(p, 'utf8')).toBe('x')
  })
})
