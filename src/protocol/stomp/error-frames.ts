/**
 * The ERROR frames a connection writes: a failure (then the connection closes), a refusal (an operation denied
 * by security; the connection stays up) and a connector's goodbye. Every ERROR carries `message`, a text/plain
 * body repeating it, and `code` (our BrokerError code); `receipt-id` when the frame asked for a receipt.
 */
import { isBrokerError, type BrokerError } from '../../lib/errors.ts'
import { escapeNonPrintable } from '../../lib/excerpt.ts'
import { REASON_HEADER, type Goodbye } from './connection-options.ts'
import { encodeFrame } from './frame-encoder.ts'
import type { StompFrame, StompVersion } from './frame.ts'

/** Longest `message` header of a failure or goodbye; the body still carries the whole text. */
const MESSAGE_HEADER_CHARS_MAX = 1000

function clip(message: string): string {
  return message.length > MESSAGE_HEADER_CHARS_MAX ? message.slice(0, MESSAGE_HEADER_CHARS_MAX) + '…' : message
}

/** ERROR for a bad frame or failed operation; a non-BrokerError is an `INTERNAL` error with no detail. */
export function failureFrame(err: unknown, frame: StompFrame | null, version: StompVersion): Buffer {
  const be = isBrokerError(err) ? err : null
  // Messages may quote client text: escape what is not printable (issue #19), whoever built the message.
  const message = escapeNonPrintable(be ? be.message : 'internal broker error')
  const headers: Array<[string, string]> = [
    ['message', clip(message)],
    ['content-type', 'text/plain'],
    ['code', be ? be.code : 'INTERNAL'],
  ]
  const receipt = frame?.headers.receipt
  if (receipt !== undefined) headers.push(['receipt-id', receipt])
  const extra = be?.details?.errorHeaders as Record<string, string> | undefined
  if (extra) for (const [k, v] of Object.entries(extra)) headers.push([k, v])
  return encodeFrame('ERROR', headers, Buffer.from(message + '\n', 'utf8'), version)
}

/** ERROR for a denied operation (`receipt-id` when asked); the connection goes on. */
export function refusalFrame(err: BrokerError, frame: StompFrame | null, version: StompVersion): Buffer {
  const message = escapeNonPrintable(err.message)
  const headers: Array<[string, string]> = [
    ['message', message],
    ['content-type', 'text/plain'],
    ['code', err.code],
  ]
  const receipt = frame?.headers.receipt
  if (receipt !== undefined) headers.push(['receipt-id', receipt])
  return encodeFrame('ERROR', headers, Buffer.from(message + '\n', 'utf8'), version)
}

/** The ERROR of a connector that stops serving: `code` BROKER_STOPPED and `sfbroker-reason`. */
export function goodbyeFrame(g: Goodbye, version: StompVersion): Buffer {
  const headers: Array<[string, string]> = [
    ['message', clip(g.message)],
    ['content-type', 'text/plain'],
    ['code', 'BROKER_STOPPED'],
    [REASON_HEADER, g.reason],
  ]
  return encodeFrame('ERROR', headers, Buffer.from(g.message + '\n', 'utf8'), version)
}
