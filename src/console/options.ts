/**
 * Owns the console's options: their types, defaults (in one place) and validation into a frozen
 * configuration, with the same message shape as `createHashgate()`.
 */

import { join, resolve } from 'node:path';
import type { Request } from 'express';
import { invalidOption } from '../errors';
import { isValidTimeZone, serverTimeZone } from '../incidents/time';
import type { Logger } from '../observability/logger';
import type { Config as HashgateConfig } from '../options';
import { enumOption, integerOption, objectOption, rejectUnknownKeys } from '../validate';
import { parsePasswordHash } from './passwords';

/**
 * What a console user may do. Each role includes the one before it:
 * - `viewer`: read the dashboard, incidents (without evidence), the audit log and the allowlist
 * - `reviewer`: also act on incidents (confirm, dismiss, report), view evidence and export
 * - `admin`: also manage users, set legal holds and approve or revoke allowlist entries
 */
export type ConsoleRole = 'viewer' | 'reviewer' | 'admin';

/** All roles, weakest first. */
export const CONSOLE_ROLES: readonly ConsoleRole[] = ['viewer', 'reviewer', 'admin'];

/** Who is using the console. */
export interface ConsoleIdentity {
  /** User name, recorded as the actor of every audited action (`console:<user>`). */
  readonly user: string;
  readonly role: ConsoleRole;
}

/** A user given in the options (fixed: not editable in the console). */
export interface ConsoleUserOption {
  /** 1 to 64 of lower-case letters, digits, `.`, `_`, `-`, `@`. */
  name: string;
  role: ConsoleRole;
  /** From {@link hashConsolePassword}; never the password itself. */
  passwordHash: string;
}

/** Options of `createConsole()` (and `gate.console()`). */
export interface ConsoleOptions {
  /**
   * Users that always exist, e.g. the first admin. They cannot be changed in the console; admins
   * add further users there, which are kept in `usersFile`.
   * @example users: [{ name: 'alice', role: 'admin', passwordHash: await hashConsolePassword(pw) }]
   */
  users?: ConsoleUserOption[];
  /**
   * JSON file of the users admins add in the console (written with mode 0600), or `false` for
   * only the users of `users`. @default `<dataDir>/console-users.json`
   */
  usersFile?: string | false;
  /**
   * Use the host's own login instead of console passwords: return who the request's user is and
   * their console role, or undefined to refuse. The console then shows no login page.
   */
  authenticate?: (
    req: Request,
  ) => ConsoleIdentity | undefined | null | Promise<ConsoleIdentity | undefined | null>;
  /** A session ends after this long without a request, in ms. @default 1_800_000 (30 min) */
  sessionIdleMs?: number;
  /** A session ends this long after sign-in whatever happens, in ms. @default 43_200_000 (12 h) */
  sessionMaxMs?: number;
  /** Mark the session cookie `Secure`: `auto` does so for requests Express sees as https. @default 'auto' */
  secureCookies?: 'auto' | boolean;
  /** Name of the session cookie. @default 'hashgate_console' */
  cookieName?: string;
  /** Failed sign-ins allowed per window, per client IP and per user name. */
  loginRateLimit?: {
    /** @default 900_000 (15 min) */
    windowMs?: number;
    /** @default 20 */
    maxPerIp?: number;
    /** @default 5 */
    maxPerUser?: number;
  };
  /** Incidents per page. @default 50 */
  pageSize?: number;
  /** Time zone of the dashboard's "today" and of the date filters. @default the process's zone */
  timeZone?: string;
  /** Shown in the page header and titles. @default 'hashgate console' */
  title?: string;
  /** @default the gate's logger */
  logger?: Logger;
  /** Clock in ms (tests inject one). @default the gate's `now` */
  now?: () => number;
}

/** The console's frozen configuration. */
export interface ConsoleConfig {
  readonly users: readonly ConsoleUserOption[];
  readonly usersFile: string | undefined;
  readonly authenticate: ConsoleOptions['authenticate'];
  readonly sessionIdleMs: number;
  readonly sessionMaxMs: number;
  readonly secureCookies: 'auto' | boolean;
  readonly cookieName: string;
  readonly loginRateLimit: {
    readonly windowMs: number;
    readonly maxPerIp: number;
    readonly maxPerUser: number;
  };
  readonly pageSize: number;
  readonly timeZone: string;
  readonly title: string;
  readonly logger: Logger;
  readonly now: () => number;
}

/** Console user names: lower case, safe in cookies, URLs and audit actors. */
export const USER_NAME = /^[a-z0-9][a-z0-9._@-]{0,63}$/;
const COOKIE_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const KEYS = [
  'users',
  'usersFile',
  'authenticate',
  'sessionIdleMs',
  'sessionMaxMs',
  'secureCookies',
  'cookieName',
  'loginRateLimit',
  'pageSize',
  'timeZone',
  'title',
  'logger',
  'now',
];

