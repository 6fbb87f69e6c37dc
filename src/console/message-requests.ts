/**
 * The JSON of the console's message endpoints: a send request (POST .../messages) read into a CoreMessage through
 * the STOMP mapping, a move request (POST .../move) into its target, ids and copy flag, and a browse page written
 * out with each message's STOMP headers and typed properties. A malformed field is 400 ADMIN_BAD_REQUEST naming
 * it; the operations themselves are BrokerManagement's.
 */
import { type BrowsedMessage, parseDestination } from '../broker/index.ts'
import { type CoreMessage, propertyAsString } from '../model/index.ts'
import { fromStompSend, toStompHeaders } from '../protocol/stomp/index.ts'
import { ApiError } from './api-http.ts'

/** The message a send request asks for: `headers` are STOMP SEND headers, `body` text, `delayMs` a schedule. */
export function sendRequestMessage(destination: string, body: Record<string, unknown>): CoreMessage {
  const headers: Record<string, string> = {}
  if (body.headers !== undefined) {
    if (typeof body.headers !== 'object' || body.headers === null || Array.isArray(body.headers))
      throw new ApiError(400, 'ADMIN_BAD_REQUEST', 'headers: expected an object of string values')
    for (const [k, v] of Object.entries(body.headers)) {
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')
        throw new ApiError(400, 'ADMIN_BAD_REQUEST', `headers.${k}: expected a string`)
      headers[k] = String(v)
    }
  }
  if (body.persistent !== undefined) headers.persistent = body.persistent === true ? 'true' : 'false'
  if (body.delayMs !== undefined && body.delayMs !== null && body.delayMs !== 0) {
    if (typeof body.delayMs !== 'number' || !Number.isSafeInteger(body.delayMs) || body.delayMs < 0)
      throw new ApiError(400, 'ADMIN_BAD_REQUEST', 'delayMs: expected a whole number of milliseconds')
    headers.AMQ_SCHEDULED_DELAY = String(body.delayMs)
  }
  if (body.body !== undefined && typeof body.body !== 'string')
    throw new ApiError(400, 'ADMIN_BAD_REQUEST', 'body: expected a string')
  parseDestination(destination, 'destination')
  // The console's headers are STOMP SEND headers: the STOMP mapping makes the message (messageId '' → broker id).
  return fromStompSend(destination, headers, new TextEncoder().encode((body.body as string | undefined) ?? ''), {
    nowMs: Date.now(),
    newMessageId: () => '',
  })
}

/** A move request: the target queue, the message ids (null: every waiting message) and whether to copy. */
export function moveRequest(body: Record<string, unknown>): { to: string; ids: string[] | null; copy: boolean } {
  const to = body.to
  if (typeof to !== 'string')
    throw new ApiError(400, 'ADMIN_BAD_REQUEST', 'to: expected the target queue, e.g. "/queue/ORDERS"')
  let ids: string[] | null = null
  if (body.ids !== undefined && body.ids !== null) {
    if (!Array.isArray(body.ids) || !body.ids.every((x) => typeof x === 'string'))
      throw new ApiError(400, 'ADMIN_BAD_REQUEST', 'ids: expected an array of message ids, or nothing for all')
    ids = body.ids as string[]
  }
  return { to, ids, copy: body.copy === true }
}

/**
 * A browse page as the JSON API shows it: each message's `headers` as 0.1.0 showed them (its STOMP MESSAGE
 * headers) plus `properties` with their JMS types; the CoreMessage itself (Map, bytes) is not JSON.
 */
export function browsedView<T extends { messages: BrowsedMessage[] }>(page: T): unknown {
  return {
    ...page,
    messages: page.messages.map(({ message, ...rest }) => ({
      ...rest,
      headers: toStompHeaders(message),
      properties: [...message.properties].map(([name, p]) => ({ name, type: p.type, value: propertyAsString(p) })),
    })),
  }
}
