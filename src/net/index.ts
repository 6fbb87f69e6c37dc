/**
 * The net part: transports shared by every connector and the admin endpoint, independent of any protocol. TLS
 * (`tls-context.ts`: key material from `<sslContext>` and its reloads; `tls-server.ts`: the server side of a
 * connection; `tls-keystore.ts`: PKCS#12/JKS/PEM files) and WebSocket (`ws-listener.ts`: a ws:// or wss://
 * listener; `ws-duplex.ts`: one WebSocket as a socket-like Duplex; `ws-subprotocol.ts`: which protocol a client
 * asks for), `listen.ts`: the one bind of every connector's listener, and `byte-socket.ts`: what a protocol
 * connection needs of any of these streams. Other parts import from here only.
 */
export {
  TlsContextSource,
  readTlsMaterial,
  createContext,
  describeMaterial,
  TLS_FILE_BYTES_MAX,
  TLS_WATCH_POLL_MS,
  type TlsMaterial,
} from './tls-context.ts'
export {
  TlsTerminator,
  tlsLimits,
  IANA_TO_OPENSSL,
  TLS13_SUITES,
  type TlsRefusal,
  type TlsTerminatorOptions,
} from './tls-server.ts'
export {
  detectKeystoreFormat,
  keytoolConvertCommand,
  readPkcs12,
  type KeystoreFormat,
  type Pkcs12Contents,
} from './tls-keystore.ts'
export {
  WsListener,
  WS_UPGRADE_HEADER_BYTES_MAX,
  RESPOND_LINGER_MS,
  type WsListenerOptions,
  type WsConnectionInfo,
  type WsRefusal,
} from './ws-listener.ts'
export { WsDuplex, WS_SEND_BUFFER_BYTES_DEFAULT, type WsDuplexOptions } from './ws-duplex.ts'
export {
  negotiateSubprotocol,
  WS_SUBPROTOCOLS,
  WS_OFFERED_SUBPROTOCOLS_MAX,
  type WsNegotiation,
  type WsProtocol,
} from './ws-subprotocol.ts'
export { sniffProtocol, SNIFF_BYTES_MAX, type SniffedProtocol } from './protocol-sniff.ts'
export { listenOn, type ListenTarget } from './listen.ts'
export type { ByteSocket } from './byte-socket.ts'
export { JOIN_BYTES_MAX } from './byte-socket.ts'
