/**
 * ByteSocket: what a protocol connection (MQTT, OpenWire) needs of its byte stream. node's net.Socket, a TLS socket
 * and stream.Duplex (e.g. ws-duplex.ts's WsDuplex) all fit, so one connection class serves every transport.
 */
/**
 * Connections join the small frames of one event-loop turn into buffers of at most this many bytes before writing
 * them (STOMP's outbound-writer.ts, OpenWire's frame-writer.ts). One buffer for a whole turn was 1.2 MB when a
 * consumer got its prefetch of 1000 at once: an allocation that large is fresh pages from the kernel every time, and
 * faulting them in cost 3.5 µs per 1 KiB frame on a 2-core VM (more than the rest of the frame's encoding); buffers
 * this size are reused by the allocator.
 */
export const JOIN_BYTES_MAX = 64 * 1024

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
