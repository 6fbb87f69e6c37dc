/**
 * A writer for the Prometheus text exposition format (version 0.0.4): HELP/TYPE lines, label escaping,
 * histograms as _bucket/_sum/_count. It only formats; the admin endpoint decides what to expose.
 */
export type MetricType = 'gauge' | 'counter' | 'histogram'
export type Labels = Record<string, string>

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN'
  if (v === Infinity) return '+Inf'
  if (v === -Infinity) return '-Inf'
  return String(v)
}

function formatLabels(labels: Labels | undefined): string {
  if (!labels) return ''
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`)
  return parts.length ? `{${parts.join(',')}}` : ''
}

export class Exposition {
  /** Family name -> its lines. A family's samples must stand together after its HELP/TYPE, so samples added
   *  later to an earlier family go into that family's block, not at the end. */
  private families = new Map<string, string[]>()

  private declare(name: string, type: MetricType, help: string): string[] {
    let lines = this.families.get(name)
    if (!lines) {
      lines = [`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`]
      this.families.set(name, lines)
    }
    return lines
  }

  /** One sample; call repeatedly with different labels for a labelled family (HELP/TYPE written once). */
  sample(name: string, type: 'gauge' | 'counter', help: string, value: number, labels?: Labels): this {
    this.declare(name, type, help).push(`${name}${formatLabels(labels)} ${formatValue(value)}`)
    return this
  }

  /** Declare a family with no samples yet (so scrapers see it even when empty). */
  family(name: string, type: MetricType, help: string): this {
    this.declare(name, type, help)
    return this
  }

  /** buckets: cumulative counts by upper bound, must end with le=+Inf. */
  histogram(name: string, help: string, buckets: { le: number; count: number }[], sum: number, labels?: Labels): this {
    const lines = this.declare(name, 'histogram', help)
    for (const b of buckets)
      lines.push(`${name}_bucket${formatLabels({ ...labels, le: formatValue(b.le) })} ${b.count}`)
    const total = buckets.length ? buckets[buckets.length - 1].count : 0
    lines.push(
      `${name}_sum${formatLabels(labels)} ${formatValue(sum)}`,
      `${name}_count${formatLabels(labels)} ${total}`,
    )
    return this
  }

  toString(): string {
    return [...this.families.values()].flat().join('\n') + '\n'
  }
}
