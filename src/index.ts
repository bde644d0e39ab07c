/** hashgate's public entry point: re-exports only, by name. */

export {
  CONSOLE_CSP,
  CONSOLE_ROLES,
  type ConsoleConfig,
  type ConsoleIdentity,
  type ConsoleOptions,
  type ConsoleRole,
  type ConsoleUserOption,
  createConsole,
  hashConsolePassword,
  verifyConsolePassword,
} from './console';
export { type ErrorCode, ErrorCodes, HashgateError, isHashgateError } from './errors';
export * from './evidence/index';
export type { RequestScan, RouteOptions } from './express/middleware';
export type { StorageEngineLike } from './express/storage';
export {
  createHashgate,
  type FileScanResult,
  type Hashgate,
  type HashgateStatus,
  type RoutePolicy,
  type ScanContext,
  type ScanFile,
  type ScanResult,
  type UploaderInfo,
} from './hashgate';
export {
  BLOCKHASH_BITS,
  type BlockhashMethod,
  type BlockhashPixels,
  type BlockhashResult,
  blockhashPixels,
  blockhashRgba,
} from './hashing/blockhash';
export { DECODER_VERSION } from './hashing/decode';
export { ExactHasher, type ExactHashes, exactHashesOfBuffer, exactHashesOfFile } from './hashing/exact';
export { hamming256, hammingBytes, popcount32 } from './hashing/hamming';
export {
  type BuiltinHashTypeName,
  getHashType,
  type HashIssue,
  type HashKind,
  type HashParseResult,
  type HashType,
  hashTypes,
  PERCEPTUAL_WEIGHT_RANGE,
} from './hashing/hash-types';
export { createHasher, type Hasher, type HasherStats } from './hashing/hasher';
export type {
  BlockhashOptions,
  HashingConfig,
  HashingOptions,
  PdqOptions as PdqHashingOptions,
} from './hashing/hasher-options';
export {
  type ComputedHash,
  DIHEDRAL_VARIANTS,
  type DihedralVariant,
  type HashOutcome,
  type HashProvenance,
  type ImageFacts,
  type PerceptualOutcome,
  type UnavailableHash,
  type UnavailableReason,
} from './hashing/outcome';
export { type PdqConvention, type PdqPixels, type PdqResult, pdqHash } from './hashing/pdq';
export type { HashSource } from './hashing/perceptual';
export { type SniffedFormat, sniffFormat } from './hashing/sniff';
export type { PendingIncidentWrites, PendingLedgerWrites } from './incidents/durable-writes';
export * from './incidents/index';
export * from './lists/index';
export { type EntryRef, entryRefList, entryRefOrdinal } from './matching/entry-ref';
export type { HammingMatch, HashVariant, VariantMatch } from './matching/hamming-index';
export {
  type BuildMatchIndexOptions,
  buildMatchIndex,
  type CategoryFilter,
  type IndexedList,
  type MatchIndex,
  type MatchIndexSource,
  type MatchIndexStats,
  type ResolvedEntry,
  type TypeIndexStats,
} from './matching/match-index';
export {
  createMatchIndexHolder,
  type MatchIndexHolder,
  type MatchIndexState,
} from './matching/match-index-holder';
export { type Logger, silentLogger, stderrLogger } from './observability/logger';
export type { Config, HashgateOptions, ListConfig, ListOptions } from './options';
export type { Decision, FileOutcome, ListAction, MatchRecord, UnscannedReason } from './policy/decide';
export type { ListSnapshot, TypedEntries } from './snapshot';
