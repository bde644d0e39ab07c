/**
 * Owns parsing the verified entry files of one list version into a snapshot, either in a worker
 * thread (the default where the compiled worker script exists) or on the calling thread in slices
 * that yield. Both run {@link runParseJob}; the worker hands its columns back in shared memory, so
 * the main thread receives a snapshot without copying or creating a string per entry.
 */

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Yielder } from '../cooperative';
import type { ListSnapshot, TypedEntries } from '../snapshot';
import { createHashTypeResolver, type DropCounts, type HashTypeResolver, SnapshotBuilder } from './entries';
import { columnarEntries, IdColumn, isColumnar } from './entry-ids';
import { errorCodeOf, type ListErrorCode, ListErrorCodes, listError } from './errors';
import { applyDeltas, DeltaAccumulator, parseDeltaLines, parseSnapshotLines, readEntryFile } from './ndjson';

/** One verified local entry file. */
export interface EntryFile {
  readonly path: string;
  readonly compression: 'gzip' | 'none';
}

/** A snapshot as plain data that crosses a thread boundary (typed arrays, arrays, strings). */
export interface PortableSnapshot {
  readonly list: string;
  readonly version: number;
  readonly createdAt: string;
  readonly categories: readonly string[];
  readonly types: readonly {
    readonly type: string;
    readonly count: number;
    readonly hashBytes: number;
    readonly hashes: Uint8Array;
    readonly categories: Uint16Array;
    readonly idBytes: Uint8Array;
    readonly idOffsets: Uint32Array;
    readonly labels: readonly (readonly [number, readonly string[]])[];
  }[];
}

/** What to parse: the snapshot file, or a delta chain applied to `base`. */
export interface ParseJob {
  readonly list: string;
  readonly version: number;
  readonly createdAt: string;
  readonly kind: 'snapshot' | 'deltas';
  /** The snapshot file, or the delta files in chain order. */
  readonly files: readonly EntryFile[];
  /** The accepted version the deltas apply to (`deltas` only). */
  readonly base: PortableSnapshot | null;
  readonly expectedCounts: Readonly<Record<string, number>>;
  readonly maxEntries?: number;
  readonly maxDecompressedBytes?: number;
}

/** The result of a parse job. */
export interface ParsedVersion {
  readonly snapshot: ListSnapshot;
  readonly dropped: DropCounts;
}

type WorkerReply =
  | { readonly ok: true; readonly snapshot: PortableSnapshot; readonly dropped: DropCounts }
  | { readonly ok: false; readonly code: string; readonly message: string };

/** Plain data of a snapshot; columns are passed as they are (shared memory stays shared). */
export function toPortable(s: ListSnapshot): PortableSnapshot {
  return {
    list: s.list,
    version: s.version,
    createdAt: s.createdAt,
    categories: [...s.categories],
    types: [...s.byType.values()].map((t) => {
      let idBytes: Uint8Array;
      let idOffsets: Uint32Array;
      if (isColumnar(t)) {
        idBytes = t.idBytes;
        idOffsets = t.idOffsets;
      } else {
        const ids = new IdColumn(t.count);
        for (let i = 0; i < t.count; i++) ids.appendString(t.ids[i]!);
        ({ idBytes, idOffsets } = ids.finish(false));
      }
      return {
        type: t.type,
        count: t.count,
        hashBytes: t.hashBytes,
        hashes: t.hashes,
        categories: t.categories,
        idBytes,
        idOffsets,
        labels: [...t.labels],
      };
    }),
  };
}

/** The snapshot of plain data made by {@link toPortable}. */
export function fromPortable(p: PortableSnapshot): ListSnapshot {
  const byType = new Map<string, TypedEntries>();
  for (const t of p.types) {
    byType.set(
      t.type,
      columnarEntries({
        type: t.type,
        count: t.count,
        hashBytes: t.hashBytes,
        hashes: t.hashes,
        categories: t.categories,
        idBytes: t.idBytes,
        idOffsets: t.idOffsets,
        labels: new Map(t.labels),
      }),
    );
  }
  return Object.freeze({
    list: p.list,
    version: p.version,
    createdAt: p.createdAt,
    categories: Object.freeze([...p.categories]),
    byType,
  });
}

