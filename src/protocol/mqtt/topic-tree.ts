/**
 * TopicTree: subscriptions by dotted filter, matched against dotted topic names with MQTT semantics (§4.7): `*` is
 * one level, `>` the rest including none (`a.>` matches `a`), and a name starting with `$` is not matched by a
 * filter starting with a wildcard. Used by memory-core.ts. Values are opaque; a (filter, key) pair holds one value.
 */
interface Node<V> {
  children: Map<string, Node<V>>
  values: Map<string, V>
}

const node = <V>(): Node<V> => ({ children: new Map(), values: new Map() })

export class TopicTree<V> {
  private readonly root: Node<V> = node()
  private count = 0

  get size(): number {
    return this.count
  }

  /** Sets the value of (filter, key); returns whether one was there. */
  set(filter: string, key: string, value: V): boolean {
    let n = this.root
    for (const level of filter.split('.')) {
      let c = n.children.get(level)
      if (!c) n.children.set(level, (c = node()))
      n = c
    }
    const had = n.values.has(key)
    n.values.set(key, value)
    if (!had) this.count++
    return had
  }

  get(filter: string, key: string): V | undefined {
    return this.find(filter)?.values.get(key)
  }

  /** Removes (filter, key); returns whether it was there. Empty branches are pruned. */
  delete(filter: string, key: string): boolean {
    const path: [Node<V>, string][] = []
    let n: Node<V> | undefined = this.root
    for (const level of filter.split('.')) {
      const c: Node<V> | undefined = n.children.get(level)
      if (!c) return false
      path.push([n, level])
      n = c
    }
    if (!n.values.delete(key)) return false
    this.count--
    for (let i = path.length - 1; i >= 0; i--) {
      const [parent, level] = path[i]!
      const child = parent.children.get(level)!
      if (child.values.size > 0 || child.children.size > 0) break
      parent.children.delete(level)
    }
    return true
  }

  /** Every value whose filter matches the dotted topic name. */
  match(name: string): V[] {
    const levels = name.split('.')
    const out: V[] = []
    const dollar = name.startsWith('$')
    const walk = (n: Node<V>, i: number) => {
      const first = i === 0
      const multi = n.children.get('>')
      if (multi && !(first && dollar)) for (const v of multi.values.values()) out.push(v)
      if (i === levels.length) {
        for (const v of n.values.values()) out.push(v)
        return
      }
      const exact = n.children.get(levels[i]!)
      if (exact) walk(exact, i + 1)
      const single = n.children.get('*')
      if (single && !(first && dollar)) walk(single, i + 1)
    }
    walk(this.root, 0)
    return out
  }

  private find(filter: string): Node<V> | undefined {
    let n: Node<V> | undefined = this.root
    for (const level of filter.split('.')) {
      n = n.children.get(level)
      if (!n) return undefined
    }
    return n
  }
}

/** Whether the dotted filter matches the dotted name (the same rules as TopicTree.match). */
export function filterMatches(filter: string, name: string): boolean {
  const t = new TopicTree<true>()
  t.set(filter, '', true)
  return t.match(name).length > 0
}
