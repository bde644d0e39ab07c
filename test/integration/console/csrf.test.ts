import { CONSOLE_CSP } from '../../../src/console';
import { type ConsoleBed, makeConsoleBed, type SignedIn, signInAs } from './helpers';

let bed: ConsoleBed;
let incident: string;
let reviewer: SignedIn;
let other: SignedIn;
beforeAll(async () => {
  bed = await makeConsoleBed();
  incident = await bed.upload(bed.images.verified, 'exact.jpg');
  reviewer = await signInAs(bed, 'reviewer');
  other = await signInAs(bed, 'admin');
});
afterAll(() => bed.close());

const confirm = (as: SignedIn, body: Record<string, string>) =>
  as.agent
    .post(`/console/incidents/${incident}/confirm`)
    .type('form')
    .send({ reason: 'exact match', ...body });

describe('console CSRF protection', () => {
  it('refuses a form without the token and changes nothing', async () => {
    const res = await confirm(reviewer, {}).expect(403);
    expect(res.text).toContain('Nothing was changed');
    expect((await (await bed.gate.store()).getIncident(incident))!.state).toBe('new');
  });

  it('refuses a wrong token and the token of another session', async () => {
    await confirm(reviewer, { _csrf: 'x'.repeat(43) }).expect(403);
    await confirm(reviewer, { _csrf: other.csrf }).expect(403);
    expect((await (await bed.gate.store()).getIncident(incident))!.state).toBe('new');
  });

  it('refuses a token sent in the query string instead of the form', async () => {
    await reviewer.agent
      .post(`/console/incidents/${incident}/confirm?_csrf=${reviewer.csrf}`)
      .type('form')
      .send({ reason: 'exact match' })
      .expect(403);
  });

  it('accepts the session token', async () => {
    await confirm(reviewer, { _csrf: reviewer.csrf }).expect(303);
    expect((await (await bed.gate.store()).getIncident(incident))!.state).toBe('confirmed');
  });

  it('puts the session token in every form of every page', async () => {
    for (const path of [
      '/',
      '/incidents',
      `/incidents/${incident}`,
      '/exports',
      '/audit',
      '/allowlist',
      '/users',
      '/account',
    ]) {
      const page = await other.agent.get(`/console${path}`).expect(200);
      const forms = page.text.match(/<form method="post"[\s\S]*?<\/form>/g) ?? [];
      expect(forms.length).toBeGreaterThan(0);
      for (const f of forms) expect(f).toContain(`name="_csrf" value="${other.csrf}"`);
    }
  });

  it('sends the strict Content-Security-Policy and no script on every page, signed in or not', async () => {
    const pages = [
      await other.agent.get('/console/'),
      await other.agent.get(`/console/incidents/${incident}`),
      await other.agent.get('/console/nowhere'),
      await bed.upload(bed.images.known, 'x.jpg').then(() => other.agent.get('/console/incidents')),
      await (await signInAs(bed, 'viewer')).agent.get('/console/audit'),
    ];
    const { default: request } = await import('supertest');
    pages.push(await request(bed.app).get('/console/login'));
    for (const res of pages) {
      expect(res.headers['content-security-policy']).toBe(CONSOLE_CSP);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.text).not.toMatch(/<script|\son[a-z]+=|javascript:|style="/i);
    }
  });
});
