/**
 * listenOn: bind a listener's net.Server on host:port, the same way for every connector kind (STOMP, MQTT, WebSocket,
 * the node's sniffing and TLS connectors). EADDRINUSE and friends become CONFIG_INVALID naming the listener (`where`,
 * e.g. `connector stomp (stomp://0.0.0.0:61613)`) and what was expected; errors after the bind go to the caller's
 * `onLateError` (logged), never thrown. It owns no server: the caller creates, closes and guards it.
 */
import type net from 'node:net'
import { BrokerError } from '../lib/errors.ts'

export interface ListenTarget {
  host: string
  port: number
  /** The listener in error messages: `connector <name> (<uri>)`. */
  where: string
}

/** Resolves with the bound address (the configured one when the server reports none, e.g. a pipe). */
export function listenOn(
  server: net.Server,
  target: ListenTarget,
  onLateError: (err: Error) => void,
): Promise<{ host: string; port: number }> {
  const { host, port, where } = target
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      server.off('listening', onListening)
      const why =
        err.code === 'EADDRINUSE'
          ? 'the address is already in use'
          : err.code === 'EACCES'
            ? 'permission denied'
            : err.message
      reject(
        new BrokerError('CONFIG_INVALID', `${where}: cannot listen on ${host}:${port}: ${why}, expected a free port`, {
          cause: err,
          details: { code: err.code },
        }),
      )
    }
    const onListening = (): void => {
      server.off('error', onError)
      server.on('error', onLateError)
      const a = server.address()
      resolve(a && typeof a === 'object' ? { host: a.address, port: a.port } : { host, port })
    }
    server.once('error', onError)
    server.once('listening', onListening)
    server.listen({ host, port, exclusive: true })
  })
}
