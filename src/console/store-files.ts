/**
 * The file listing GET /api/store shows for each store directory: one level of subdirectories, largest first,
 * bounded by STORE_FILES_MAX (and 1,000 entries read per directory). Files removed meanwhile are skipped.
 */
import fs from 'node:fs'
import path from 'node:path'

/** Files listed per store directory at most. */
export const STORE_FILES_MAX = 200

/** Files of a store directory (one level of subdirectories), largest first, at most STORE_FILES_MAX. */
export async function listFiles(dir: string): Promise<{ name: string; bytes: number; modifiedAt: number }[]> {
  const out: { name: string; bytes: number; modifiedAt: number }[] = []
  const visit = async (d: string, prefix: string, depth: number): Promise<void> => {
    let names: fs.Dirent[]
    try {
      names = await fs.promises.readdir(d, { withFileTypes: true })
    } catch {
      return
    }
    for (const n of names.slice(0, 1000)) {
      const p = path.join(d, n.name)
      if (n.isDirectory()) {
        if (depth < 1) await visit(p, prefix + n.name + '/', depth + 1)
        continue
      }
      try {
        const st = await fs.promises.stat(p)
        out.push({ name: prefix + n.name, bytes: st.size, modifiedAt: st.mtimeMs })
      } catch {
        // Removed meanwhile (a compacted segment).
      }
    }
  }
  await visit(dir, '', 0)
  return out.sort((a, b) => b.bytes - a.bytes).slice(0, STORE_FILES_MAX)
}
