/**
 * Secret: a config value that must never be shown (keystore and key passwords). Logging, JSON.stringify,
 * util.inspect, String() and template strings all print `[redacted]`; only `reveal()` gives the value, and only
 * code that hands it to a TLS or crypto call should call it. It does not promise anything about memory.
 */
const REDACTED = '[redacted]'

export class Secret {
  readonly #value: string

  constructor(value: string) {
    this.#value = value
  }

  reveal(): string {
    return this.#value
  }

  toString(): string {
    return REDACTED
  }

  toJSON(): string {
    return REDACTED
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return REDACTED
  }
}
