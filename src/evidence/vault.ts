/**
 * Owns the evidence vault: encrypted originals of blocked uploads in a folder, written atomically
 * (temporary file, fsync, link into place, fsync of the folder), never overwritten, and deleted only
 * by the retention sweep for incidents whose review is closed and that are not under legal hold.
 */

import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { invalidOption } from '../errors';
import { IncidentErrorCodes, incidentError } from '../incidents/errors';
import { isIncidentId } from '../incidents/ids';
import type { IncidentStore } from '../incidents/store';
import type { EvidenceRef } from '../incidents/types';
import { fsyncDir } from '../lists/atomic-file';
import { integerOption, objectOption, rejectUnknownKeys } from '../validate';
import {
  type EvidenceHeader,
  type EvidenceMetadata,
  type OpenedEvidence,
  openEvidenceCooperatively,
  readEvidenceHeader,
  sealEvidenceCooperatively,
} from './format';
import type { EvidenceKeyRing } from './keys';

/** Options of {@link createEvidenceVault}. */
export interface EvidenceVaultOptions {
  /** Folder of the evidence files (created with mode 0700 when missing). */
  dir: string;
  /** Keys (see `evidenceKeyRingFromEnv()`). */
  keys: EvidenceKeyRing;
  /** Clock in ms. @default Date.now */
  now?: () => number;
}

/** Options of {@link EvidenceVault.sweep}. */
export interface RetentionSweepOptions {
  /** The incident store that knows holds and review states. */
  store: IncidentStore;
  /** Evidence stored longer ago than this, in ms, is deleted unless held. */
  retentionMs: number;
  /** Actor recorded in the audit log. @default 'retention-sweep' */
  actor?: string;
  /** Most files deleted in one sweep. @default 10_000 */
  limit?: number;
}

/** What a retention sweep did. */
export interface RetentionReport {
  /** Evidence files deleted. */
  readonly deleted: number;
  /** Due files whose file was already gone (marked deleted). */
  readonly missing: number;
  /** Due files kept because a hold was set meanwhile. */
  readonly kept: number;
}

/** Encrypted evidence storage. */
export interface EvidenceVault {
  /** The evidence folder. */
  readonly dir: string;
  /**
   * Encrypts and stores the original bytes of an upload for an incident (bound to its id), under
   * the current key. Throws `ERR_HASHGATE_EVIDENCE_EXISTS` when the incident has evidence already.
   */
  put(
    incidentId: string,
    source: { readonly bytes: Uint8Array } | { readonly path: string },
    metadata?: EvidenceMetadata,
  ): Promise<EvidenceRef>;
  /**
   * Encrypts the original bytes of an upload for an incident under the current key without
   * writing anything: the sealed file and the reference to record once it is in the vault. With
   * {@link EvidenceVault.putSealed} this is `put()` in two steps, so that sealed evidence can wait
   * elsewhere (hashgate's spool) while the evidence folder cannot be written, never in plaintext.
   */
  seal(
    incidentId: string,
    source: { readonly bytes: Uint8Array } | { readonly path: string },
    metadata?: EvidenceMetadata,
  ): Promise<SealedEvidence>;
  /**
   * Writes a sealed evidence file (from {@link EvidenceVault.seal}) into the vault, atomically.
   * Writing the same bytes again resolves (a replay after a crash); other bytes for an incident
   * that has evidence throw `ERR_HASHGATE_EVIDENCE_EXISTS`.
   */
  putSealed(incidentId: string, data: Uint8Array): Promise<void>;
  /**
   * Decrypts an incident's evidence. Record the access first (`store.recordEvidenceAccess`, or
   * use `exportEvidence()` which does both). Throws the evidence key and tamper errors of
   * `openEvidence()`, and `ERR_HASHGATE_INCIDENT_NOT_FOUND` when there is no file.
   */
  read(incidentId: string): Promise<OpenedEvidence>;
  /** The header of an incident's evidence (no key needed, not yet authenticated), or undefined. */
  inspect(incidentId: string): Promise<EvidenceHeader | undefined>;
  /**
   * Deletes evidence older than `retentionMs` whose incident is `dismissed` or `reported` and not
   * under legal hold, recording each deletion in the audit log. Deletes nothing else, ever.
   */
  sweep(options: RetentionSweepOptions): Promise<RetentionReport>;
}

/** Evidence encrypted in memory, not yet written: the file's bytes and the reference to record. */
export interface SealedEvidence {
  readonly ref: EvidenceRef;
  /** The whole evidence file (header, ciphertext, tag). */
  readonly data: Buffer;
}

function ioError(what: string, err: unknown): Error {
  const code = (err as { code?: unknown } | null)?.code;
  return incidentError(
    IncidentErrorCodes.EVIDENCE_IO,
    `Could not ${what}${typeof code === 'string' ? ` (${code})` : ''}`,
    err,
  );
}

