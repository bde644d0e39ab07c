/** Owns the public surface of the list subsystem: re-exports only. */

export type { AtomicWriteHooks } from './atomic-file';
export {
  countSnapshot,
  DEFAULT_CATEGORY,
  type DropCounts,
  type DropReason,
  diffAdded,
  filterCategories,
  SnapshotBuilder,
  type SnapshotCounts,
} from './entries';
export { type ColumnarEntries, entryIdAt, isColumnar } from './entry-ids';
export { type ListErrorCode, ListErrorCodes } from './errors';
export {
  deriveEntryId,
  LOCAL_LIST_FORMATS,
  type LocalListFormat,
  parseLocalFile,
  readLocalList,
  THREATEXCHANGE_TYPE_MAP,
} from './formats';
export { type FetchLike, isLoopbackHost, type Timers } from './http';
export {
  type GeneratedKeyPair,
  generateListKeyPair,
  keyIdOf,
  parsePrivateKey,
  parsePublicKey,
  type SigningKey,
  signManifest,
  type TrustedKey,
  verifyManifestSignature,
} from './keys';
export {
  createListRequestHandler,
  type ListServer,
  type ListServerOptions,
  startListServer,
} from './list-server';
export {
  createListSync,
  type ListErrorInfo,
  type ListSource,
  type ListStatus,
  type ListSync,
  type ListSyncLogger,
  type ListSyncOptions,
  type ListUpdate,
  type ListUpdateListener,
} from './list-sync';
export {
  type DeltaRef,
  type FileRef,
  type ListManifest,
  MANIFEST_FILE,
  parseManifest,
  type SnapshotRef,
} from './manifest';
export {
  type PublishedList,
  type PublishOptions,
  type PublishResult,
  publishListVersion,
  readPublishedList,
} from './publisher';
export { type VerifyListOptions, type VerifyListReport, verifyPublishedList } from './verify';
