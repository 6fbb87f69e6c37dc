/**
 * Safe echoes of untrusted text: what an error message may quote of a client's (or file's) bytes. Owns the escaping
 * (JSON style, so control, format and bidi characters can neither drive a terminal nor break a STOMP header) and
 * the length bound. Does not decide what is quoted; callers pass the value they name.
 */

/** Longest excerpt of untrusted text an error message quotes, in UTF-16 units of the source (issue #19). */
export const EXCERPT_CHARS_MAX = 64

// C0 controls, DEL, C1 controls, zero-width and bidi controls, line/paragraph separators, BOM, lone surrogates.
const UNSAFE =
  /[\u0000-\u001f\u007f-\u009f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' }

function escapeChar(c: string): string {
  return NAMED[c] ?? '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')
}

/** Escape every non-printable character of `text` as `\n`, `\u001b`, …; printable text is kept as is. */
export function escapeNonPrintable(text: string): string {
  return text.replace(UNSAFE, escapeChar)
}

/**
 * `text` as a double-quoted, escaped excerpt of at most `max` source characters (`…` marks a cut), for quoting
 * untrusted input in an error: `"SEN\u0000D…"`. Backslashes and quotes are escaped too, so the result reads as
 * a JSON string.
 */
export function excerpt(text: string, max = EXCERPT_CHARS_MAX): string {
  let cut = text.length > max ? text.slice(0, max) : text
  // Do not split a surrogate pair at the cut.
  if (cut.length < text.length && /[\ud800-\udbff]$/.test(cut)) cut = cut.slice(0, -1)
  const body = escapeNonPrintable(cut.replace(/[\\"]/g, (c) => '\\' + c))
  return `"${body}${cut.length < text.length ? '…' : ''}"`
}
