/**
 * Owns console sessions: a server-side map keyed by random ids (the cookie carries only the id),
 * idle and absolute expiry, one CSRF token per session, one-shot notices, evidence grants, and
 * the signed token of the sign-in form.
 */

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import type { ConsoleRole } from './options';

/** A notice shown once on the next page (the answer to a form, after its redirect). */
export interface Notice {
  readonly kind: 'ok' | 'error';
  readonly text: string;
}

/** Evidence a reviewer asked to see: `blurred` first, `clear` after the separate unblur action. */
export interface EvidenceGrant {
  readonly mode: 'blurred' | 'clear';
  /** Until when the unblur control may follow the blurred view. */
  readonly expiresAt: number;
  /** The next render of the incident page shows the image (once). */
  pending: boolean;
}

/** A one-time token for one image response. */
export interface ImageToken {
  readonly incidentId: string;
  readonly mode: 'blurred' | 'clear';
  readonly expiresAt: number;
}

/** One signed-in user's session. */
export interface Session {
  readonly id: string;
  readonly user: string;
  /** Role at sign-in (host-authenticated sessions); password sessions re-read the directory. */
  role: ConsoleRole;
  /** The user record's version at sign-in: a password or role change ends older sessions. */
  readonly userVersion: number;
  readonly via: 'password' | 'host';
  readonly csrf: string;
  readonly createdAt: number;
  lastSeenAt: number;
  notice: Notice | undefined;
  readonly evidence: Map<string, EvidenceGrant>;
  readonly images: Map<string, ImageToken>;
}

const MAX_SESSIONS = 10_000;

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The console's sessions. */
export class SessionStore {
  readonly #sessions = new Map<string, Session>();
  readonly #idleMs: number;
  readonly #maxMs: number;
  readonly #now: () => number;

  constructor(idleMs: number, maxMs: number, now: () => number) {
    this.#idleMs = idleMs;
    this.#maxMs = maxMs;
    this.#now = now;
  }

  #expired(s: Session, at: number): boolean {
    return at - s.lastSeenAt > this.#idleMs || at - s.createdAt > this.#maxMs;
  }

  /** Starts a session (always with a new id: a session id is never carried over a sign-in). */
  create(user: string, role: ConsoleRole, userVersion: number, via: 'password' | 'host'): Session {
    const at = this.#now();
    if (this.#sessions.size >= MAX_SESSIONS) {
      for (const [id, s] of this.#sessions) if (this.#expired(s, at)) this.#sessions.delete(id);
      // still full: the least recently created sessions end first
      for (const id of this.#sessions.keys()) {
        if (this.#sessions.size < MAX_SESSIONS) break;
        this.#sessions.delete(id);
      }
    }
    const session: Session = {
      id: randomBytes(32).toString('base64url'),
      user,
      role,
      userVersion,
      via,
      csrf: randomBytes(32).toString('base64url'),
      createdAt: at,
      lastSeenAt: at,
      notice: undefined,
      evidence: new Map(),
      images: new Map(),
    };
    this.#sessions.set(session.id, session);
    return session;
  }

  /** The live session of this id (touched), or undefined; an expired one is removed. */
  get(id: string | undefined): Session | undefined {
    if (!id) return undefined;
    const s = this.#sessions.get(id);
    if (!s) return undefined;
    const at = this.#now();
    if (this.#expired(s, at)) {
      this.#sessions.delete(id);
      return undefined;
    }
    s.lastSeenAt = at;
    return s;
  }

  /** When the session ends at the latest (for the cookie's lifetime). */
  expiresAt(s: Session): number {
    return s.createdAt + this.#maxMs;
  }

  destroy(id: string): void {
    this.#sessions.delete(id);
  }

  /** Ends every session of a user except `keep`. */
  destroyUser(user: string, keep?: string): void {
    for (const [id, s] of this.#sessions) if (s.user === user && id !== keep) this.#sessions.delete(id);
  }

  /** Issues a one-time token for one image response of the session. */
  imageToken(s: Session, token: ImageToken): string {
    const id = randomBytes(24).toString('base64url');
    const at = this.#now();
    for (const [k, t] of s.images) if (t.expiresAt <= at) s.images.delete(k);
    s.images.set(id, token);
    return id;
  }

  /** Takes (and so uses up) an image token; undefined when unknown or expired. */
  takeImageToken(s: Session, id: string, at: number): ImageToken | undefined {
    const t = s.images.get(id);
    if (!t) return undefined;
    s.images.delete(id);
    return t.expiresAt > at ? t : undefined;
  }

  /** Drops the evidence grant and image tokens of one incident. */
  forgetEvidence(s: Session, incidentId: string): void {
    s.evidence.delete(incidentId);
    for (const [k, t] of s.images) if (t.incidentId === incidentId) s.images.delete(k);
  }

  /** True when `token` is this session's CSRF token (timing-safe). */
  checkCsrf(s: Session, token: unknown): boolean {
    return typeof token === 'string' && safeEqual(token, s.csrf);
  }
}

/** Reads one cookie from the request's Cookie header. */
export function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      return /^[A-Za-z0-9_-]{1,128}$/.test(value) ? value : undefined;
    }
  }
  return undefined;
}

/** Cookie attributes the console always uses. */
export interface CookieScope {
  /** The console's mount path. */
  readonly path: string;
  readonly secure: boolean;
}

/** Sets (or, with `maxAgeMs` 0, clears) an HttpOnly, SameSite=Strict cookie on the console's path. */
export function setCookie(
  res: Response,
  name: string,
  value: string,
  maxAgeMs: number,
  scope: CookieScope,
): void {
  const parts = [
    `${name}=${value}`,
    `Path=${scope.path}`,
    `Max-Age=${Math.max(0, Math.floor(maxAgeMs / 1000))}`,
    'HttpOnly',
    'SameSite=Strict',
  ];
  if (maxAgeMs > 0) parts.push(`Expires=${new Date(Date.now() + maxAgeMs).toUTCString()}`);
  if (scope.secure) parts.push('Secure');
  res.append('Set-Cookie', parts.join('; '));
}

/**
 * The sign-in form's CSRF protection, before any session exists: a random nonce in a cookie and
 * its HMAC under a per-process secret in the form. A cross-site page can neither read the cookie
 * nor compute the token.
 */
export class LoginTokens {
  readonly #secret = randomBytes(32);

  /** A new nonce for the cookie. */
  nonce(): string {
    return randomBytes(24).toString('base64url');
  }

  /** The form token of a nonce. */
  token(nonce: string): string {
    return createHmac('sha256', this.#secret).update(`login:${nonce}`).digest('base64url');
  }

  /** True when `token` belongs to `nonce`. */
  check(nonce: string | undefined, token: unknown): boolean {
    return typeof nonce === 'string' && typeof token === 'string' && safeEqual(token, this.token(nonce));
  }
}
