/**
 * Owns the Express adapter: `gate.middleware()` reads what multer left on the request (every
 * multer mode, memory or disk storage), calls the core's `scan()`, puts the results on
 * `req.hashgate`, and answers a blocked or unchecked upload itself — removing every copy multer
 * or the host's storage engine wrote, on every path. `gate.storage()` wraps a storage engine so a
 * blocked upload is never stored at all.
 */

import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ErrorCodes } from '../errors';
import type { Hashgate, RoutePolicy, ScanContext, ScanFile, ScanResult } from '../hashgate';
import { summarizeScan } from '../policy/summarize';
import { collectMulterFiles, type MulterFile, removeDiskCopies } from './multer-files';
import { createScanningStorage, SCAN_RESULT, type StorageEngineLike, storedByInner } from './storage';

/** Options of `gate.middleware()` and `gate.storage()` for one route. */
export interface RouteOptions extends RoutePolicy {
  /** Route label in incidents and logs. @default `METHOD baseUrl+path` */
  readonly route?: string;
  /** The uploader's user id in the host's system. */
  readonly uploader?: (req: Request) => string | undefined;
  /** Where the host stores the file (object key, path, URL), kept in the ledger for takedowns. */
  readonly contentRef?: (req: Request, file: MulterFile) => string | undefined;
  /** The request id. @default `req.id`, else the `x-request-id` header */
  readonly requestId?: (req: Request) => string | undefined;
  /**
   * Answer a blocked upload yourself (the files are already removed). Must end the response.
   * @default status `response.statusCode` (451) with a JSON or text body holding an opaque reference
   */
  readonly onBlocked?: (req: Request, res: Response, result: ScanResult) => void;
}

/** What `req.hashgate` holds after the middleware ran. */
export type RequestScan = ScanResult;

declare module 'express-serve-static-core' {
  interface Request {
    /** The scan of this request's uploads, set by `gate.middleware()`. */
    hashgate?: RequestScan;
  }
}

function contextOf(req: Request, options: RouteOptions): ScanContext {
  const headerId = req.headers['x-request-id'];
  const requestId =
    options.requestId?.(req) ??
    (req as { id?: unknown }).id?.toString() ??
    (typeof headerId === 'string' ? headerId : undefined);
  const userId = options.uploader?.(req);
  return {
    route: options.route ?? `${req.method} ${req.baseUrl}${req.route?.path ?? req.path}`,
    ...(requestId !== undefined ? { requestId } : {}),
    uploader: {
      userId: userId ?? null,
      ip: req.ip ?? req.socket?.remoteAddress ?? null,
      port: req.socket?.remotePort ?? null,
      userAgent: req.headers['user-agent'] ?? null,
    },
    policy: {
      ...(options.lists ? { lists: options.lists } : {}),
      ...(options.actions ? { actions: options.actions } : {}),
      ...(options.whenUnavailable ? { whenUnavailable: options.whenUnavailable } : {}),
    },
  };
}

/** Removes every stored copy of the request's files: multer's disk files and files a wrapped engine stored. */
async function removeEverything(req: Request, files: readonly MulterFile[]): Promise<void> {
  const viaInner = files.filter((f) => storedByInner(f));
  await Promise.all(
    viaInner.map(
      (f) =>
        new Promise<void>((resolve) => {
          const inner = (f as unknown as Record<symbol, StorageEngineLike>)[INNER_ENGINE];
          if (!inner) return resolve();
          inner._removeFile(req, f as unknown as Record<string, unknown>, () => resolve());
        }),
    ),
  );
  await removeDiskCopies(files.filter((f) => !storedByInner(f)));
}

const INNER_ENGINE = Symbol('hashgate.innerEngine');

function respondBlocked(gate: Hashgate, req: Request, res: Response, result: ScanResult): void {
  const { statusCode, message } = gate.config.response;
  const reference = result.incidentIds[0];
  res.status(statusCode);
  res.setHeader('Cache-Control', 'no-store');
  // The answer is the same for every list, hash type and distance: it must not help anyone probe the lists.
  if (req.accepts(['json', 'text']) === 'text') {
    res.type('text/plain').send(reference ? `${message} Reference: ${reference}\n` : `${message}\n`);
  } else {
    res.json({ error: { code: ErrorCodes.UPLOAD_BLOCKED, message, ...(reference ? { reference } : {}) } });
  }
}

function respondUnchecked(gate: Hashgate, req: Request, res: Response): void {
  const message = 'The upload could not be checked right now. Please try again later.';
  res.status(503);
  res.setHeader('Retry-After', String(gate.config.response.retryAfterSeconds));
  res.setHeader('Cache-Control', 'no-store');
  if (req.accepts(['json', 'text']) === 'text') res.type('text/plain').send(`${message}\n`);
  else res.json({ error: { code: ErrorCodes.UPLOAD_UNCHECKED, message } });
}

