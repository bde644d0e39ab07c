import { statSync } from 'node:fs';
import { join } from 'node:path';
import express from 'express';
import request from 'supertest';
import { createConsole, hashConsolePassword, verifyConsolePassword } from '../../../src/console';
import { type ConsoleBed, hiddenValue, makeConsoleBed, PASSWORDS, signIn, signInAs } from './helpers';

let bed: ConsoleBed;
let incident: string;
beforeAll(async () => {
  bed = await makeConsoleBed({ sessionIdleMs: 60_000, sessionMaxMs: 600_000 });
  incident = await bed.upload(bed.images.known, 'cat.jpg');
});
afterAll(() => bed.close());
beforeEach(() => {
  bed.clock.offsetMs = 0;
});

const GETS = (id: string) => [
  '/',
  '/incidents',
  '/incidents?state=new',
  `/incidents/${id}`,
  `/incidents/${id}/evidence/image/abc`,
  '/exports',
  '/audit',
  '/allowlist',
  '/users',
  '/account',
  '/nowhere',
];
const POSTS = (id: string) => [
  '/logout',
  `/incidents/${id}/confirm`,
  `/incidents/${id}/dismiss`,
  `/incidents/${id}/report`,
  `/incidents/${id}/hold`,
  `/incidents/${id}/hold/lift`,
  `/incidents/${id}/evidence/view`,
  `/incidents/${id}/evidence/unblur`,
  `/incidents/${id}/evidence/hide`,
  `/incidents/${id}/report-package`,
  '/exports/incidents',
  '/exports/report',
  '/allowlist/alw_0000000000000000000000000/approve',
  '/allowlist/alw_0000000000000000000000000/revoke',
  '/users',
  '/users/viewer/role',
  '/users/viewer/password',
  '/users/viewer/delete',
  '/account/password',
];

