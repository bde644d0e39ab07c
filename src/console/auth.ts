/**
 * Owns who may use the console: the sign-in form (password users), the step every other request
 * passes (a live session, or the host's `authenticate()`; the CSRF token on every POST) and
 * signing out.
 */

import type { Request, Response, Router } from 'express';
import { errorFields } from '../observability/logger';
import { actorOf } from './data';
import { clientIp, field, type Kit, queryField, type RequestState, safeNext } from './kit';
import { CONSOLE_ROLES, type ConsoleOptions, USER_NAME } from './options';
import { loginPage, messagePage } from './pages/simple';
import { verifyConsolePassword } from './passwords';
import { readCookie, type Session, setCookie } from './sessions';

/** Adds the sign-in routes, then the gate every later route is behind, then sign-out. */
export function authRoutes(router: Router, kit: Kit): void {
  const {
    config,
    log,
    sessions,
    users,
    limiter,
    loginTokens,
    passwordMode,
    scopeOf,
    ctxOf,
    send,
    redirect,
    wrap,
    store,
    audit,
    stateOf,
  } = kit;
  const loginCookie = `${config.cookieName}_login`;

  // --- sign-in -----------------------------------------------------------------------------
  const showLogin = (
    req: Request,
    res: Response,
    status: number,
    form: { next?: string; user?: string; error?: string },
  ) => {
    const nonce = loginTokens.nonce();
    setCookie(res, loginCookie, nonce, 3_600_000, scopeOf(req));
    const next = form.next !== undefined ? safeNext(form.next) : undefined;
    send(
      res,
      status,
      loginPage(ctxOf(req, res), {
        token: loginTokens.token(nonce),
        next,
        ...(form.user ? { user: form.user } : {}),
        ...(form.error ? { error: form.error } : {}),
      }),
    );
  };

  if (passwordMode) {
    router.get('/login', (req, res) => {
      if (sessions.get(readCookie(req, config.cookieName))) return redirect(req, res, '/');
      showLogin(req, res, 200, { next: queryField(req, 'next') });
    });

    router.post(
      '/login',
      wrap(async (req, res) => {
        const next = field(req, 'next');
        const name = field(req, 'user').trim().toLowerCase().slice(0, 64);
        if (!loginTokens.check(readCookie(req, loginCookie), field(req, '_login'))) {
          return showLogin(req, res, 403, { next, error: 'The sign-in form expired. Please sign in again.' });
        }
        const ip = clientIp(req);
        const limit = limiter.check(ip, name);
        if (!limit.allowed) {
          const minutes = Math.max(1, Math.ceil(limit.retryAfterMs / 60_000));
          res.set('Retry-After', String(Math.ceil(limit.retryAfterMs / 1000)));
          return showLogin(req, res, 429, {
            next,
            user: name,
            error: `Too many failed sign-ins. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`,
          });
        }
        const user = USER_NAME.test(name) ? await users.get(name) : undefined;
        const ok = await verifyConsolePassword(field(req, 'password'), user?.passwordHash);
        if (!ok || !user) {
          limiter.fail(ip, name);
          const after = limiter.check(ip, name);
          if (!after.allowed)
            log.warn('console sign-ins are being refused after repeated failures', { scope: after.scope });
          return showLogin(req, res, 401, { next, user: name, error: 'Wrong user name or password.' });
        }
        limiter.succeed(name);
        const previous = readCookie(req, config.cookieName);
        if (previous) sessions.destroy(previous);
        const session = sessions.create(user.name, user.role, user.version, 'password');
        setCookie(res, config.cookieName, session.id, config.sessionMaxMs, scopeOf(req));
        setCookie(res, loginCookie, '', 0, scopeOf(req));
        await (await store()).appendAudit({
          type: 'console.signed_in',
          actor: actorOf(user.name),
          details: { role: user.role },
        });
        res.redirect(303, `${req.baseUrl}${safeNext(next) ?? '/'}`);
      }),
    );
  }

  // --- authentication: nothing below is reachable without a session ------------------------
  /** Resolves true when the request may go on; otherwise it has answered. */
  const admit = async (req: Request, res: Response): Promise<boolean> => {
    const refuse = (status: number, heading: string, text: string): void => {
      if (readCookie(req, config.cookieName)) setCookie(res, config.cookieName, '', 0, scopeOf(req));
      send(
        res,
        status,
        messagePage(
          ctxOf(req, res),
          heading,
          text,
          passwordMode ? { path: '/login', label: 'Sign in' } : undefined,
        ),
      );
    };
    let session: Session | undefined;
    if (config.authenticate) {
      let identity: Awaited<ReturnType<NonNullable<ConsoleOptions['authenticate']>>>;
      try {
        identity = await config.authenticate(req);
      } catch (err) {
        log.error('the host authenticate() callback failed', errorFields(err));
        identity = undefined;
      }
      if (
        !identity ||
        typeof identity.user !== 'string' ||
        identity.user.length === 0 ||
        identity.user.length > 190 ||
        /\p{Cc}/u.test(identity.user) ||
        !CONSOLE_ROLES.includes(identity.role)
      ) {
        refuse(401, 'Sign in first', 'Sign in to the application first; the console uses its login.');
        return false;
      }
      session = sessions.get(readCookie(req, config.cookieName));
      if (session?.via !== 'host' || session.user !== identity.user) {
        if (session) sessions.destroy(session.id);
        session = sessions.create(identity.user, identity.role, 0, 'host');
        setCookie(res, config.cookieName, session.id, config.sessionMaxMs, scopeOf(req));
      }
      session.role = identity.role;
    } else {
      session = sessions.get(readCookie(req, config.cookieName));
      if (session) {
        const user = await users.get(session.user);
        if (!user || user.version !== session.userVersion) {
          sessions.destroy(session.id);
          session = undefined;
        } else session.role = user.role;
      }
      if (!session) {
        if (req.method === 'GET' || req.method === 'HEAD') {
          const next = safeNext(req.url);
          res.redirect(
            303,
            `${req.baseUrl}/login${next && next !== '/' ? `?next=${encodeURIComponent(next)}` : ''}`,
          );
          return false;
        }
        refuse(401, 'Session ended', 'Your session ended or you are not signed in. Sign in and try again.');
        return false;
      }
    }
    res.locals.hashgateConsole = { session, actor: actorOf(session.user) } satisfies RequestState;
    if (req.method === 'POST' && !sessions.checkCsrf(session, field(req, '_csrf'))) {
      send(
        res,
        403,
        messagePage(
          ctxOf(req, res),
          'Form refused',
          'The form was not sent from this console session (its security token is missing or out of date). Nothing was changed. Reload the page and try again.',
          { path: '/', label: 'Dashboard' },
        ),
      );
      return false;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'POST') {
      send(res, 405, messagePage(ctxOf(req, res), 'Not allowed', 'The console answers GET and POST only.'));
      return false;
    }
    return true;
  };
  router.use((req, res, next) => {
    admit(req, res).then((ok) => (ok ? next() : undefined), next);
  });

  router.post(
    '/logout',
    wrap(async (req, res) => {
      const { session } = stateOf(res);
      sessions.destroy(session.id);
      setCookie(res, config.cookieName, '', 0, scopeOf(req));
      await audit(res, 'console.signed_out', {});
      redirect(req, res, passwordMode ? '/login' : '/');
    }),
  );
}
