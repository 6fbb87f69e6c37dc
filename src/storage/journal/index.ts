/**
 * The journal module: segmented, CRC-checked, epoch-fenced append-only journal with group commit, and the
 * JournalStore adapter core the kahaDB and amq adapters configure. Other parts import from here only.
 */
export {
  JournalStore,
  type JournalStoreDeps,
  MARKER_FILE,
  JOURNAL_MAX_FILE_LENGTH_DEFAULT,
  DEDUPE_WINDOW_DEFAULT,
  GROUP_COMMIT_BYTES_MAX,
} from './journal-store.ts'
export { nodeFileIO, type FileIO, type FileHandleIO, type OpenMode } from './file-io.ts'
export {
  JOURNAL_FORMAT_VERSION,
  SEGMENT_HEADER_BYTES,
  RECORD_HEADER_BYTES,
  segmentName,
  parseSegmentName,
} from './format.ts'
export { CHECKPOINT_FORMAT_VERSION } from './index-state.ts'
