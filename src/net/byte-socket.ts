/**
 * ByteSocket: what a protocol connection (MQTT, OpenWire) needs of its byte stream. node's net.Socket, a TLS socket
 * and stream.Duplex (e.g. ws-duplex.ts's WsDuplex) all fit, so one connection class serves every transport.
 */
export interface ByteSocket {
  on(event: 'data', fn: (chunk: Buffer) => void): unknown
  on(event: 'close' | 'drain' | 'end', fn: () => void): unknown
  on(event: 'error', fn: (err: Error) => void): unknown
  write(chunk: Uint8Array): boolean
  end(): unknown
  destroy(): unknown
  pause(): unknown
  resume(): unknown
  readonly writableLength?: number
  readonly remoteAddress?: string
  readonly remotePort?: number
}
