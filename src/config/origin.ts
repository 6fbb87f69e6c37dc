/**
 * Where a config value came from, so every error names its place: `broker.xml:7: <kahaDB> attribute "directory"`,
 * `broker.json: transportConnectors[0].uri`, or `--connector`. Readers record an Origin per input path; paths are
 * written `a.b[0].c` (the same form as JSON error paths).
 */
export interface Origin {
  /** XML line (1-based). */
  line?: number
  /** XML element: the element itself, or the element holding `attribute`. */
  element?: string
  attribute?: string
  /** CLI flag the value came from, e.g. "--connector". */
  flag?: string
}

export type PathItem = string | number

export function pathString(path: readonly PathItem[]): string {
  let out = ''
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`
  return out
}

export class Locator {
  /** `file` as the user wrote it (null = embedded default); `format` decides how places are written. */
  constructor(
    readonly file: string | null,
    readonly format: 'xml' | 'json' | 'default',
    private readonly origins: Map<string, Origin> = new Map(),
  ) {}

  set(path: readonly PathItem[], origin: Origin): void {
    this.origins.set(pathString(path), origin)
  }

  origin(path: readonly PathItem[]): Origin | undefined {
    return this.origins.get(pathString(path))
  }

  /** XML line of the value at `path`, or of its nearest recorded ancestor (used to sort issues). */
  line(path: readonly PathItem[]): number {
    for (let n = path.length; n >= 0; n--) {
      const o = this.origins.get(pathString(path.slice(0, n)))
      if (o?.line !== undefined) return o.line
    }
    return 0
  }

  /** The place of the value at `path`, as the start of an error message (no trailing colon). */
  at(path: readonly PathItem[]): string {
    const exact = this.origins.get(pathString(path))
    if (exact?.flag) return exact.flag
    if (this.format === 'xml') {
      const file = this.file ?? 'config'
      if (exact?.attribute) return `${file}:${exact.line}: <${exact.element}> attribute "${exact.attribute}"`
      if (exact?.element) return `${file}:${exact.line}: <${exact.element}>`
      const line = this.line(path)
      return `${file}:${line}: ${pathString(path) || '<broker>'}`
    }
    const where = pathString(path) || '(top level)'
    return this.file === null ? `config ${where}` : `${this.file}: ${where}`
  }

  /** The place of the object at `path` when a key inside it is wrong (unknown or unsupported). */
  container(path: readonly PathItem[]): string {
    const exact = this.origins.get(pathString(path))
    if (exact?.flag) return exact.flag
    if (this.format === 'xml') return `${this.file ?? 'config'}:${this.line(path)}: <${exact?.element ?? 'broker'}>`
    const where = pathString(path) || '(top level)'
    return this.file === null ? `config ${where}` : `${this.file}: ${where}`
  }

  /** The printable form of a value found in the input: XML values are strings, JSON values JSON. */
  static found(value: unknown): string {
    if (value === undefined) return 'nothing'
    try {
      const s = JSON.stringify(value)
      return s.length > 120 ? s.slice(0, 117) + '...' : s
    } catch {
      return String(value)
    }
  }
}
