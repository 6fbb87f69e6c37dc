/**
 * DestinationIndex: subscription filters (ActiveMQ wildcards in the internal dotted form) → subscribers, for topic
 * fan-out: `match(name)` returns every subscriber whose filter matches a published name. A trie with one level per
 * segment: a literal child per segment value, one `*` child, and at each node the subscribers of filters ending
 * there or in `>` there. One lookup visits each trie node at most once (a node is one filter prefix), so its cost is
 * bounded by the filters' shape, not by how many subscribers share them; literal names cost one map hit per segment.
 *
 * Owns matching only: the kind of destination (topic vs queue) is the caller's key, as is deduplication of a
 * subscriber registered under two overlapping filters (match() returns a Set, so each appears once).
 */
import { ANY_CHILD, ANY_DESCENDANT, validateDestinationFilter } from './destination.ts'

interface Node<T> {
  literal: Map<string, Node<T>> | null
  star: Node<T> | null
  /** Subscribers of filters ending exactly at this node. */
  exact: Set<T> | null
  /** Subscribers of filters ending in `>` at this node: they match this node and everything below it. */
  descendants: Set<T> | null
}

function node<T>(): Node<T> {
  return { literal: null, star: null, exact: null, descendants: null }
}

function isEmpty<T>(n: Node<T>): boolean {
  return n.literal === null && n.star === null && n.exact === null && n.descendants === null
}

export class DestinationIndex<T> {
  private readonly root: Node<T> = node()
  private entries = 0

  /** (filter, subscriber) pairs held. */
  get size(): number {
    return this.entries
  }

  /** Adds a subscriber under a filter (validated; BROKER_DESTINATION_INVALID). Adding a held pair is a no-op. */
  add(filter: string, subscriber: T): void {
    validateDestinationFilter(filter)
    const segs = filter.split('.')
    let n = this.root
    const last = segs.length - 1
    for (let i = 0; i < last || (i === last && segs[i] !== ANY_DESCENDANT); i++) {
      const s = segs[i]!
      if (s === ANY_CHILD) n = n.star ??= node()
      else {
        n.literal ??= new Map()
        let next = n.literal.get(s)
        if (next === undefined) n.literal.set(s, (next = node()))
        n = next
      }
    }
    const set = segs[last] === ANY_DESCENDANT ? (n.descendants ??= new Set()) : (n.exact ??= new Set())
    if (set.has(subscriber)) return
    set.add(subscriber)
    this.entries++
  }

  /** Removes a (filter, subscriber) pair; false when it was not held. Prunes emptied trie nodes. */
  remove(filter: string, subscriber: T): boolean {
    const segs = filter.split('.')
    const last = segs.length - 1
    const path: { parent: Node<T>; seg: string }[] = []
    let n: Node<T> | null | undefined = this.root
    for (let i = 0; i < last || (i === last && segs[i] !== ANY_DESCENDANT); i++) {
      const s = segs[i]!
      path.push({ parent: n, seg: s })
      n = s === ANY_CHILD ? n.star : n.literal?.get(s)
      if (!n) return false
    }
    const gt = segs[last] === ANY_DESCENDANT
    const set = gt ? n.descendants : n.exact
    if (!set?.delete(subscriber)) return false
    this.entries--
    if (set.size === 0) {
      if (gt) n.descendants = null
      else n.exact = null
    }
    // Prune from the leaf up while nodes are empty.
    for (let i = path.length - 1; i >= 0 && isEmpty(n); i--) {
      const { parent, seg } = path[i]!
      if (seg === ANY_CHILD) parent.star = null
      else {
        parent.literal!.delete(seg)
        if (parent.literal!.size === 0) parent.literal = null
      }
      n = parent
    }
    return true
  }

  /**
   * Every subscriber whose filter matches `name` (a destination name, not a filter). Wildcards at the first
   * segment skip names whose first segment starts with `$` (MQTT §4.7.2).
   */
  match(name: string, out: Set<T> = new Set()): Set<T> {
    const segs = name.split('.')
    const dollar = segs[0]!.startsWith('$')
    // Iterative walk: (node, next segment index) pairs; each trie node is pushed at most once.
    const nodes: Node<T>[] = [this.root]
    const depths: number[] = [0]
    while (nodes.length > 0) {
      const n = nodes.pop()!
      const i = depths.pop()!
      const wildOk = i > 0 || !dollar
      if (n.descendants !== null && wildOk) for (const s of n.descendants) out.add(s)
      if (i === segs.length) {
        if (n.exact !== null) for (const s of n.exact) out.add(s)
        continue
      }
      const lit = n.literal?.get(segs[i]!)
      if (lit !== undefined) {
        nodes.push(lit)
        depths.push(i + 1)
      }
      if (n.star !== null && wildOk) {
        nodes.push(n.star)
        depths.push(i + 1)
      }
    }
    return out
  }
}
