/**
 * DuplicateAudit: the last `depth` delivery keys (subscription + message-id) a client saw, oldest forgotten first, so
 * a repeated delivery is marked redelivered even when the broker does not (as ActiveMQ's client audit does).
 * It promises nothing beyond `depth` keys; depth <= 0 disables it.
 */
export class DuplicateAudit {
  private readonly keys = new Set<string>()

  constructor(private readonly depth: number) {}

  /** Record a delivery; true if it was already there. */
  seen(key: string): boolean {
    if (this.depth <= 0) return false
    if (this.keys.has(key)) return true
    this.keys.add(key)
    if (this.keys.size > this.depth) this.keys.delete(this.keys.values().next().value as string)
    return false
  }
}
