import { join } from 'node:path';
import sharp from 'sharp';
import request from 'supertest';
import { createSqliteStore } from '../../../src/incidents/sqlite-store';
import type { IncidentStore } from '../../../src/incidents/store';
import { type ConsoleBed, makeConsoleBed, type SignedIn, signInAs } from './helpers';

/** The 99th percentile of differences of horizontally adjacent pixels in greyscale: edges; small when blurred. */
async function edgeStrength(image: Buffer, width: number): Promise<number> {
  const { data, info } = await sharp(image)
    .resize({ width })
    .greyscale()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const diffs: number[] = [];
  for (let y = 0; y < info.height; y++)
    for (let x = 1; x < info.width; x++) {
      const o = (y * info.width + x) * info.channels;
      diffs.push(Math.abs(data[o]! - data[o - info.channels]!));
    }
  diffs.sort((a, b) => a - b);
  return diffs[Math.floor(diffs.length * 0.99)]!;
}

function imagePath(page: string): string | undefined {
  return /<img src="([^"]+)"/.exec(page)?.[1];
}

let bed: ConsoleBed;
let store: IncidentStore;
let reviewer: SignedIn;
let admin: SignedIn;
beforeAll(async () => {
  bed = await makeConsoleBed({ pageSize: 2 });
  store = await bed.gate.store();
  reviewer = await signInAs(bed, 'reviewer');
  admin = await signInAs(bed, 'admin');
});
afterAll(() => bed.close());

const post = (as: SignedIn, path: string, body: Record<string, string> = {}) =>
  as.agent
    .post(`/console${path}`)
    .type('form')
    .send({ _csrf: as.csrf, ...body });

describe('viewing evidence', () => {
  let incident: string;
  beforeAll(async () => {
    incident = await bed.upload(bed.images.known, 'photo.jpg');
  });

  it('hides the evidence until a reviewer asks, then serves a blurred greyscale JPEG, once, with no-store', async () => {
    const hidden = await reviewer.agent.get(`/console/incidents/${incident}`).expect(200);
    expect(imagePath(hidden.text)).toBeUndefined();
    await post(reviewer, `/incidents/${incident}/evidence/view`).expect(303);
    const shown = await reviewer.agent.get(`/console/incidents/${incident}`).expect(200);
    const src = imagePath(shown.text)!;
    expect(src).toMatch(new RegExp(`^/console/incidents/${incident}/evidence/image/`));
    expect(shown.text).toContain('Blurred greyscale preview of the evidence');
    const img = await reviewer.agent.get(src).buffer(true).expect(200);
    expect(img.headers['content-type']).toBe('image/jpeg');
    expect(img.headers['cache-control']).toBe('no-store, private');
    const meta = await sharp(img.body as Buffer).metadata();
    expect(meta.channels).toBe(1);
    const blurred = await edgeStrength(img.body as Buffer, 240);
    const original = await edgeStrength(bed.images.known, 240);
    expect(blurred).toBeLessThan(0.25 * original);
    // the token is used up; a reload hides the evidence again
    await reviewer.agent.get(src).expect(404);
    expect(imagePath((await reviewer.agent.get(`/console/incidents/${incident}`)).text)).toBeUndefined();
  });

  it('records the view, marks the incident viewed by a person and counts the reviewer’s views today', async () => {
    const i = (await store.getIncident(incident))!;
    expect(i.evidenceViewed).toBe(true);
    const views = (await store.readAudit({ limit: 10_000 })).filter((r) => r.type === 'evidence.viewed');
    expect(views).toHaveLength(1);
    expect(views[0]).toMatchObject({ actor: 'console:reviewer', incidentId: incident });
    expect(views[0]!.details.presentation).toBe('blurred-greyscale');
    const page = await reviewer.agent.get(`/console/incidents/${incident}`);
    expect(page.text).toContain('You viewed evidence <strong id="my-views">1</strong> time today.');
  });

  it('unblurs only after a blurred view, as a separate recorded action', async () => {
    const other = await bed.upload(bed.images.knownOther, 'other.png');
    await post(reviewer, `/incidents/${other}/evidence/unblur`).expect(303);
    const refused = await reviewer.agent.get(`/console/incidents/${other}`);
    expect(refused.text).toContain('View the blurred preview first.');
    expect((await store.getIncident(other))!.evidenceViewed).toBe(false);

    await post(reviewer, `/incidents/${incident}/evidence/view`).expect(303);
    await reviewer.agent.get(`/console/incidents/${incident}`).expect(200);
    await post(reviewer, `/incidents/${incident}/evidence/unblur`).expect(303);
    const page = await reviewer.agent.get(`/console/incidents/${incident}`);
    expect(page.text).toContain('Unblurred preview of the evidence');
    const img = await reviewer.agent.get(imagePath(page.text)!).buffer(true).expect(200);
    expect((await sharp(img.body as Buffer).metadata()).channels).toBe(3);
    const presentations = (await store.readAudit({ limit: 10_000 }))
      .filter((r) => r.type === 'evidence.viewed' && r.incidentId === incident)
      .map((r) => r.details.presentation);
    expect(presentations).toEqual(['blurred-greyscale', 'blurred-greyscale', 'unblurred']);
    expect(page.text).toContain('<strong id="my-views">3</strong> times today');
  });

  it('shows admins every reviewer’s evidence views today on the dashboard', async () => {
    const page = await admin.agent.get('/console/').expect(200);
    expect(page.text).toMatch(/<td>console:reviewer<\/td><td class="num">3<\/td>/);
  });

  it('never serves an image without a grant', async () => {
    await reviewer.agent.get(`/console/incidents/${incident}/evidence/image/not-a-token`).expect(404);
    await admin.agent.get(`/console/incidents/${incident}/evidence/image/not-a-token`).expect(404);
  });
});

