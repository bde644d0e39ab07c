import { type ConsoleBed, makeConsoleBed, type SignedIn, signInAs } from './helpers';

let bed: ConsoleBed;
let incident: string;
let viewer: SignedIn;
let reviewer: SignedIn;
let admin: SignedIn;
beforeAll(async () => {
  bed = await makeConsoleBed();
  incident = await bed.upload(bed.images.known, 'cat.jpg');
  viewer = await signInAs(bed, 'viewer');
  reviewer = await signInAs(bed, 'reviewer');
  admin = await signInAs(bed, 'admin');
});
afterAll(() => bed.close());

const ACTION_IDS = [
  'id="confirm"',
  'id="dismiss"',
  'id="view-evidence"',
  'id="download-package"',
  'id="set-hold"',
  'id="lift-hold"',
];

describe('console roles', () => {
  it('lets a viewer read the dashboard, incidents, audit log and allowlist', async () => {
    for (const path of ['/', '/incidents', `/incidents/${incident}`, '/audit', '/allowlist']) {
      const res = await viewer.agent.get(`/console${path}`);
      expect({ path, status: res.status }).toEqual({ path, status: 200 });
    }
  });

  it('shows a viewer no action, no evidence control and no exports', async () => {
    const page = await viewer.agent.get(`/console/incidents/${incident}`).expect(200);
    for (const id of ACTION_IDS) expect(page.text).not.toContain(id);
    expect(page.text).toContain('Acting on it needs the reviewer role.');
    expect(page.text).toContain('Evidence is shown to reviewers only.');
    expect(page.text).not.toContain('/console/exports"');
    await viewer.agent.get('/console/exports').expect(403);
    await viewer.agent.get('/console/users').expect(403);
  });

  it('refuses every action of a viewer with 403 and leaves the incident as it was', async () => {
    for (const path of [
      'confirm',
      'dismiss',
      'report',
      'hold',
      'hold/lift',
      'evidence/view',
      'evidence/unblur',
      'report-package',
    ]) {
      const res = await viewer.agent
        .post(`/console/incidents/${incident}/${path}`)
        .type('form')
        .send({ _csrf: viewer.csrf, reason: 'r', reference: 'R', until: '2999-01-01', allowlist: 'yes' });
      expect({ path, status: res.status }).toEqual({ path, status: 403 });
    }
    for (const path of ['/exports/incidents', '/exports/report', '/users']) {
      const res = await viewer.agent.post(`/console${path}`).type('form').send({ _csrf: viewer.csrf });
      expect({ path, status: res.status }).toEqual({ path, status: 403 });
    }
    const store = await bed.gate.store();
    const after = (await store.getIncident(incident))!;
    expect(after.state).toBe('new');
    expect(after.evidenceViewed).toBe(false);
    expect(after.legalHoldUntil).toBeNull();
  });

  it('gives a reviewer the decision forms but no legal hold, users or allowlist changes', async () => {
    const page = await reviewer.agent.get(`/console/incidents/${incident}`).expect(200);
    expect(page.text).toContain('id="dismiss"');
    expect(page.text).toContain('id="view-evidence"');
    expect(page.text).not.toContain('id="set-hold"');
    await reviewer.agent
      .post(`/console/incidents/${incident}/hold`)
      .type('form')
      .send({ _csrf: reviewer.csrf, until: '2999-01-01', reason: 'case' })
      .expect(403);
    await reviewer.agent.get('/console/users').expect(403);
    await reviewer.agent
      .post('/console/allowlist/alw_0000000000000000000000000/revoke')
      .type('form')
      .send({ _csrf: reviewer.csrf, reason: 'x' })
      .expect(403);
    await reviewer.agent.get('/console/exports').expect(200);
  });

  it('lets an admin set a legal hold, which is audited', async () => {
    const page = await admin.agent.get(`/console/incidents/${incident}`).expect(200);
    expect(page.text).toContain('id="set-hold"');
    await admin.agent
      .post(`/console/incidents/${incident}/hold`)
      .type('form')
      .send({ _csrf: admin.csrf, until: '2999-06-30', reason: 'preservation request 42' })
      .expect(303);
    const store = await bed.gate.store();
    expect((await store.getIncident(incident))!.legalHoldUntil?.slice(0, 4)).toBe('2999');
    const records = await store.readAudit({ limit: 10_000 });
    expect(records.some((r) => r.type === 'incident.legal_hold_set' && r.actor === 'console:admin')).toBe(
      true,
    );
    const after = await admin.agent.get(`/console/incidents/${incident}`);
    expect(after.text).toContain('The evidence is held until 2999-');
  });

  it('records every incident page view in the audit log with the viewer', async () => {
    const store = await bed.gate.store();
    const before = (await store.readAudit({ limit: 10_000 })).filter(
      (r) => r.type === 'incident.viewed',
    ).length;
    await viewer.agent.get(`/console/incidents/${incident}`).expect(200);
    const views = (await store.readAudit({ limit: 10_000 })).filter((r) => r.type === 'incident.viewed');
    expect(views).toHaveLength(before + 1);
    expect(views.at(-1)).toMatchObject({ actor: 'console:viewer', incidentId: incident });
  });
});
