/**
 * JMS / SQL-92 message selectors: the Selector a subscription holds, and the rules its parts follow: the lexer
 * (./selector-lexer.ts), the recursive-descent parser to a small AST (./selector-parser.ts), LIKE matching
 * (./selector-like.ts) and the evaluator over a message's STOMP headers (./selector-eval.ts). Owns the grammar and
 * the three-valued logic; does not own which headers a message has (the caller passes a `SelectorSource`).
 *
 * Grammar (JMS 1.1 §3.8.1, as ActiveMQ's SelectorParser accepts it; keywords case-insensitive):
 *   or      := and (OR and)*
 *   and     := not (AND not)*
 *   not     := NOT not | cmp
 *   cmp     := sum ( (= | <> | != | == | < | > | <= | >=) sum
 *                  | [NOT] LIKE 'pattern' [ESCAPE 'c']
 *                  | [NOT] IN ( literal , ... )
 *                  | [NOT] BETWEEN sum AND sum
 *                  | IS [NOT] NULL )?
 *   sum     := product ((+ | -) product)*
 *   product := unary ((* | / | %) unary)*
 *   unary   := (+ | -) unary | primary
 *   primary := 'string' | number | TRUE | FALSE | NULL | identifier | ( or )
 *
 * Semantics:
 * - SQL three-valued logic: a missing header is NULL, and any comparison or arithmetic with NULL is NULL (unknown);
 *   AND/OR/NOT follow the SQL truth tables; a message matches only when the whole expression is TRUE.
 * - STOMP headers are strings. Like ActiveMQ's STOMP connector (which prefixes selectors with
 *   `convert_string_expressions:`), a string compared with (or used in arithmetic with) a number is converted to a
 *   number when it parses as one, and a string compared with a boolean is converted when it is 'true'/'false'.
 *   A string that does not convert makes the comparison NULL.
 * - JMS header names map to STOMP headers as ActiveMQ maps them: JMSMessageID→message-id, JMSPriority→priority
 *   (number), JMSTimestamp→timestamp (number), JMSExpiration→expires (number), JMSCorrelationID→correlation-id,
 *   JMSType→type, JMSReplyTo→reply-to, JMSDestination→destination, JMSDeliveryMode→'PERSISTENT'|'NON_PERSISTENT',
 *   JMSRedelivered→boolean, JMSXDeliveryCount→number. Every other identifier is a user property (header) name.
 * - Integer division truncates when both operands are integral numbers (Java int/long division); division by
 *   zero gives NULL rather than an error. XPATH/XQUERY selectors are not supported.
 * - LIKE (ActiveMQ LikeExpression): `%` any run of characters, `_` exactly one character (a Unicode code point, as
 *   Java's regex `.` is), ESCAPE makes the next character literal; case-sensitive; the whole value must match.
 *
 * Bounded work (issue #19): LIKE is matched by one iterative wildcard matcher (`matchLike`), never a backtracking
 * regex, so a match costs at most (value length + 1) × (pattern length + 1) steps whatever the wildcards. Parsing
 * refuses, with BROKER_SELECTOR_TOO_COMPLEX, selectors over SELECTOR_LENGTH_MAX characters, SELECTOR_NODES_MAX
 * nodes, SELECTOR_DEPTH_MAX nesting or SELECTOR_LIKE_CHARS_MAX LIKE pattern characters in total: with STOMP
 * header values of at most 10 KiB, one evaluation is then bounded by about 10 M matcher steps.
 */
import { tooComplex, tokenize } from './selector-lexer.ts'
import { Parser, SELECTOR_LENGTH_MAX, type Node, type SelectorValue } from './selector-parser.ts'
import { evaluate, type SelectorSource } from './selector-eval.ts'

export type { SelectorValue } from './selector-parser.ts'
export type { SelectorSource } from './selector-eval.ts'
export {
  SELECTOR_DEPTH_MAX,
  SELECTOR_LENGTH_MAX,
  SELECTOR_LIKE_CHARS_MAX,
  SELECTOR_NODES_MAX,
} from './selector-parser.ts'
export { compileLike, likeStats, matchLike, type LikePattern } from './selector-like.ts'

/** A parsed selector. `matches` is true only when the expression evaluates to TRUE (not FALSE, not NULL). */
export class Selector {
  private constructor(
    readonly text: string,
    private readonly root: Node,
  ) {}

  /**
   * Parse; throws BrokerError BROKER_SELECTOR_INVALID naming the 1-based position of the problem, or
   * BROKER_SELECTOR_TOO_COMPLEX past a limit (length, nodes, nesting, LIKE pattern characters).
   */
  static parse(text: string): Selector {
    if (text.length > SELECTOR_LENGTH_MAX) {
      tooComplex(text, SELECTOR_LENGTH_MAX, `${text.length} characters`, 'SELECTOR_LENGTH_MAX', SELECTOR_LENGTH_MAX)
    }
    return new Selector(text, new Parser(text, tokenize(text)).parse())
  }

  /** The raw value (TRUE, FALSE, NULL, or a non-boolean for a selector like `a + 1`). */
  evaluate(src: SelectorSource): SelectorValue {
    return evaluate(this.root, src)
  }

  matches(src: SelectorSource): boolean {
    return evaluate(this.root, src) === true
  }
}

/** Convenience: a SelectorSource over a plain header record. */
export function headerSource(headers: Record<string, string>, redelivered = false, deliveryCount = 1): SelectorSource {
  return {
    header: (n) => (Object.prototype.hasOwnProperty.call(headers, n) ? headers[n] : undefined),
    redelivered,
    deliveryCount,
  }
}