describe('deciding incidents', () => {
  it('asks for a view before confirming a perceptual match on a list that is not verified', async () => {
    const id = await bed.upload(bed.images.reencoded, 'small.jpg');
    const page = await reviewer.agent.get(`/console/incidents/${id}`);
    expect(page.text).not.toContain('id="confirm"');
    await post(reviewer, `/incidents/${id}/confirm`, { reason: 'looks right' }).expect(303);
    expect((await store.getIncident(id))!.state).toBe('new');
    expect((await reviewer.agent.get(`/console/incidents/${id}`)).text).toContain(
      'View the evidence before confirming',
    );
    await post(reviewer, `/incidents/${id}/evidence/view`).expect(303);
    await post(reviewer, `/incidents/${id}/confirm`, { reason: 'looks right' }).expect(303);
    expect((await store.getIncident(id))!.state).toBe('confirmed');
  });

  it('confirms an exact match on a verified list without viewing, and the incident says nobody viewed it', async () => {
    const id = await bed.upload(bed.images.verified, 'exact.jpg');
    const page = await reviewer.agent.get(`/console/incidents/${id}`);
    expect(page.text).toContain('it can be confirmed without viewing');
    await post(reviewer, `/incidents/${id}/confirm`, { reason: 'verified hotline hash' }).expect(303);
    const i = (await store.getIncident(id))!;
    expect(i.state).toBe('confirmed');
    expect(i.evidenceViewed).toBe(false);
    const pkg = await post(reviewer, `/incidents/${id}/report-package`).expect(200);
    expect(pkg.headers['content-disposition']).toBe(`attachment; filename="report-${id}.json"`);
    expect(JSON.parse(pkg.text)).toMatchObject({
      viewedByPerson: false,
      incident: { id, state: 'confirmed' },
    });
  });

  it('marks a confirmed incident reported with its reference, which sets a legal hold', async () => {
    const id = await bed.upload(bed.images.verified, 'exact2.jpg');
    await post(reviewer, `/incidents/${id}/confirm`, { reason: 'verified hotline hash' }).expect(303);
    await post(reviewer, `/incidents/${id}/report`, { reason: 'sent to the hotline' }).expect(303);
    expect((await reviewer.agent.get(`/console/incidents/${id}`)).text).toContain(
      'Give the report&#39;s reference.',
    );
    await post(reviewer, `/incidents/${id}/report`, { reference: 'HOTLINE-2025-001', reason: 'sent' }).expect(
      303,
    );
    const i = (await store.getIncident(id))!;
    expect(i).toMatchObject({ state: 'reported', reportReference: 'HOTLINE-2025-001' });
    expect(Date.parse(i.legalHoldUntil!)).toBeGreaterThan(Date.now() + 364 * 86_400_000);
    expect((await reviewer.agent.get(`/console/incidents/${id}`)).text).toContain('Marked reported.');
  });

  it('shows a refused transition as a notice', async () => {
    const id = await bed.upload(bed.images.verified, 'exact3.jpg');
    await post(reviewer, `/incidents/${id}/report`, { reference: 'R-1', reason: 'too early' }).expect(303);
    const page = await reviewer.agent.get(`/console/incidents/${id}`);
    expect(page.text).toMatch(
      /class="notice error" role="alert">Incident inc_\w+ cannot move from &#39;new&#39; to &#39;reported&#39;/,
    );
  });

  it('dismisses a false positive with an allowlist entry; the same upload then passes, and again fails after a revoke', async () => {
    const id = await bed.upload(bed.images.knownOther, 'fp.png');
    await post(reviewer, `/incidents/${id}/dismiss`, {
      reason: 'a harmless picture',
      allowlist: 'yes',
    }).expect(303);
    expect((await store.getIncident(id))!.state).toBe('dismissed');
    const entries = (await store.listAllowlist()).filter((e) => e.incidentId === id);
    expect(entries.map((e) => e.type).sort()).toEqual(['md5', 'pdq']);
    await request(bed.app).post('/memory').attach('file', bed.images.knownOther, 'fp.png').expect(200);
    const list = await admin.agent.get('/console/allowlist').expect(200);
    expect(list.text).toContain(entries[0]!.id);
    for (const e of entries)
      await post(admin, `/allowlist/${e.id}/revoke`, { reason: 'was wrong' }).expect(303);
    await request(bed.app).post('/memory').attach('file', bed.images.knownOther, 'fp.png').expect(451);
  });
});

