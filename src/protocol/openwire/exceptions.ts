/**
 * The Java exception an ActiveMQ client should throw for a broker failure. The client rebuilds the Throwable from
 * its class name and message (ExceptionResponse, ConnectionError) and hands JMSExceptions to the application as
 * they are, so the class decides what the application catches: InvalidClientIDException for a client id in use,
 * JMSSecurityException (via SecurityException) for bad credentials or a denied destination, and so on.
 * Stack traces are never sent.
 */
import { BrokerError, type ErrorCode } from '../../lib/errors.ts'
import type { WireThrowable } from './commands.ts'

const CLASS_OF_CODE: Partial<Record<ErrorCode, string>> = {
  BROKER_CLIENT_ID_IN_USE: 'javax.jms.InvalidClientIDException',
  SECURITY_AUTHENTICATION_FAILED: 'java.lang.SecurityException',
  SECURITY_NOT_AUTHORIZED: 'java.lang.SecurityException',
  BROKER_DESTINATION_INVALID: 'javax.jms.InvalidDestinationException',
  BROKER_SELECTOR_INVALID: 'javax.jms.InvalidSelectorException',
  BROKER_SELECTOR_TOO_COMPLEX: 'javax.jms.InvalidSelectorException',
  BROKER_HEADER_INVALID: 'javax.jms.MessageFormatException',
  BROKER_LIMIT: 'javax.jms.ResourceAllocationException',
  BROKER_TX_UNKNOWN: 'javax.jms.TransactionRolledBackException',
  BROKER_SESSION_CLOSED: 'javax.jms.IllegalStateException',
  BROKER_STOPPED: 'javax.jms.IllegalStateException',
  OPENWIRE_FRAME_INVALID: 'java.io.IOException',
  OPENWIRE_FRAME_TOO_LARGE: 'java.io.IOException',
}

/** XA transactions are refused with XAException, which the client's XAResource passes on unchanged. */
export const XA_EXCEPTION = 'javax.transaction.xa.XAException'

export function javaException(e: unknown): WireThrowable {
  if (e instanceof BrokerError && typeof e.details?.javaClass === 'string')
    return { className: e.details.javaClass, message: e.message }
  if (e instanceof BrokerError)
    return { className: CLASS_OF_CODE[e.code] ?? 'javax.jms.JMSException', message: e.message }
  return { className: 'javax.jms.JMSException', message: e instanceof Error ? e.message : String(e) }
}