describe('console authentication', () => {
  it('redirects every page to the sign-in form without a session, revealing nothing', async () => {
    for (const path of GETS(incident)) {
      const res = await request(bed.app).get(`/console${path}`);
      expect({ path, status: res.status }).toEqual({ path, status: 303 });
      expect(res.headers.location).toMatch(/^\/console\/login/);
      expect(res.text).not.toContain('cat.jpg');
    }
  });

  it('refuses every action without a session with 401 and changes nothing', async () => {
    for (const path of POSTS(incident)) {
      const res = await request(bed.app)
        .post(`/console${path}`)
        .type('form')
        .send({ _csrf: 'x', reason: 'r', reference: 'R-1', allowlist: 'yes' });
      expect({ path, status: res.status }).toEqual({ path, status: 401 });
    }
    const store = await bed.gate.store();
    expect((await store.getIncident(incident))!.state).toBe('new');
  });

  it('refuses a session cookie the server never issued', async () => {
    const res = await request(bed.app).get('/console/').set('Cookie', 'hashgate_console=forged-session-id');
    expect(res.status).toBe(303);
  });

  it('signs in with the right password and sets a strict, HttpOnly, expiring cookie', async () => {
    const agent = request.agent(bed.app);
    const form = await agent.get('/console/login').expect(200);
    const res = await agent
      .post('/console/login')
      .type('form')
      .send({ user: 'reviewer', password: PASSWORDS.reviewer, _login: hiddenValue(form.text, '_login') })
      .expect(303);
    expect(res.headers.location).toBe('/console/');
    const cookie = ([] as string[])
      .concat(res.headers['set-cookie'] ?? [])
      .find((c) => c.startsWith('hashgate_console='))!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Path=\/console/);
    expect(cookie).toMatch(/Max-Age=600/);
    expect(cookie).not.toMatch(/Secure/); // plain http in the test
    const home = await agent.get('/console/').expect(200);
    expect(home.text).toContain('Signed in as <strong>reviewer</strong> (reviewer)');
  });

  it('marks the cookie Secure when Express sees https', async () => {
    const app = express();
    app.set('trust proxy', true);
    app.use(
      '/c',
      createConsole(bed.gate, {
        usersFile: false,
        users: [{ name: 'a', role: 'admin', passwordHash: await hashConsolePassword(PASSWORDS.admin) }],
      }),
    );
    const form = await request(app).get('/c/login').set('X-Forwarded-Proto', 'https').expect(200);
    const login = ([] as string[]).concat(form.headers['set-cookie'] ?? [])[0]!;
    expect(login).toMatch(/; Secure/);
    // supertest speaks plain http, so the Secure cookie is handed back by hand
    const res = await request(app)
      .post('/c/login')
      .set('X-Forwarded-Proto', 'https')
      .set('Cookie', login.split(';')[0]!)
      .type('form')
      .send({ user: 'a', password: PASSWORDS.admin, _login: hiddenValue(form.text, '_login') })
      .expect(303);
    const cookie = ([] as string[])
      .concat(res.headers['set-cookie'] ?? [])
      .find((c) => c.startsWith('hashgate_console='))!;
    expect(cookie).toMatch(/; Secure/);
  });

  it('refuses a wrong password with the same message as an unknown user', async () => {
    const agent = request.agent(bed.app);
    const form = await agent.get('/console/login');
    const wrong = await agent
      .post('/console/login')
      .type('form')
      .send({ user: 'admin', password: 'not-the-password', _login: hiddenValue(form.text, '_login') })
      .expect(401);
    const form2 = await agent.get('/console/login');
    const unknown = await agent
      .post('/console/login')
      .type('form')
      .send({ user: 'nobody', password: 'not-the-password', _login: hiddenValue(form2.text, '_login') })
      .expect(401);
    expect(wrong.text).toContain('Wrong user name or password.');
    expect(unknown.text).toContain('Wrong user name or password.');
    expect(
      ([] as string[])
        .concat(wrong.headers['set-cookie'] ?? [])
        .some((c) => c.startsWith('hashgate_console=')),
    ).toBe(false);
  });

  it('refuses a sign-in form that was not served to this browser', async () => {
    await request(bed.app)
      .post('/console/login')
      .type('form')
      .send({ user: 'admin', password: PASSWORDS.admin, _login: 'made-up' })
      .expect(403);
  });

  it('ends a session after it sat idle longer than sessionIdleMs', async () => {
    const { agent } = await signInAs(bed, 'viewer');
    bed.clock.offsetMs = 30_000;
    await agent.get('/console/').expect(200);
    bed.clock.offsetMs = 30_000 + 61_000;
    const res = await agent.get('/console/incidents');
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/console/login?next=%2Fincidents');
  });

  it('ends a session at sessionMaxMs even when it is in use', async () => {
    const { agent } = await signInAs(bed, 'viewer');
    for (let t = 50_000; t < 600_000; t += 50_000) {
      bed.clock.offsetMs = t;
      await agent.get('/console/').expect(200);
    }
    bed.clock.offsetMs = 601_000;
    await agent.get('/console/').expect(303);
  });

  it('signs out, and the old cookie no longer works', async () => {
    const { agent, csrf } = await signInAs(bed, 'viewer');
    await agent.post('/console/logout').type('form').send({ _csrf: csrf }).expect(303);
    await agent.get('/console/').expect(303);
    const store = await bed.gate.store();
    const types = (await store.readAudit({ limit: 10_000 })).map((r) => `${r.type} ${r.actor}`);
    expect(types).toContain('console.signed_in console:viewer');
    expect(types).toContain('console.signed_out console:viewer');
  });

  it('returns to the page asked for after signing in, but never to another site', async () => {
    const agent = request.agent(bed.app);
    const form = await agent.get('/console/login?next=%2Faudit');
    expect(form.text).toContain('name="next" value="/audit"');
    const res = await agent
      .post('/console/login')
      .type('form')
      .send({
        user: 'viewer',
        password: PASSWORDS.viewer,
        _login: hiddenValue(form.text, '_login'),
        next: '/audit',
      });
    expect(res.headers.location).toBe('/console/audit');
    const evil = request.agent(bed.app);
    const form2 = await evil.get('/console/login');
    const res2 = await evil
      .post('/console/login')
      .type('form')
      .send({
        user: 'viewer',
        password: PASSWORDS.viewer,
        _login: hiddenValue(form2.text, '_login'),
        next: '//evil.example/',
      });
    expect(res2.headers.location).toBe('/console/');
  });
});

describe('console sign-in rate limits', () => {
  let limited: ConsoleBed;
  beforeAll(async () => {
    limited = await makeConsoleBed({ loginRateLimit: { maxPerUser: 3, maxPerIp: 6, windowMs: 60_000 } });
  });
  afterAll(() => limited.close());

  const attempt = async (user: string, password: string) => {
    const agent = request.agent(limited.app);
    const form = await agent.get('/console/login');
    return agent
      .post('/console/login')
      .type('form')
      .send({ user, password, _login: hiddenValue(form.text, '_login') });
  };

  it('refuses a user after repeated failures, even with the right password, until the window ends', async () => {
    for (let i = 0; i < 3; i++) expect((await attempt('reviewer', 'wrong-password-xx')).status).toBe(401);
    const res = await attempt('reviewer', PASSWORDS.reviewer);
    expect(res.status).toBe(429);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect(res.text).toContain('Too many failed sign-ins');
    limited.clock.offsetMs = 61_000;
    expect((await attempt('reviewer', PASSWORDS.reviewer)).status).toBe(303);
  });

  it('refuses a client IP that tries many user names', async () => {
    limited.clock.offsetMs = 200_000;
    for (const u of ['a1', 'a2', 'a3', 'a4', 'a5', 'a6'])
      expect((await attempt(u, 'wrong-password-xx')).status).toBe(401);
    expect((await attempt('viewer', PASSWORDS.viewer)).status).toBe(429);
  });
});