/**
 * Parses and validates the files of a job into a snapshot (every entry checked; bad ones dropped
 * and counted). `shared` puts the columns in shared memory.
 */
export async function runParseJob(
  job: ParseJob,
  resolveType: HashTypeResolver,
  yielder: Yielder,
  shared: boolean,
): Promise<ParsedVersion> {
  const builder = new SnapshotBuilder({
    resolveType,
    expectedCounts: job.expectedCounts,
    ...(job.maxEntries === undefined ? {} : { maxEntries: job.maxEntries }),
  });
  if (job.kind === 'deltas') {
    if (!job.base) throw listError(ListErrorCodes.INTERNAL, 'A delta chain needs a base version');
    const acc = new DeltaAccumulator();
    for (const f of job.files) {
      await parseDeltaLines(
        readEntryFile(f.path, f.compression, job.maxDecompressedBytes),
        acc,
        builder,
        yielder,
      );
    }
    await applyDeltas(fromPortable(job.base), acc, builder, resolveType, yielder);
  } else {
    const f = job.files[0]!;
    await parseSnapshotLines(
      readEntryFile(f.path, f.compression, job.maxDecompressedBytes),
      builder,
      yielder,
    );
  }
  return {
    snapshot: builder.build(job.list, job.version, job.createdAt, { shared }),
    dropped: builder.dropped,
  };
}

/** Entry point of the worker thread (see `parse-worker.ts`): runs the job and posts the result. */
export async function workerMain(job: ParseJob, post: (reply: WorkerReply) => void): Promise<void> {
  try {
    // The worker has the whole thread to itself: no slices, no yields.
    const resolveType = createHashTypeResolver();
    const { snapshot, dropped } = await runParseJob(
      job,
      resolveType,
      new Yielder(Number.POSITIVE_INFINITY),
      true,
    );
    post({ ok: true, snapshot: toPortable(snapshot), dropped });
  } catch (err) {
    post({ ok: false, code: errorCodeOf(err), message: (err as Error)?.message ?? String(err) });
  }
}

const WORKER_SCRIPT = join(__dirname, 'parse-worker.js');

/** Whether list files can be parsed in a worker here (the compiled worker script sits next to this module). */
export function isParseWorkerAvailable(): boolean {
  return existsSync(WORKER_SCRIPT);
}

function errorFromWorker(code: string, message: string): Error {
  const known = Object.values(ListErrorCodes) as string[];
  if (known.includes(code) && code !== ListErrorCodes.INTERNAL)
    return listError(code as ListErrorCode, message);
  return listError(ListErrorCodes.INTERNAL, 'The list parse worker failed');
}

/** Runs a job in a worker thread; `signal` terminates it. */
export function runParseJobInWorker(job: ParseJob, signal?: AbortSignal): Promise<ParsedVersion> {
  return new Promise<ParsedVersion>((resolve, reject) => {
    let settled = false;
    const worker = new Worker(WORKER_SCRIPT, { workerData: job });
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      fn();
      void worker.terminate();
    };
    const onAbort = (): void =>
      settle(() => reject(listError(ListErrorCodes.ABORTED, 'The list sync was stopped')));
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.once('message', (reply: WorkerReply) =>
      settle(() =>
        reply.ok
          ? resolve({ snapshot: fromPortable(reply.snapshot), dropped: reply.dropped })
          : reject(errorFromWorker(reply.code, reply.message)),
      ),
    );
    worker.once('error', (err) =>
      settle(() => reject(listError(ListErrorCodes.INTERNAL, 'The list parse worker failed', err))),
    );
    worker.once('exit', (code) =>
      settle(() =>
        reject(listError(ListErrorCodes.INTERNAL, `The list parse worker exited with code ${code}`)),
      ),
    );
  });
}