describe('listing and exporting', () => {
  it('filters incidents by state, list and action, and pages through them', async () => {
    const byList = await reviewer.agent.get('/console/incidents?list=hotline').expect(200);
    const ids = [...byList.text.matchAll(/href="\/console\/incidents\/(inc_\w+)"/g)].map((m) => m[1]);
    expect(ids).toHaveLength(2);
    for (const id of ids)
      expect((await store.getIncident(id!))!.matches.some((m) => m.list === 'hotline')).toBe(true);
    const next = /href="([^"]+)" rel="next"/.exec(byList.text)![1]!.replace(/&amp;/g, '&');
    const page2 = await reviewer.agent.get(next).expect(200);
    const ids2 = [...page2.text.matchAll(/href="\/console\/incidents\/(inc_\w+)"/g)].map((m) => m[1]);
    expect(ids2.length).toBeGreaterThan(0);
    expect(ids2.some((id) => ids.includes(id))).toBe(false);
    const reported = await reviewer.agent.get('/console/incidents?state=reported').expect(200);
    expect(reported.text.match(/class="badge reported"/g)).toHaveLength(1);
    const none = await reviewer.agent.get('/console/incidents?action=takedown').expect(200);
    expect(none.text).toContain('No incidents match these filters.');
    const future = await reviewer.agent.get('/console/incidents?from=2999-01-01').expect(200);
    expect(future.text).toContain('No incidents match these filters.');
  });

  it('exports the incidents of a period as CSV and JSON, recorded in the audit log', async () => {
    const today = new Date().toISOString().slice(0, 10);
    const csv = await post(reviewer, '/exports/incidents', {
      format: 'csv',
      from: today,
      to: today,
      state: 'reported',
    }).expect(200);
    expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(csv.text.split('\r\n')[1]).toContain('HOTLINE-2025-001');
    const json = await post(reviewer, '/exports/incidents', {
      format: 'json',
      from: today,
      to: today,
    }).expect(200);
    expect(JSON.parse(json.text).incidents.length).toBeGreaterThan(5);
    const exports = (await store.readAudit({ limit: 10_000 })).filter((r) => r.type === 'export.incidents');
    expect(exports.map((r) => r.actor)).toEqual(['console:reviewer', 'console:reviewer']);
  });

  it('builds a report package with the evidence on request, recorded as an evidence export', async () => {
    const id = await bed.upload(bed.images.known, 'pkg.jpg');
    const res = await post(reviewer, '/exports/report', { incident: id, includeEvidence: 'yes' }).expect(200);
    const pkg = JSON.parse(res.text);
    expect(Buffer.from(pkg.evidence.data, 'base64').equals(bed.images.known)).toBe(true);
    const records = (await store.readAudit({ limit: 10_000 }))
      .filter((r) => r.incidentId === id)
      .map((r) => r.type);
    expect(records).toEqual(expect.arrayContaining(['evidence.exported', 'export.report']));
    await post(reviewer, '/exports/report', { incident: 'inc_000000000000000000000000' }).expect(303);
  });

  it('shows the audit log with a verified chain, and the incident page its own trail', async () => {
    const page = await reviewer.agent.get('/console/audit').expect(200);
    expect(page.text).toMatch(/id="audit-verification">The chain verifies: \d+ records/);
    const [first] = await store.listIncidents({ limit: 1 });
    const incidentPage = await reviewer.agent.get(`/console/incidents/${first!.id}`);
    const trail = /<table id="audit-trail">[\s\S]*?<\/table>/.exec(incidentPage.text)![0];
    expect(trail).toContain('incident.created');
    expect(trail).toContain('evidence.viewed');
    expect(trail).toContain('incident.viewed');
  });

  it('shows the dashboard with each list, today’s counts and the oldest unreviewed incident', async () => {
    const page = await reviewer.agent.get('/console/').expect(200);
    expect(page.text).toMatch(/<th scope="row">known<\/th>/);
    expect(page.text).toMatch(/<th scope="row">hotline<\/th>/);
    const blocked = Number(/id="count-blocked">(\d+)</.exec(page.text)![1]);
    expect(blocked).toBe((await store.listIncidents({})).length);
    const [oldest] = await store.listIncidents({ states: ['new'], limit: 1 });
    expect(page.text).toContain(`Oldest: <a href="/console/incidents/${oldest!.id}">`);
  });
});

