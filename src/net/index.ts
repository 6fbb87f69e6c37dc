/**
 * The net part: transport security shared by every connector and the admin endpoint, independent of any
 * protocol. TLS today (`tls-context.ts`: key material from `<sslContext>` and its reloads; `tls-server.ts`: the
 * server side of a connection; `tls-keystore.ts`: PKCS#12/JKS/PEM files). Other parts import from here only.
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
