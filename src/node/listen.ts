/**
 * listenOn: bind a connector's net.Server on its host:port, the same way for every connector kind. EADDRINUSE and
 * friends become CONFIG_INVALID naming the connector URI and what was expected; errors after the bind are logged
 * by the caller's `onLateError`, never thrown.
 */
import type net from 'node:net'
import type { ConnectorConfig } from '../config/index.ts'
import { BrokerError } from '../lib/errors.ts'

export function listenOn(
  server: net.Server,
  c: ConnectorConfig,
  onLateError: (err: Error) => void,
): Promise<{ host: string; port: number }> {
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
        new BrokerError(
          'CONFIG_INVALID',
          `connector ${c.name} (${c.uri}): cannot listen on ${c.host}:${c.port}: ${why}, expected a free port`,
          { cause: err, details: { code: err.code } },
        ),
      )
    }
    const onListening = (): void => {
      server.off('error', onError)
      server.on('error', onLateError)
      const a = server.address()
      resolve(a && typeof a === 'object' ? { host: a.address, port: a.port } : { host: c.host, port: c.port })
    }
    server.once('error', onError)
    server.once('listening', onListening)
    server.listen({ host: c.host, port: c.port, exclusive: true })
  })
}