/** Route options `gate.storage()` scans with; given to `gate.middleware()` they apply only to files it scans itself. */
const SCAN_OPTIONS = [
  'route',
  'uploader',
  'contentRef',
  'requestId',
  'lists',
  'actions',
  'whenUnavailable',
] as const;

/** The Express middleware for one route (see module comment). */
export function createMiddleware(gate: Hashgate, options: RouteOptions = {}): RequestHandler {
  // Options that shape a scan, which gate.storage() has already done with its own options.
  const scanShaping = SCAN_OPTIONS.filter((key) => options[key] !== undefined);
  let warned = false;
  return (req: Request, res: Response, next: NextFunction): void => {
    const files = collectMulterFiles(req);
    if (files.length === 0) {
      next();
      return;
    }
    const run = async (): Promise<void> => {
      let result: ScanResult;
      const prescanned = files.map((f) => f[SCAN_RESULT] as ScanResult | undefined);
      if (prescanned.every((r) => r !== undefined)) {
        // gate.storage() scanned each file while it streamed in, under its own route options:
        // join the per-file results, refusing the request when the storage's policy refused a file.
        const scans = prescanned as ScanResult[];
        if (scanShaping.length > 0 && !warned) {
          warned = true;
          gate.config.logger.warn(
            'gate.middleware() options that shape a scan have no effect on files gate.storage() scanned; give them to gate.storage()',
            { options: scanShaping.join(', ') },
          );
        }
        const joined = summarizeScan(
          scans.flatMap((p) => p.files),
          gate.config.whenUnavailable,
        );
        result = { ...joined, rejected: joined.outcome !== 'block' && scans.some((p) => p.rejected) };
      } else {
        const scanFiles: ScanFile[] = files.map((f) => ({
          ...(f.buffer ? { bytes: f.buffer } : {}),
          ...(!f.buffer && typeof f.path === 'string' ? { path: f.path } : {}),
          originalName: f.originalname,
          declaredType: f.mimetype,
          fieldname: f.fieldname,
          ...(options.contentRef ? { contentRef: options.contentRef(req, f) ?? '' } : {}),
        }));
        result = await gate.scan(scanFiles, contextOf(req, options));
      }
      req.hashgate = result;
      if (result.outcome === 'block' || result.rejected) {
        await removeEverything(req, files);
        if (result.outcome === 'block') {
          if (options.onBlocked) options.onBlocked(req, res, result);
          else respondBlocked(gate, req, res, result);
        } else {
          respondUnchecked(gate, req, res);
        }
        return;
      }
      next();
    };
    run().catch((err: unknown) => {
      // Nothing unchecked may stay where the host would serve it.
      removeEverything(req, files).then(
        () => next(err),
        () => next(err),
      );
    });
  };
}

/**
 * A multer storage engine that scans each file while it streams in and passes it to `inner`
 * only when it may be stored. Use it with `gate.middleware()` after multer, which answers the
 * request and removes the other files of a refused request.
 */
export function createStorage(
  gate: Hashgate,
  inner: StorageEngineLike,
  options: RouteOptions = {},
): StorageEngineLike {
  const engine = createScanningStorage<ScanResult>(inner, async (source, meta, exact, req) => {
    const r = req as Request;
    const result = await gate.scan(
      [
        {
          ...source,
          originalName: meta.originalname,
          declaredType: meta.mimetype,
          fieldname: meta.fieldname,
          exact,
          ...(options.contentRef
            ? {
                contentRef:
                  options.contentRef(r, { ...meta, [SCAN_RESULT]: undefined } as unknown as MulterFile) ?? '',
              }
            : {}),
        },
      ],
      contextOf(r, options),
    );
    return { store: result.outcome !== 'block' && !result.rejected, result };
  });
  return {
    _handleFile(req, file, cb) {
      engine._handleFile(req, file, (err, info) => cb(err, info && { ...info, [INNER_ENGINE]: inner }));
    },
    _removeFile: engine._removeFile,
  };
}

/** The readiness probe handler (see `gate.readiness()`). */
export function createReadinessHandler(gate: Hashgate): RequestHandler {
  return (_req: Request, res: Response): void => {
    const s = gate.status();
    const ok = s.ready && s.fresh;
    res.status(ok ? 200 : 503);
    res.setHeader('Cache-Control', 'no-store');
    res.json({
      ready: s.ready,
      fresh: s.fresh,
      lists: s.lists.map((l) => ({
        list: l.list,
        version: l.version,
        entries: l.enabledEntries,
        ageSeconds: l.ageMs === null ? null : Math.round(l.ageMs / 1000),
        stale: l.stale,
        lastError: l.lastError?.code ?? null,
      })),
      index: { generation: s.index.generation, entries: s.index.entries },
      workers: s.workers,
      pending: {
        incidents: s.pending.incidents.incidents,
        evidence: s.pending.incidents.evidence,
        ledgerRecords: s.pending.ledger.records,
        ledgerSpooledBatches: s.pending.ledger.spooledBatches,
      },
    });
  };
}