describe('allowlist entries that need a second reviewer', () => {
  let second: ConsoleBed;
  let secondStore: IncidentStore;
  beforeAll(async () => {
    const dir = join(bed.dir, 'second');
    secondStore = await createSqliteStore({
      path: join(dir, 'incidents.sqlite'),
      requireSecondReviewer: true,
    });
    second = await makeConsoleBed({}, { store: secondStore });
  });
  afterAll(async () => {
    await second.close();
    await secondStore.close();
  });

  it('keeps the entry pending until an admin other than the proposer approves it', async () => {
    const id = await second.upload(second.images.knownOther, 'fp.png');
    const rev = await signInAs(second, 'reviewer');
    await rev.agent
      .post(`/console/incidents/${id}/dismiss`)
      .type('form')
      .send({ _csrf: rev.csrf, reason: 'harmless', allowlist: 'yes' })
      .expect(303);
    expect((await rev.agent.get(`/console/incidents/${id}`)).text).toContain('wait for a second reviewer');
    await request(second.app).post('/memory').attach('file', second.images.knownOther, 'fp.png').expect(451);
    const adm = await signInAs(second, 'admin');
    const pending = await secondStore.listAllowlist({ status: ['pending'] });
    for (const e of pending) {
      await adm.agent
        .post(`/console/allowlist/${e.id}/approve`)
        .type('form')
        .send({ _csrf: adm.csrf })
        .expect(303);
    }
    expect(await secondStore.listAllowlist({ status: ['pending'] })).toEqual([]);
    await request(second.app).post('/memory').attach('file', second.images.knownOther, 'fp.png').expect(200);
  });
});