describe('console users', () => {
  it('hashes passwords with scrypt and a random salt, and verifies them', async () => {
    const a = await hashConsolePassword('correct horse battery');
    const b = await hashConsolePassword('correct horse battery');
    expect(a).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(a).not.toBe(b);
    expect(await verifyConsolePassword('correct horse battery', a)).toBe(true);
    expect(await verifyConsolePassword('correct horse batterY', a)).toBe(false);
    expect(await verifyConsolePassword('anything', undefined)).toBe(false);
    await expect(hashConsolePassword('short')).rejects.toThrow(/12 to 1024 characters/);
  });

  it('refuses a plain password where a hash belongs', () => {
    expect(() =>
      createConsole(bed.gate, { users: [{ name: 'x', role: 'admin', passwordHash: 'hunter2-hunter2' }] }),
    ).toThrow(/hashConsolePassword/);
  });

  it('lets an admin add a user, kept in a users file of mode 0600, who can then sign in', async () => {
    const admin = await signInAs(bed, 'admin');
    await admin.agent
      .post('/console/users')
      .type('form')
      .send({ _csrf: admin.csrf, name: 'carol', role: 'reviewer', password: 'carols-password-99' })
      .expect(303);
    const file = join(bed.dir, 'data', 'console-users.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const carol = await signIn(bed, 'carol', 'carols-password-99');
    const page = await carol.agent.get('/console/').expect(200);
    expect(page.text).toContain('(reviewer)');
    // a role change ends carol's sessions
    await admin.agent
      .post('/console/users/carol/role')
      .type('form')
      .send({ _csrf: admin.csrf, role: 'viewer' })
      .expect(303);
    await carol.agent.get('/console/').expect(303);
    const again = await signIn(bed, 'carol', 'carols-password-99');
    expect((await again.agent.get('/console/')).text).toContain('(viewer)');
    await admin.agent
      .post('/console/users/carol/delete')
      .type('form')
      .send({ _csrf: admin.csrf })
      .expect(303);
    await again.agent.get('/console/').expect(303);
  });

  it('keeps users of the options fixed', async () => {
    const admin = await signInAs(bed, 'admin');
    await admin.agent
      .post('/console/users/viewer/role')
      .type('form')
      .send({ _csrf: admin.csrf, role: 'admin' })
      .expect(303);
    const page = await admin.agent.get('/console/users');
    expect(page.text).toContain('viewer is set in the host&#39;s options and cannot be changed here');
  });
});

describe('console with the host login (authenticate)', () => {
  it('uses the role the host gives and shows no sign-in form', async () => {
    const app = express();
    app.use(
      '/c',
      createConsole(bed.gate, {
        authenticate: (req) => {
          const user = req.get('x-test-user');
          return user ? { user, role: user === 'boss' ? 'admin' : 'viewer' } : undefined;
        },
      }),
    );
    await request(app).get('/c/').expect(401);
    await request(app).get('/c/login').expect(401);
    const res = await request(app).get('/c/').set('x-test-user', 'boss').expect(200);
    expect(res.text).toContain('Signed in as <strong>boss</strong> (admin)');
    expect(res.text).not.toContain('/c/users');
    await request(app).get('/c/exports').set('x-test-user', 'someone').expect(403);
    // a form needs the CSRF token of the console session the host user holds
    const agent = request.agent(app);
    const page = await agent.get(`/c/incidents/${incident}`).set('x-test-user', 'boss').expect(200);
    await agent
      .post('/c/allowlist/alw_0000000000000000000000000/approve')
      .set('x-test-user', 'boss')
      .type('form')
      .send({ _csrf: 'wrong' })
      .expect(403);
    await agent
      .post('/c/allowlist/alw_0000000000000000000000000/approve')
      .set('x-test-user', 'boss')
      .type('form')
      .send({ _csrf: hiddenValue(page.text, '_csrf') })
      .expect(303);
  });
});
