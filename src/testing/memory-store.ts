/** Tests import the in-memory adapter from here; it lives in storage/ because persistent=false brokers use it too. */
export { MemoryStore } from '../storage/memory-store.ts'
