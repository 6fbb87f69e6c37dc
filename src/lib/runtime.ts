/**
 * Names the JavaScript runtime this process runs on (Bun, Deno or Node.js) with its version, for what a broker
 * tells its peers and logs about itself (OpenWire's WireFormatInfo PlatformDetails). Detection only: nothing here
 * changes behaviour by runtime; code that must differ (FFI, for instance) picks its own binding.
 */

interface RuntimeGlobals {
  Bun?: { version: string }
  Deno?: { version: { deno: string } }
}

/** `Bun 1.2.3`, `Deno 2.1.0` or `Node.js v22.1.0`. Deno and Bun first: both also answer `process.version`. */
export function runtimeDescription(): string {
  const g = globalThis as RuntimeGlobals
  if (g.Bun) return `Bun ${g.Bun.version}`
  if (g.Deno) return `Deno ${g.Deno.version.deno}`
  return `Node.js ${process.version}`
}
