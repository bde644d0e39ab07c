/**
 * Owns the audit chain's rules: the canonical form of a record, the SHA-256 link to the previous
 * record, and verification that finds the first edited, missing, inserted or reordered record.
 * Stores only persist records; every store builds and checks them with these functions.
 */

import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical';
import { IncidentErrorCodes, incidentError } from './errors';
import type { AuditHead, AuditInput, AuditRecord, AuditVerification, JsonValue } from './types';

/** The `prevHash` of the first record: 64 zeros. */
export const GENESIS_HASH = '0'.repeat(64);

/** Version of the canonical form; part of every hashed record so the form can evolve. */
export const AUDIT_FORMAT_VERSION = 1;

const TYPE_PATTERN = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;

/** The fields of a record that its hash covers (everything but the hash itself). */
export type UnsealedAuditRecord = Omit<AuditRecord, 'hash'>;

/** The exact bytes (as a string) whose SHA-256 is the record's hash. */
export function canonicalAuditForm(record: UnsealedAuditRecord): string {
  return canonicalJson({
    v: AUDIT_FORMAT_VERSION,
    seq: record.seq,
    at: record.at,
    type: record.type,
    actor: record.actor,
    incidentId: record.incidentId,
    details: record.details,
    prevHash: record.prevHash,
  });
}

/** SHA-256 (hex) of a record's canonical form. */
export function auditRecordHash(record: UnsealedAuditRecord): string {
  return createHash('sha256').update(canonicalAuditForm(record), 'utf8').digest('hex');
}

/** Checks an audit input and returns its details in canonical JSON (what stores persist). */
export function validateAuditInput(input: AuditInput): {
  details: { [key: string]: JsonValue };
  text: string;
} {
  if (typeof input !== 'object' || input === null) {
    throw incidentError(IncidentErrorCodes.INVALID_INPUT, 'An audit record needs an object');
  }
  if (typeof input.type !== 'string' || input.type.length > 64 || !TYPE_PATTERN.test(input.type)) {
    throw incidentError(
      IncidentErrorCodes.INVALID_INPUT,
      'An audit record type is lower case and dotted, like `incident.viewed`',
    );
  }
  requireActor(input.actor);
  const details = input.details ?? {};
  if (typeof details !== 'object' || details === null || Array.isArray(details)) {
    throw incidentError(IncidentErrorCodes.INVALID_INPUT, 'Audit details must be a plain object');
  }
  let text: string;
  try {
    text = canonicalJson(details);
  } catch (err) {
    throw incidentError(IncidentErrorCodes.INVALID_INPUT, 'Audit details must be plain JSON', err);
  }
  if (text.length > 65_536) {
    throw incidentError(IncidentErrorCodes.INVALID_INPUT, 'Audit details are limited to 64 KiB of JSON');
  }
  return { details: JSON.parse(text) as { [key: string]: JsonValue }, text };
}

/** Throws `ERR_HASHGATE_INCIDENT_INVALID_INPUT` unless `actor` is a non-empty string of at most 200 characters. */
export function requireActor(actor: unknown): asserts actor is string {
  if (typeof actor !== 'string' || actor.trim().length === 0 || actor.length > 200) {
    throw incidentError(
      IncidentErrorCodes.INVALID_INPUT,
      'Every audited action needs an `actor`: a non-empty string of at most 200 characters',
    );
  }
}

/** Builds and seals the record that follows `head`. */
export function sealAuditRecord(
  head: AuditHead,
  at: string,
  input: AuditInput,
  details: { [key: string]: JsonValue },
): AuditRecord {
  const unsealed: UnsealedAuditRecord = {
    seq: head.seq + 1,
    at,
    type: input.type,
    actor: input.actor,
    incidentId: input.incidentId ?? null,
    details,
    prevHash: head.hash,
  };
  return { ...unsealed, hash: auditRecordHash(unsealed) };
}

/**
 * Verifies a chain read page by page in `seq` order. `readPage(afterSeq)` returns the next records
 * after `afterSeq` (an empty page at the end); `head` is the store's head row, which catches records
 * removed from the end. Reports the first bad position; never throws for a broken chain.
 */
export async function verifyAuditPages(
  readPage: (afterSeq: number) => Promise<readonly AuditRecord[]>,
  head: AuditHead,
): Promise<AuditVerification> {
  let expectedSeq = 1;
  let prevHash = GENESIS_HASH;
  let lastRead = 0;
  for (;;) {
    const page = await readPage(lastRead);
    if (page.length === 0) break;
    for (const record of page) {
      const position = expectedSeq;
      const verified = expectedSeq - 1;
      if (record.seq > expectedSeq) {
        return fail(
          verified,
          position,
          'missing',
          `record ${position} is missing (the next is ${record.seq})`,
        );
      }
      if (record.seq < expectedSeq) {
        return fail(
          verified,
          position,
          'out-of-order',
          `record ${record.seq} appears again at position ${position}`,
        );
      }
      // a broken link first: a moved or removed record also fails its own hash, but the link says why
      if (record.prevHash !== prevHash) {
        return fail(
          verified,
          position,
          'broken-link',
          `record ${position} does not follow record ${position - 1}: records were deleted, inserted or reordered`,
        );
      }
      if (auditRecordHash(record) !== record.hash) {
        return fail(
          verified,
          position,
          'edited',
          `record ${position} does not match its hash: it was edited`,
        );
      }
      prevHash = record.hash;
      expectedSeq++;
      lastRead = record.seq;
    }
  }
  const count = expectedSeq - 1;
  if (head.seq > count) {
    return fail(
      count,
      count + 1,
      'truncated',
      `the chain ends at record ${count} but the head says ${head.seq}`,
    );
  }
  if (head.seq !== count || head.hash !== prevHash) {
    return fail(count, head.seq, 'head-mismatch', `the head row does not match record ${count}`);
  }
  return { ok: true, records: count, head: { seq: count, hash: prevHash } };
}

function fail(
  records: number,
  position: number,
  problem: Extract<AuditVerification, { ok: false }>['problem'],
  message: string,
): AuditVerification {
  return { ok: false, records, position, problem, message };
}

/** Throws `ERR_HASHGATE_AUDIT_CHAIN_BROKEN` for a failed verification (for callers that want an error). */
export function assertAuditChain(result: AuditVerification): void {
  if (!result.ok) {
    throw incidentError(
      IncidentErrorCodes.AUDIT_CHAIN_BROKEN,
      `The audit chain is broken at position ${result.position} (${result.problem}): ${result.message}`,
    );
  }
}