/**
 * Creates an evidence vault over a folder. Files are named by incident id in subfolders of two
 * characters; each is written to a temporary file, fsynced, linked into place (which fails rather
 * than overwrite) and the folder fsynced, so a crash leaves either no file or a whole one.
 *
 * @example
 * const vault = createEvidenceVault({ dir: '/var/lib/hashgate/evidence', keys: evidenceKeyRingFromEnv() });
 * const id = newIncidentId();
 * const evidence = await vault.put(id, { bytes: upload }, { originalName: 'a.jpg' });
 * await store.createIncident({ id, evidence, ... });
 */
export function createEvidenceVault(options: EvidenceVaultOptions): EvidenceVault {
  const o = objectOption('evidence', options);
  rejectUnknownKeys('evidence', o, ['dir', 'keys', 'now']);
  if (typeof o.dir !== 'string' || o.dir.length === 0)
    throw invalidOption('evidence.dir', 'the path of the evidence folder', o.dir);
  const keys = o.keys as EvidenceKeyRing | undefined;
  if (typeof keys !== 'object' || keys === null || typeof keys.get !== 'function') {
    throw invalidOption(
      'evidence.keys',
      'a key ring from evidenceKeyRingFromEnv() or createEvidenceKeyRing()',
      o.keys,
    );
  }
  if (o.now !== undefined && typeof o.now !== 'function')
    throw invalidOption('evidence.now', 'a function', o.now);
  const dir = o.dir;
  const now = (o.now as (() => number) | undefined) ?? Date.now;

  const folderOf = (id: string): string => join(dir, id.slice(4, 6));
  const pathOf = (id: string): string => join(folderOf(id), `${id}.hgev`);
  const requireId = (id: string): void => {
    if (!isIncidentId(id))
      throw incidentError(
        IncidentErrorCodes.INVALID_INPUT,
        'Evidence is stored under an incident id from newIncidentId()',
      );
  };

  async function writeNew(id: string, data: Buffer): Promise<void> {
    const folder = folderOf(id);
    const final = pathOf(id);
    const temp = join(folder, `.${id}.tmp-${randomBytes(6).toString('hex')}`);
    try {
      await mkdir(folder, { recursive: true, mode: 0o700 });
      const fh = await open(temp, 'wx', 0o600);
      try {
        await fh.writeFile(data);
        await fh.sync();
      } finally {
        await fh.close();
      }
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw ioError('write the evidence file', err);
    }
    try {
      await link(temp, final);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'EEXIST') {
        await unlink(temp).catch(() => undefined);
        throw incidentError(
          IncidentErrorCodes.EVIDENCE_EXISTS,
          `Incident ${id} already has evidence; evidence is never overwritten`,
        );
      }
      // file systems without hard links: check, then rename
      if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') {
        if (
          await stat(final).then(
            () => true,
            () => false,
          )
        ) {
          await unlink(temp).catch(() => undefined);
          throw incidentError(
            IncidentErrorCodes.EVIDENCE_EXISTS,
            `Incident ${id} already has evidence; evidence is never overwritten`,
          );
        }
        await rename(temp, final).catch(async (e: unknown) => {
          await unlink(temp).catch(() => undefined);
          throw ioError('move the evidence file into place', e);
        });
        await fsyncDir(folder).catch((e: unknown) => {
          throw ioError('sync the evidence folder', e);
        });
        return;
      }
      await unlink(temp).catch(() => undefined);
      throw ioError('move the evidence file into place', err);
    }
    await unlink(temp).catch(() => undefined);
    try {
      await fsyncDir(folder);
      await fsyncDir(dir);
    } catch (err) {
      throw ioError('sync the evidence folder', err);
    }
  }

  async function readRaw(id: string): Promise<Buffer | undefined> {
    try {
      return await readFile(pathOf(id));
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return undefined;
      throw ioError('read the evidence file', err);
    }
  }

  const vault: EvidenceVault = {
    dir,

    async seal(incidentId, source, metadata = {}) {
      requireId(incidentId);
      const key = keys.current;
      if (!key) {
        throw incidentError(
          IncidentErrorCodes.EVIDENCE_KEY_INVALID,
          'No current evidence key: set HASHGATE_EVIDENCE_KEY (base64 of 32 random bytes) to store evidence',
        );
      }
      let bytes: Uint8Array;
      if ('bytes' in source && source.bytes instanceof Uint8Array) bytes = source.bytes;
      else if ('path' in source && typeof source.path === 'string') {
        try {
          bytes = await readFile(source.path);
        } catch (err) {
          throw ioError('read the upload for evidence', err);
        }
      } else
        throw incidentError(
          IncidentErrorCodes.INVALID_INPUT,
          'Evidence comes from `{ bytes }` or `{ path }`',
        );
      const storedAt = new Date(now()).toISOString();
      const data = await sealEvidenceCooperatively(key, incidentId, storedAt, bytes, metadata);
      return { ref: { id: incidentId, keyId: key.id, size: bytes.byteLength, storedAt }, data };
    },

    async putSealed(incidentId, data) {
      requireId(incidentId);
      const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      if (readEvidenceHeader(buf).header.incidentId !== incidentId)
        throw incidentError(
          IncidentErrorCodes.INVALID_INPUT,
          `The sealed evidence is not for incident ${incidentId}`,
        );
      try {
        await writeNew(incidentId, buf);
      } catch (err) {
        // the same file written before a crash or an interrupted replay: nothing to do
        if ((err as { code?: string }).code !== IncidentErrorCodes.EVIDENCE_EXISTS) throw err;
        const existing = await readRaw(incidentId);
        if (!existing?.equals(buf)) throw err;
      }
    },

    async put(incidentId, source, metadata = {}) {
      const sealed = await vault.seal(incidentId, source, metadata);
      await writeNew(incidentId, sealed.data);
      return sealed.ref;
    },

    async read(incidentId) {
      requireId(incidentId);
      const raw = await readRaw(incidentId);
      if (!raw)
        throw incidentError(IncidentErrorCodes.NOT_FOUND, `No evidence file for incident ${incidentId}`);
      return openEvidenceCooperatively(raw, keys, incidentId);
    },

    async inspect(incidentId) {
      requireId(incidentId);
      const raw = await readRaw(incidentId);
      return raw ? readEvidenceHeader(raw).header : undefined;
    },

    async sweep(sweepOptions) {
      const s = objectOption('sweep', sweepOptions);
      rejectUnknownKeys('sweep', s, ['store', 'retentionMs', 'actor', 'limit']);
      const store = s.store as IncidentStore;
      if (typeof store !== 'object' || store === null || typeof store.listEvidenceDue !== 'function') {
        throw invalidOption('sweep.store', 'an IncidentStore', s.store);
      }
      const retentionMs = integerOption('sweep.retentionMs', s.retentionMs, Number.NaN, 1);
      if (Number.isNaN(retentionMs))
        throw invalidOption('sweep.retentionMs', 'the retention period in ms', undefined);
      const limit = integerOption('sweep.limit', s.limit, 10_000, 1);
      const actor = typeof s.actor === 'string' && s.actor.length > 0 ? s.actor : 'retention-sweep';
      let deleted = 0;
      let missing = 0;
      let kept = 0;
      const seen = new Set<string>();
      while (deleted + missing + kept < limit) {
        const at = now();
        const due = (
          await store.listEvidenceDue({ storedBefore: at - retentionMs, now: at, limit: 100 })
        ).filter((d) => !seen.has(d.incidentId));
        if (due.length === 0) break;
        for (const d of due) {
          seen.add(d.incidentId);
          // look again right before deleting: a reviewer may have set a hold since the listing
          const incident = await store.getIncident(d.incidentId);
          const holdMs = incident?.legalHoldUntil ? Date.parse(incident.legalHoldUntil) : 0;
          if (
            !incident ||
            holdMs > now() ||
            (incident.state !== 'dismissed' && incident.state !== 'reported')
          ) {
            kept++;
            continue;
          }
          let existed = true;
          try {
            await unlink(pathOf(d.incidentId));
            await fsyncDir(folderOf(d.incidentId));
          } catch (err) {
            if ((err as { code?: string }).code !== 'ENOENT') throw ioError('delete the evidence file', err);
            existed = false;
          }
          await store.markEvidenceDeleted(d.incidentId, {
            actor,
            reason: `retention period of ${Math.round(retentionMs / 86_400_000)} days ended`,
          });
          if (existed) deleted++;
          else missing++;
        }
      }
      return { deleted, missing, kept };
    },
  };
  return Object.freeze(vault);
}

/**
 * Records that a person viewed or exported an incident's evidence, then decrypts it: the audit
 * record is written first, so no evidence is ever handed out unrecorded.
 */
export async function accessEvidence(options: {
  readonly store: IncidentStore;
  readonly vault: EvidenceVault;
  readonly incidentId: string;
  readonly actor: string;
  readonly kind: 'viewed' | 'exported';
  readonly reason?: string;
}): Promise<OpenedEvidence> {
  const incident = await options.store.getIncident(options.incidentId);
  if (!incident)
    throw incidentError(IncidentErrorCodes.NOT_FOUND, `No incident with id ${options.incidentId}`);
  if (!incident.evidence || incident.evidence.deletedAt) {
    throw incidentError(IncidentErrorCodes.NOT_FOUND, `Incident ${options.incidentId} has no evidence`);
  }
  await options.store.recordEvidenceAccess(options.incidentId, {
    actor: options.actor,
    kind: options.kind,
    ...(options.reason ? { reason: options.reason } : {}),
    details: { keyId: incident.evidence.keyId },
  });
  return options.vault.read(options.incidentId);
}
