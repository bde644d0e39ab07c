/**
 * Owns what every console route shares: the collaborators of one console (sessions, users,
 * rate limiter, audit tail, evidence vault) and the small helpers for answering a request
 * (page context, notices, role checks, refusals).
 */

import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ErrorCodes, isHashgateError } from '../errors';
import { evidenceKeyRingFromEnv } from '../evidence/keys';
import { createEvidenceVault, type EvidenceVault } from '../evidence/vault';
import type { Hashgate } from '../hashgate';
import type { IncidentStore } from '../incidents/store';
import type { Logger } from '../observability/logger';
import { dayOf, ScanCounts, ViewCounter } from './data';
import type { ConsoleConfig, ConsoleRole } from './options';
import { hasRole, type PageContext } from './pages/layout';
import { messagePage } from './pages/simple';
import { LoginLimiter } from './rate-limit';
import { Refusal } from './refusal';
import { type CookieScope, LoginTokens, type Session, SessionStore } from './sessions';
import { UserDirectory } from './users';

/** What the authentication step found for a request (kept in `res.locals`). */
export interface RequestState {
  readonly session: Session;
  /** The audit actor, `console:<user>`. */
  readonly actor: string;
}

/** A route body; a rejection goes to the console's error handler. */
export type Handler = (req: Request, res: Response) => Promise<void>;

/** The collaborators and helpers of one console. */
export interface Kit {
  readonly gate: Hashgate;
  readonly config: ConsoleConfig;
  readonly log: Logger;
  readonly sessions: SessionStore;
  readonly users: UserDirectory;
  readonly limiter: LoginLimiter;
  readonly loginTokens: LoginTokens;
  readonly views: ViewCounter;
  readonly scans: ScanCounts;
  /** The evidence vault, or undefined when the gate keeps no evidence. */
  readonly vault: EvidenceVault | undefined;
  readonly listNames: readonly string[];
  /** Lists configured as `verified`. */
  readonly verifiedLists: ReadonlySet<string>;
  /** Built-in users sign in with passwords (no host `authenticate`). */
  readonly passwordMode: boolean;
  scopeOf(req: Request): CookieScope;
  stateOf(res: Response): RequestState;
  /** The page context; takes the session's one-shot notice. */
  ctxOf(req: Request, res: Response): PageContext;
  send(res: Response, status: number, page: string): void;
  /** 303 to a path inside the console. */
  redirect(req: Request, res: Response, path: string): void;
  /** A notice for the next page of the session. */
  notify(res: Response, kind: 'ok' | 'error', text: string): void;
  wrap(fn: Handler): RequestHandler;
  /** Refuses (403) unless the signed-in user has `role`. */
  need(role: ConsoleRole): RequestHandler;
  store(): Promise<IncidentStore>;
  /** Appends an audit record by the signed-in user. */
  audit(res: Response, type: string, details: Record<string, string>, incidentId?: string): Promise<void>;
}

/** Store refusals whose message is shown to the user as it is (they carry no hashes or paths). */
const SHOWN_CODES: ReadonlySet<string> = new Set([
  ErrorCodes.INVALID_TRANSITION,
  ErrorCodes.INVALID_INPUT,
  ErrorCodes.SAME_REVIEWER,
  ErrorCodes.ALLOWLIST_STATE,
  ErrorCodes.NOT_FOUND,
  ErrorCodes.EVIDENCE_HELD,
]);

/** A message for the user when `err` is a refusal to show, else undefined (the error is a failure). */
export function refusalText(err: unknown): string | undefined {
  if (err instanceof Refusal) return err.message;
  if (isHashgateError(err) && SHOWN_CODES.has(err.code)) return err.message;
  return undefined;
}

/** A string field of the form body, or ''. */
export function field(req: Request, name: string): string {
  const v = (req.body as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' ? v : '';
}

/** A string query parameter, or ''. */
export function queryField(req: Request, name: string): string {
  const v = req.query[name];
  return typeof v === 'string' ? v : '';
}

/** A path inside the console to return to after sign-in; undefined unless it is plainly one. */
export function safeNext(value: string): string | undefined {
  if (value.length === 0 || value.length > 500) return undefined;
  if (!value.startsWith('/') || value.startsWith('//') || !/^[A-Za-z0-9/_\-.?=&%~+]*$/.test(value))
    return undefined;
  return value;
}

/** The day after a `YYYY-MM-DD` day. */
export function nextDay(day: string): string {
  return new Date(Date.parse(`${day}T12:00:00.000Z`) + 86_400_000).toISOString().slice(0, 10);
}

/** The client address for rate limits (Express's `req.ip`, which follows `trust proxy`). */
export function clientIp(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
}

function evidenceVaultOf(gate: Hashgate): EvidenceVault | undefined {
  const e = gate.config.evidence;
  if (e === false) return undefined;
  return createEvidenceVault({ dir: e.dir, keys: e.keys ?? evidenceKeyRingFromEnv(), now: gate.config.now });
}

/** Creates the collaborators of one console. */
export function createKit(gate: Hashgate, config: ConsoleConfig): Kit {
  const stateOf = (res: Response): RequestState => res.locals.hashgateConsole as RequestState;
  const ctxOf = (req: Request, res: Response): PageContext => {
    const state = res.locals.hashgateConsole as RequestState | undefined;
    const notice = state?.session.notice;
    if (state) state.session.notice = undefined;
    return {
      base: req.baseUrl,
      title: config.title,
      timeZone: config.timeZone,
      ...(state
        ? {
            identity: { user: state.session.user, role: state.session.role, via: state.session.via },
            csrf: state.session.csrf,
            notice,
          }
        : {}),
    };
  };
  const send = (res: Response, status: number, page: string): void => {
    res.status(status).type('html').send(page);
  };
  const store = (): Promise<IncidentStore> => gate.store();
  return {
    gate,
    config,
    log: config.logger,
    sessions: new SessionStore(config.sessionIdleMs, config.sessionMaxMs, config.now),
    users: new UserDirectory(config.users, config.usersFile, config.logger, config.now),
    limiter: new LoginLimiter(config.loginRateLimit, config.now),
    loginTokens: new LoginTokens(),
    views: new ViewCounter(config.timeZone),
    scans: new ScanCounts(dayOf(config.now(), config.timeZone)),
    vault: evidenceVaultOf(gate),
    listNames: gate.config.lists.map((l) => l.name),
    verifiedLists: new Set(gate.config.lists.filter((l) => l.verified).map((l) => l.name)),
    passwordMode: !config.authenticate,
    scopeOf: (req) => ({
      path: req.baseUrl || '/',
      secure: config.secureCookies === 'auto' ? req.secure : config.secureCookies,
    }),
    stateOf,
    ctxOf,
    send,
    redirect(req, res, path) {
      res.redirect(303, `${req.baseUrl}${path}`);
    },
    notify(res, kind, text) {
      stateOf(res).session.notice = { kind, text };
    },
    wrap: (fn) => (req: Request, res: Response, next: NextFunction) => {
      fn(req, res).catch(next);
    },
    need: (role) => (req: Request, res: Response, next: NextFunction) => {
      if (hasRole(stateOf(res).session.role, role)) {
        next();
        return;
      }
      send(
        res,
        403,
        messagePage(ctxOf(req, res), 'Not allowed', `This needs the ${role} role.`, {
          path: '/',
          label: 'Dashboard',
        }),
      );
    },
    store,
    async audit(res, type, details, incidentId) {
      await (await store()).appendAudit({
        type,
        actor: stateOf(res).actor,
        details,
        ...(incidentId ? { incidentId } : {}),
      });
    },
  };
}
