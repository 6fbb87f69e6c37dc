/**
 * Strict UTF-8 for every string field mqtt-packet decodes (topic names and filters, client id, user name, will
 * topic, user properties, content type, response topic, reason strings, authentication method). mqtt-packet reads
 * them with Buffer#toString, which replaces ill-formed sequences with U+FFFD; MQTT requires the connection to close
 * instead (3.1.1 §1.5.3, MQTT 5 §1.5.4: ill-formed UTF-8, UTF-16 surrogates encoded as UTF-8, or U+0000 → 0x81).
 * strictStrings() wraps one parser instance's string reader, so the raw bytes of each string are checked where
 * the parser has them. Owns the check only; the connection turns the error into its answer.
 */
import { MqttProtocolError, RC } from './reason-codes.ts'

/** The part of mqtt-packet's Parser (parser.js `_parseString`) this wraps; not in its typings. */
interface ParserInternals {
  _parseString(): string | null
  _pos: number
  _list: { slice(start: number, end: number): Buffer }
}

const fatal = new TextDecoder('utf-8', { fatal: true })

/** Throws MqttProtocolError 0x81 when `bytes` (decoded by Buffer#toString as `text`) are not a legal MQTT string. */
export function checkMqttString(text: string, bytes: Uint8Array): void {
  if (text.includes('\u0000'))
    throw new MqttProtocolError(
      RC.malformedPacket,
      `a UTF-8 string holds U+0000 at character ${text.indexOf('\u0000')}`,
    )
  // Without U+FFFD the bytes were well-formed (Buffer#toString replaces every ill-formed sequence, surrogates too).
  if (!text.includes('\ufffd')) return
  try {
    fatal.decode(bytes)
  } catch {
    const hex = Buffer.from(bytes.subarray(0, 32)).toString('hex')
    throw new MqttProtocolError(
      RC.malformedPacket,
      `a string field is not well-formed UTF-8 (bytes ${hex}${bytes.length > 32 ? '...' : ''}), expected UTF-8 without surrogates`,
    )
  }
}

/** Makes `parser` check every string it reads; returns it. */
export function strictStrings<P extends object>(parser: P): P {
  const p = parser as unknown as ParserInternals
  const read = p._parseString
  if (typeof read !== 'function') throw new Error('assertion failed: mqtt-packet parser has no _parseString')
  p._parseString = function (this: ParserInternals): string | null {
    const start = this._pos + 2
    const text = read.call(this)
    if (text !== null && text.length > 0) checkMqttString(text, this._list.slice(start, this._pos))
    return text
  }
  return parser
}
