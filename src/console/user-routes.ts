/** Owns the user routes of password mode: admins manage users; everyone changes their own password. */

import type { Request, Response, Router } from 'express';
import { ErrorCodes, isHashgateError } from '../errors';
import { clientIp, field, type Kit, refusalText } from './kit';
import { CONSOLE_ROLES, type ConsoleRole, USER_NAME } from './options';
import { accountPage, usersPage } from './pages/users';
import { checkPasswordStrength, hashConsolePassword, verifyConsolePassword } from './passwords';
import { Refusal } from './refusal';
import { setCookie } from './sessions';

/** Adds the users and account routes (built-in users only). */
export function userRoutes(router: Router, kit: Kit): void {
  const {
    config,
    sessions,
    users,
    limiter,
    scopeOf,
    ctxOf,
    send,
    redirect,
    notify,
    wrap,
    need,
    audit,
    stateOf,
  } = kit;

  const userAction = (fn: (req: Request, res: Response) => Promise<string>) =>
    wrap(async (req, res) => {
      try {
        notify(res, 'ok', await fn(req, res));
      } catch (err) {
        const text = refusalText(err);
        if (text !== undefined) notify(res, 'error', text);
        else if (isHashgateError(err) && err.code === ErrorCodes.INVALID_OPTION)
          notify(res, 'error', 'A password needs 12 to 1024 characters.');
        else throw err;
      }
      redirect(req, res, '/users');
    });
  const userName = (req: Request): string => {
    const name = String(req.params.name ?? '');
    if (!USER_NAME.test(name)) throw new Refusal('There is no such user.');
    return name;
  };

  router.get(
    '/users',
    need('admin'),
    wrap(async (req, res) => {
      send(res, 200, usersPage(ctxOf(req, res), await users.list(), users.editable));
    }),
  );

  router.post(
    '/users',
    need('admin'),
    userAction(async (req, res) => {
      const name = field(req, 'name').trim().toLowerCase();
      const role = field(req, 'role') as ConsoleRole;
      if (!USER_NAME.test(name))
        throw new Refusal('A user name has 1 to 64 lower-case letters, digits, . _ - or @.');
      if (!CONSOLE_ROLES.includes(role)) throw new Refusal('Choose a role.');
      const password = field(req, 'password');
      checkPasswordStrength(password);
      await users.add({ name, role, passwordHash: await hashConsolePassword(password) }, stateOf(res).actor);
      await audit(res, 'console.user_added', { user: name, role });
      return `Added ${name} (${role}).`;
    }),
  );

  router.post(
    '/users/:name/role',
    need('admin'),
    userAction(async (req, res) => {
      const name = userName(req);
      const role = field(req, 'role') as ConsoleRole;
      if (!CONSOLE_ROLES.includes(role)) throw new Refusal('Choose a role.');
      await users.setRole(name, role);
      sessions.destroyUser(name);
      await audit(res, 'console.user_role_changed', { user: name, role });
      return `${name} is now ${role === 'admin' ? 'an' : 'a'} ${role}.`;
    }),
  );

  router.post(
    '/users/:name/password',
    need('admin'),
    userAction(async (req, res) => {
      const name = userName(req);
      const password = field(req, 'password');
      checkPasswordStrength(password);
      await users.setPassword(name, await hashConsolePassword(password));
      sessions.destroyUser(name);
      await audit(res, 'console.user_password_set', { user: name });
      return `The password of ${name} is set; their sessions ended.`;
    }),
  );

  router.post(
    '/users/:name/delete',
    need('admin'),
    userAction(async (req, res) => {
      const name = userName(req);
      if (name === stateOf(res).session.user) throw new Refusal('You cannot remove yourself.');
      await users.remove(name);
      sessions.destroyUser(name);
      await audit(res, 'console.user_removed', { user: name });
      return `Removed ${name}.`;
    }),
  );

  router.get(
    '/account',
    wrap(async (req, res) => {
      send(res, 200, accountPage(ctxOf(req, res), await users.get(stateOf(res).session.user)));
    }),
  );

  router.post(
    '/account/password',
    wrap(async (req, res) => {
      const { session } = stateOf(res);
      const ip = clientIp(req);
      const user = await users.get(session.user);
      const limit = limiter.check(ip, session.user);
      if (user?.source !== 'file' || !limit.allowed) {
        notify(
          res,
          'error',
          limit.allowed
            ? 'Your password is set in the host options.'
            : 'Too many failed attempts; try later.',
        );
        return redirect(req, res, '/account');
      }
      if (!(await verifyConsolePassword(field(req, 'current'), user.passwordHash))) {
        limiter.fail(ip, session.user);
        notify(res, 'error', 'The current password is wrong.');
        return redirect(req, res, '/account');
      }
      try {
        checkPasswordStrength(field(req, 'password'));
      } catch {
        notify(res, 'error', 'A password needs 12 to 1024 characters.');
        return redirect(req, res, '/account');
      }
      await users.setPassword(user.name, await hashConsolePassword(field(req, 'password')));
      await audit(res, 'console.password_changed', {});
      // the version changed: every session of the user ends, and this one continues as a new one
      sessions.destroyUser(user.name);
      const fresh = await users.get(user.name);
      const next = sessions.create(user.name, user.role, fresh?.version ?? 0, 'password');
      next.notice = { kind: 'ok', text: 'Your password is changed; your other sessions ended.' };
      setCookie(res, config.cookieName, next.id, config.sessionMaxMs, scopeOf(req));
      redirect(req, res, '/account');
    }),
  );
}
