/**
 * Owns `createConsole()`: the trust-and-safety review console, an Express router of
 * server-rendered pages (no scripts, a strict Content-Security-Policy) over a hashgate instance's
 * store, lists and evidence. Every page needs a signed-in user, every action checks the role and
 * a CSRF token, and every view, decision and export is written to the audit log.
 */

import { existsSync } from 'node:fs';
import type { NextFunction, Request, Response, Router } from 'express';
import type { Hashgate } from '../hashgate';
import { errorFields } from '../observability/logger';
import { authRoutes } from './auth';
import { incidentRoutes } from './incident-routes';
import { createKit } from './kit';
import { type ConsoleOptions, parseConsoleOptions } from './options';
import { messagePage } from './pages/simple';
import { pageRoutes } from './routes';
import { CONSOLE_CSS } from './styles';
import { userRoutes } from './user-routes';

export { escapeHtml, type HtmlValue, html, SafeHtml } from './html';
export type {
  ConsoleConfig,
  ConsoleIdentity,
  ConsoleOptions,
  ConsoleRole,
  ConsoleUserOption,
} from './options';
export { CONSOLE_ROLES } from './options';
export { hashConsolePassword, verifyConsolePassword } from './passwords';

/** The Content-Security-Policy of every console response. */
export const CONSOLE_CSP =
  "default-src 'none'; style-src 'self'; img-src 'self' blob: data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': CONSOLE_CSP,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=()',
  'X-Robots-Tag': 'noindex, nofollow',
  'Cache-Control': 'no-store',
};

/** express is an optional peer dependency: load it only when a console is created. */
function loadExpress(): typeof import('express') {
  return require('express') as typeof import('express');
}

/**
 * Creates the review console: an Express router to mount on a path of its own. Without
 * `authenticate`, users sign in with a password (the first admin comes from `users`, the others
 * are added by admins in the console); with it, the host's login decides who the user is and
 * which role they have.
 *
 * @example
 * const passwordHash = await hashConsolePassword(process.env.CONSOLE_ADMIN_PASSWORD!);
 * app.use('/console', createConsole(gate, { users: [{ name: 'alice', role: 'admin', passwordHash }] }));
 */
export function createConsole(gate: Hashgate, options: ConsoleOptions = {}): Router {
  const config = parseConsoleOptions(options, gate.config);
  const express = loadExpress();
  const kit = createKit(gate, config);
  const { log, ctxOf, send } = kit;
  if (kit.passwordMode && config.users.length === 0 && !(config.usersFile && existsSync(config.usersFile))) {
    log.warn('the console has no users: pass `users` with a first admin (see hashConsolePassword())');
  }

  const router = express.Router();
  // every response: the strict policy, no caching, no framing
  router.use((_req, res, next) => {
    res.set(SECURITY_HEADERS);
    next();
  });
  // the stylesheet is the only thing served before sign-in besides the sign-in form
  router.get('/static/console.css', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300').type('text/css').send(CONSOLE_CSS);
  });
  router.use(express.urlencoded({ extended: false, limit: '32kb', parameterLimit: 50 }));

  authRoutes(router, kit);
  pageRoutes(router, kit);
  incidentRoutes(router, kit);
  if (kit.passwordMode) userRoutes(router, kit);

  // the rest: not found, and errors without details
  router.use((req, res) => {
    send(
      res,
      404,
      messagePage(ctxOf(req, res), 'Not found', 'There is no such page in the console.', {
        path: '/',
        label: 'Dashboard',
      }),
    );
  });

  router.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const status = (err as { status?: unknown } | null)?.status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return send(
        res,
        status,
        messagePage(ctxOf(req, res), 'Request refused', 'The console could not read this request.'),
      );
    }
    log.error('a console request failed', errorFields(err));
    send(
      res,
      500,
      messagePage(
        ctxOf(req, res),
        'Something went wrong',
        'The console could not complete the request; the error was logged. Try again.',
        {
          path: '/',
          label: 'Dashboard',
        },
      ),
    );
  });

  return router;
}
