/** Owns the public surface of the evidence subsystem: re-exports only. */

export {
  type EvidenceHeader,
  type EvidenceMetadata,
  type OpenedEvidence,
  openEvidence,
  openEvidenceCooperatively,
  readEvidenceHeader,
  sealEvidence,
  sealEvidenceCooperatively,
} from './format';
export {
  createEvidenceKeyRing,
  EVIDENCE_KEY_ENV,
  type EvidenceKey,
  type EvidenceKeyInput,
  type EvidenceKeyRing,
  evidenceKeyRingFromEnv,
} from './keys';
export {
  accessEvidence,
  createEvidenceVault,
  type EvidenceVault,
  type EvidenceVaultOptions,
  type RetentionReport,
  type RetentionSweepOptions,
  type SealedEvidence,
} from './vault';
