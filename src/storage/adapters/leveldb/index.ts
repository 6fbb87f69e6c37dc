/** The `<levelDB>` persistence adapter: public entry of src/storage/adapters/leveldb. */
export {
  LevelDbAdapter,
  LEVELDB_SUBDIR,
  GROUP_OPS_MAX,
  GROUP_BYTES_MAX,
  LOCKED_RETRY_MS_DEFAULT,
  type LevelDbAdapterOptions,
} from './leveldb-adapter.ts'
export { FORMAT_NAME as LEVELDB_FORMAT_NAME, FORMAT_VERSION as LEVELDB_FORMAT_VERSION } from './keys.ts'
export { plantLevelDbFormat } from './plant-format.ts'