describe('lifting a legal hold', () => {
  const DAY = 86_400_000;
  let viewer: SignedIn;
  beforeAll(async () => {
    viewer = await signInAs(bed, 'viewer');
  });

  const holdOf = async (id: string) => (await store.getIncident(id))!.legalHoldUntil;

  it('lets an admin lift a hold with a reason, audited; the form is shown to admins only', async () => {
    const id = await bed.upload(bed.images.known, 'held.jpg');
    expect((await admin.agent.get(`/console/incidents/${id}`)).text).not.toContain('id="lift-hold"');
    await post(admin, `/incidents/${id}/hold`, {
      until: '2999-06-30',
      reason: 'preservation request 7',
    }).expect(303);
    const page = await admin.agent.get(`/console/incidents/${id}`).expect(200);
    const form =
      /<form method="post" action="\/console\/incidents\/inc_\w+\/hold\/lift"[\s\S]*?<\/form>/.exec(
        page.text,
      )![0];
    expect(form).toContain(`name="_csrf" value="${admin.csrf}"`);
    expect(form).toMatch(/<textarea id="lift-hold-reason" name="reason"[^>]*required/);
    expect(form).toContain('id="lift-hold"');
    expect((await reviewer.agent.get(`/console/incidents/${id}`)).text).not.toContain('id="lift-hold"');
    expect((await viewer.agent.get(`/console/incidents/${id}`)).text).not.toContain('id="lift-hold"');

    await post(admin, `/incidents/${id}/hold/lift`, { reason: '  ' }).expect(303);
    expect((await admin.agent.get(`/console/incidents/${id}`)).text).toContain(
      'Give a reason for lifting the hold.',
    );
    expect((await holdOf(id))?.slice(0, 4)).toBe('2999');

    await post(admin, `/incidents/${id}/hold/lift`, { reason: 'request 7 withdrawn' }).expect(303);
    expect(await holdOf(id)).toBeNull();
    const lifted = (await store.readAudit({ limit: 10_000 })).filter(
      (r) => r.type === 'incident.legal_hold_lifted' && r.incidentId === id,
    );
    expect(lifted).toHaveLength(1);
    expect(lifted[0]).toMatchObject({
      actor: 'console:admin',
      details: { until: null, reason: 'request 7 withdrawn' },
    });
    const after = await admin.agent.get(`/console/incidents/${id}`);
    expect(after.text).toContain('The legal hold was lifted.');
    expect(after.text).not.toContain('id="lift-hold"');
    expect(/<table id="audit-trail">[\s\S]*?<\/table>/.exec(after.text)![0]).toContain(
      'incident.legal_hold_lifted',
    );
  });

  it('refuses a reviewer and a viewer with 403, and a form without the CSRF token, changing nothing', async () => {
    const id = await bed.upload(bed.images.known, 'held2.jpg');
    await post(admin, `/incidents/${id}/hold`, { until: '2999-06-30', reason: 'case 8' }).expect(303);
    await post(reviewer, `/incidents/${id}/hold/lift`, { reason: 'r' }).expect(403);
    await post(viewer, `/incidents/${id}/hold/lift`, { reason: 'r' }).expect(403);
    const noToken = await admin.agent
      .post(`/console/incidents/${id}/hold/lift`)
      .type('form')
      .send({ reason: 'r' })
      .expect(403);
    expect(noToken.text).toContain('Nothing was changed');
    await admin.agent
      .post(`/console/incidents/${id}/hold/lift`)
      .type('form')
      .send({ _csrf: reviewer.csrf, reason: 'r' })
      .expect(403);
    expect((await holdOf(id))?.slice(0, 4)).toBe('2999');
    expect(
      (await store.readAudit({ limit: 10_000 })).some(
        (r) => r.type === 'incident.legal_hold_lifted' && r.incidentId === id,
      ),
    ).toBe(false);
  });

  it('keeps the minimum hold a report imposes and says so when there is nothing more to lift', async () => {
    const id = await bed.upload(bed.images.verified, 'exact-held.jpg');
    await post(reviewer, `/incidents/${id}/confirm`, { reason: 'verified hotline hash' }).expect(303);
    await post(reviewer, `/incidents/${id}/report`, { reference: 'HOTLINE-HOLD-1', reason: 'sent' }).expect(
      303,
    );
    const reported = (await store.getIncident(id))!;
    const minimum = new Date(Date.parse(reported.stateChangedAt) + 365 * DAY).toISOString();
    expect(reported.legalHoldUntil).toBe(minimum);
    await post(admin, `/incidents/${id}/hold`, { until: '2999-06-30', reason: 'court order' }).expect(303);
    await post(admin, `/incidents/${id}/hold/lift`, { reason: 'order ended' }).expect(303);
    expect(await holdOf(id)).toBe(minimum);
    expect((await admin.agent.get(`/console/incidents/${id}`)).text).toContain(
      `the evidence is held until ${minimum.slice(0, 10)}.`,
    );
    await post(admin, `/incidents/${id}/hold/lift`, { reason: 'again' }).expect(303);
    expect((await admin.agent.get(`/console/incidents/${id}`)).text).toMatch(
      /class="notice error" role="alert">Incident inc_\w+ was reported: its evidence is held until/,
    );
    expect(await holdOf(id)).toBe(minimum);
  });
});
