/**
 * Destination names as the client accepts them: STOMP's `/queue/X`, `/topic/X`, `/temp-queue/X`, `/temp-topic/X`
 * (sent as is) and ActiveMQ's URL-ish `queue://X`, `topic://X`, `temp-queue://X`, `temp-topic://X` (rewritten to
 * the STOMP form). Anything else is rejected here rather than letting the broker guess a type.
 */
import { BrokerError } from '../lib/errors.ts'

const STOMP_PREFIXES = [
  '/queue/',
  '/topic/',
  '/temp-queue/',
  '/temp-topic/',
  '/remote-temp-queue/',
  '/remote-temp-topic/',
]
const URL_FORMS: Record<string, string> = {
  'queue://': '/queue/',
  'topic://': '/topic/',
  'temp-queue://': '/temp-queue/',
  'temp-topic://': '/temp-topic/',
}

/** `queue://X` -> `/queue/X`; `/topic/X` unchanged. Throws CLIENT_DESTINATION_INVALID for other forms or an empty name. */
export function normalizeDestination(dest: string, where = 'destination'): string {
  for (const [url, prefix] of Object.entries(URL_FORMS)) {
    if (dest.startsWith(url)) {
      const name = dest.slice(url.length)
      if (name === '') break
      return prefix + name
    }
  }
  for (const prefix of STOMP_PREFIXES) {
    if (dest.startsWith(prefix) && dest.length > prefix.length) return dest
  }
  throw new BrokerError(
    'CLIENT_DESTINATION_INVALID',
    `${where}: ${JSON.stringify(dest)} is not a destination; expected /queue/NAME, /topic/NAME, queue://NAME or topic://NAME`,
  )
}

/** True for queue-like destinations (where a browser or purge makes sense). */
export function isQueue(dest: string): boolean {
  return dest.startsWith('/queue/') || dest.startsWith('/temp-queue/')
}