function parseUsers(value: unknown): ConsoleUserOption[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalidOption('console.users', 'an array of users', value);
  const seen = new Set<string>();
  return value.map((u: unknown, i) => {
    const at = `console.users[${i}]`;
    const o = objectOption(at, u);
    rejectUnknownKeys(at, o, ['name', 'role', 'passwordHash']);
    if (typeof o.name !== 'string' || !USER_NAME.test(o.name)) {
      throw invalidOption(
        `${at}.name`,
        'a user name of 1 to 64 lower-case letters, digits, dots, dashes, underscores or @',
        o.name,
      );
    }
    if (seen.has(o.name)) throw invalidOption('console.users', 'unique user names', o.name);
    seen.add(o.name);
    if (o.role === undefined)
      throw invalidOption(`${at}.role`, "one of 'viewer', 'reviewer', 'admin'", o.role);
    const role = enumOption(`${at}.role`, o.role, CONSOLE_ROLES, 'viewer');
    if (!parsePasswordHash(o.passwordHash)) {
      throw invalidOption(
        `${at}.passwordHash`,
        'a hash from hashConsolePassword()',
        typeof o.passwordHash === 'string' ? 'a string that is not one' : o.passwordHash,
        'Never pass the password itself',
      );
    }
    return Object.freeze({ name: o.name, role, passwordHash: o.passwordHash as string });
  });
}

/** Applies defaults and validates; throws `ERR_HASHGATE_INVALID_OPTION` for anything wrong. */
export function parseConsoleOptions(options: unknown, gate: HashgateConfig): ConsoleConfig {
  const o = objectOption('console', options);
  rejectUnknownKeys('console', o, KEYS);
  const users = parseUsers(o.users);
  if (
    o.usersFile !== undefined &&
    o.usersFile !== false &&
    (typeof o.usersFile !== 'string' || !o.usersFile)
  ) {
    throw invalidOption('console.usersFile', 'a file path or false', o.usersFile);
  }
  if (o.authenticate !== undefined && typeof o.authenticate !== 'function') {
    throw invalidOption(
      'console.authenticate',
      'a function (req) => { user, role } | undefined',
      o.authenticate,
    );
  }
  const rate = objectOption('console.loginRateLimit', o.loginRateLimit);
  rejectUnknownKeys('console.loginRateLimit', rate, ['windowMs', 'maxPerIp', 'maxPerUser']);
  if (o.secureCookies !== undefined && o.secureCookies !== 'auto' && typeof o.secureCookies !== 'boolean') {
    throw invalidOption('console.secureCookies', "'auto', true or false", o.secureCookies);
  }
  if (o.cookieName !== undefined && (typeof o.cookieName !== 'string' || !COOKIE_NAME.test(o.cookieName))) {
    throw invalidOption('console.cookieName', 'a cookie name of letters, digits, - and _', o.cookieName);
  }
  if (o.timeZone !== undefined && !isValidTimeZone(o.timeZone)) {
    throw invalidOption('console.timeZone', 'an IANA time zone name such as `Europe/Amsterdam`', o.timeZone);
  }
  if (o.title !== undefined && (typeof o.title !== 'string' || o.title.length === 0 || o.title.length > 80)) {
    throw invalidOption('console.title', 'a title of 1 to 80 characters', o.title);
  }
  const logger = (o.logger as Logger | undefined) ?? gate.logger;
  if (typeof logger?.warn !== 'function' || typeof logger.error !== 'function') {
    throw invalidOption('console.logger', 'an object with info, warn and error methods', o.logger);
  }
  if (o.now !== undefined && typeof o.now !== 'function')
    throw invalidOption('console.now', 'a function', o.now);
  const sessionIdleMs = integerOption('console.sessionIdleMs', o.sessionIdleMs, 1_800_000, 1000);
  const sessionMaxMs = integerOption('console.sessionMaxMs', o.sessionMaxMs, 43_200_000, 1000);
  const authenticate = o.authenticate as ConsoleOptions['authenticate'];
  const usersFile =
    o.usersFile === false
      ? undefined
      : typeof o.usersFile === 'string'
        ? resolve(o.usersFile)
        : join(gate.dataDir, 'console-users.json');
  return Object.freeze({
    users: Object.freeze(users),
    usersFile: authenticate ? undefined : usersFile,
    authenticate,
    sessionIdleMs,
    sessionMaxMs: Math.max(sessionMaxMs, sessionIdleMs),
    secureCookies: o.secureCookies === undefined ? 'auto' : (o.secureCookies as 'auto' | boolean),
    cookieName: (o.cookieName as string | undefined) ?? 'hashgate_console',
    loginRateLimit: Object.freeze({
      windowMs: integerOption('console.loginRateLimit.windowMs', rate.windowMs, 900_000, 1000),
      maxPerIp: integerOption('console.loginRateLimit.maxPerIp', rate.maxPerIp, 20, 1),
      maxPerUser: integerOption('console.loginRateLimit.maxPerUser', rate.maxPerUser, 5, 1),
    }),
    pageSize: integerOption('console.pageSize', o.pageSize, 50, 1, 500),
    timeZone: (o.timeZone as string | undefined) ?? serverTimeZone(),
    title: (o.title as string | undefined) ?? 'hashgate console',
    logger,
    now: (o.now as (() => number) | undefined) ?? gate.now,
  });
}
