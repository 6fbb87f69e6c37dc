/**
 * listenOn binds a net.Server for every connector kind. Method: real sockets on 127.0.0.1 port 0; a second bind on
 * the taken port must fail with CONFIG_INVALID naming the listener, and an error after the bind must reach
 * onLateError instead of being thrown.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import net from 'node:net'
import { BrokerError } from '../lib/errors.ts'
import { listenOn } from './listen.ts'

const servers: net.Server[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise<void>((r) => s.close(() => r()))
})

function server(): net.Server {
  const s = net.createServer()
  servers.push(s)
  return s
}

describe('listenOn', () => {
  test('listenOn resolves with the bound port of port 0', async () => {
    const bound = await listenOn(server(), { host: '127.0.0.1', port: 0, where: 'connector a (stomp://x)' }, () => {})
    expect(bound.host).toBe('127.0.0.1')
    expect(bound.port).toBeGreaterThan(0)
  })

  test('listenOn rejects a taken port with CONFIG_INVALID naming the listener', async () => {
    const first = await listenOn(server(), { host: '127.0.0.1', port: 0, where: 'connector a (stomp://x)' }, () => {})
    const second = server()
    const err = await listenOn(second, { ...first, where: 'connector b (mqtt://y)' }, () => {}).catch((e) => e)
    expect(err).toBeInstanceOf(BrokerError)
    expect((err as BrokerError).code).toBe('CONFIG_INVALID')
    expect((err as BrokerError).details).toEqual({ code: 'EADDRINUSE' })
    expect((err as BrokerError).message).toContain('connector b (mqtt://y)')
    expect(second.listenerCount('listening')).toBe(0)
  })

  test('listenOn hands errors after the bind to onLateError', async () => {
    const late: Error[] = []
    const s = server()
    await listenOn(s, { host: '127.0.0.1', port: 0, where: 'connector a (stomp://x)' }, (err) => late.push(err))
    s.emit('error', new Error('accept failed'))
    expect(late.map((e) => e.message)).toEqual(['accept failed'])
  })
})
