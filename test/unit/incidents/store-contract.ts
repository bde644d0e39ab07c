/**
 * The one contract every IncidentStore passes: run by the SQLite suite (test/unit) and the
 * PostgreSQL suite (test/integration) against a fresh database per test.
 */

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEvidenceKeyRing } from '../../../src/evidence/keys';
import { createEvidenceVault } from '../../../src/evidence/vault';
import { GENESIS_HASH } from '../../../src/incidents/audit-chain';
import { newIncidentId } from '../../../src/incidents/ids';
import type { IncidentStore } from '../../../src/incidents/store';
import type { IncidentStoreOptions } from '../../../src/incidents/store-options';
import { type FakeClock, fakeClock, sampleIncident, sampleLedgerRecord, T0 } from './helpers';

/** Raw edits an attacker with database access could make, per store. */
export interface AuditTamper {
  /** Changes one record's details (after removing the append-only guard). */
  editDetails(seq: number): Promise<void>;
  /** Deletes one record. */
  remove(seq: number): Promise<void>;
  /** Swaps the positions of two records. */
  swap(a: number, b: number): Promise<void>;
  /** Tries a plain UPDATE with the guard in place; resolves with the error. */
  plainUpdate(seq: number): Promise<unknown>;
}

/** A fresh store for one test. */
export interface StoreFixture {
  readonly store: IncidentStore;
  readonly tamper: AuditTamper;
  /** Closes the store and removes its database. */
  cleanup(): Promise<void>;
}

export type MakeStore = (options: IncidentStoreOptions) => Promise<StoreFixture>;

const DAY = 86_400_000;

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toMatchObject({ name: 'HashgateError', code });
}

export function runStoreContract(kind: string, make: MakeStore): void {
  describe(`IncidentStore contract (${kind})`, () => {
    let fixture: StoreFixture;
    let store: IncidentStore;
    let clock: FakeClock;
    const fixtures: StoreFixture[] = [];

    async function open(options: Partial<IncidentStoreOptions> = {}): Promise<IncidentStore> {
      const f = await make({ now: clock.now, timeZone: 'Europe/Amsterdam', ...options });
      fixtures.push(f);
      return f.store;
    }

    beforeEach(async () => {
      clock = fakeClock();
      fixture = await make({ now: clock.now, timeZone: 'Europe/Amsterdam' });
      fixtures.push(fixture);
      store = fixture.store;
    });

    afterEach(async () => {
      for (const f of fixtures.splice(0)) await f.cleanup();
    });

    describe('incidents', () => {
      it('records an incident with every field and reads it back', async () => {
        const input = sampleIncident({
          occurredAt: T0 - 5000,
          evidence: { id: 'x', keyId: 'k1', size: 64, storedAt: new Date(T0).toISOString() },
        });
        const created = await store.createIncident(input);
        const read = await store.getIncident(created.id);
        expect(read).toEqual(created);
        expect(read).toMatchObject({
          source: 'upload',
          occurredAt: new Date(T0 - 5000).toISOString(),
          route: 'POST /avatars',
          requestId: input.requestId,
          uploader: { userId: 'user-42', ip: '203.0.113.7', port: 51234, userAgent: 'test-agent/1.0' },
          file: { originalName: 'holiday.jpg', declaredType: 'image/jpeg', sniffedType: 'jpeg', size: 64 },
          action: 'block',
          dryRun: false,
          state: 'new',
          reportReference: null,
          legalHoldUntil: null,
          evidenceViewed: false,
          evidence: { id: 'x', keyId: 'k1', size: 64, storedAt: new Date(T0).toISOString(), deletedAt: null },
        });
        expect(read!.hashes).toEqual(input.hashes);
        expect(read!.matches).toEqual(input.matches);
        expect(read!.history).toEqual([
          {
            from: null,
            to: 'new',
            actor: 'hashgate',
            at: new Date(T0).toISOString(),
            reason: 'matched on upload',
            reportReference: null,
          },
        ]);
      });

      it('gives every incident a random opaque id', async () => {
        const a = await store.createIncident(sampleIncident());
        const b = await store.createIncident(sampleIncident());
        expect(a.id).toMatch(/^inc_[0-9a-hjkmnp-tv-z]{24}$/);
        expect(b.id).not.toBe(a.id);
        // no shared prefix beyond chance: ids carry no counter or time
        expect(a.id.slice(4, 12)).not.toBe(b.id.slice(4, 12));
      });

      it("records the time in UTC with the server's zone and its offset", async () => {
        const winter = await store.createIncident(sampleIncident({ occurredAt: Date.UTC(2025, 0, 15, 12) }));
        expect(winter).toMatchObject({
          occurredAt: '2025-01-15T12:00:00.000Z',
          timeZone: 'Europe/Amsterdam',
          utcOffsetMinutes: 60,
          localTime: '2025-01-15T13:00:00.000+01:00',
        });
        const summer = await store.createIncident(
          sampleIncident({ occurredAt: Date.UTC(2025, 6, 15, 12), timeZone: 'America/New_York' }),
        );
        expect(summer).toMatchObject({ utcOffsetMinutes: -240, localTime: '2025-07-15T08:00:00.000-04:00' });
      });

      it('writes the creation audit record and one outbox event with the incident', async () => {
        const i = await store.createIncident(sampleIncident());
        const audit = await store.readAudit();
        expect(audit).toHaveLength(1);
        expect(audit[0]).toMatchObject({
          seq: 1,
          type: 'incident.created',
          actor: 'hashgate',
          incidentId: i.id,
          prevHash: GENESIS_HASH,
        });
        const events = await store.listOutbox({ incidentId: i.id });
        expect(events).toHaveLength(1);
        expect(events[0]).toMatchObject({
          type: 'incident.created',
          incidentId: i.id,
          attempts: 0,
          deliveredAt: null,
          deliveredTo: [],
          payload: {
            type: 'incident.created',
            incident: {
              id: i.id,
              state: 'new',
              previousState: null,
              action: 'block',
              lists: ['own-list', 'stand-in-list'],
            },
          },
        });
        expect(events[0]!.payload.id).toBe(events[0]!.id);
      });

      it('puts no hash, entry id or category in a webhook payload', async () => {
        const i = await store.createIncident(sampleIncident());
        const [event] = await store.listOutbox({ incidentId: i.id });
        const text = JSON.stringify(event!.payload);
        for (const h of i.hashes) expect(text).not.toContain(h.hex);
        expect(text).not.toContain('e-1');
        expect(text).not.toContain('"test"');
      });

      it('refuses a second incident with the same id and keeps the first', async () => {
        const i = await store.createIncident(sampleIncident());
        await expectCode(
          store.createIncident(sampleIncident({ id: i.id })),
          'ERR_HASHGATE_INCIDENT_DUPLICATE',
        );
        expect(await store.readAudit()).toHaveLength(1);
        expect(await store.listOutbox()).toHaveLength(1);
      });

      it('refuses a malformed incident and writes nothing', async () => {
        await expectCode(
          store.createIncident(
            sampleIncident({ hashes: [{ type: 'md5', hex: 'XYZ', provenance: { algorithm: 'md5' } }] }),
          ),
          'ERR_HASHGATE_INCIDENT_INVALID_INPUT',
        );
        await expectCode(
          store.createIncident(sampleIncident({ action: 'explode' as never })),
          'ERR_HASHGATE_INCIDENT_INVALID_INPUT',
        );
        await expectCode(
          store.createIncident(sampleIncident({ id: 'inc_1' })),
          'ERR_HASHGATE_INCIDENT_INVALID_INPUT',
        );
        expect(await store.listIncidents()).toEqual([]);
        expect(await store.auditHead()).toEqual({ seq: 0, hash: GENESIS_HASH });
      });

      it('clips uploader-controlled text instead of losing the incident', async () => {
        const i = await store.createIncident(
          sampleIncident({
            uploader: { userAgent: 'A'.repeat(10_000), port: 99999 },
            file: { originalName: 'x\u0000y.jpg', size: 1 },
          }),
        );
        expect(i.uploader.userAgent).toHaveLength(1000);
        expect(i.uploader.port).toBeNull();
        expect(i.file.originalName).toBe('x y.jpg');
      });

      it('lists the incidents of a period in time order, by state, page by page', async () => {
        const made = [];
        for (let k = 0; k < 5; k++)
          made.push(await store.createIncident(sampleIncident({ occurredAt: T0 + k * 1000 })));
        await store.transition(made[1]!.id, { to: 'confirmed', actor: 'rev-a', reason: 'looks right' });
        expect((await store.listIncidents()).map((i) => i.id)).toEqual(made.map((i) => i.id));
        expect((await store.listIncidents({ from: T0 + 1000, to: T0 + 3000 })).map((i) => i.id)).toEqual([
          made[1]!.id,
          made[2]!.id,
        ]);
        expect((await store.listIncidents({ states: ['confirmed'] })).map((i) => i.id)).toEqual([
          made[1]!.id,
        ]);
        const first = await store.listIncidents({ limit: 2 });
        const next = await store.listIncidents({
          limit: 2,
          after: { occurredAt: first[1]!.occurredAt, id: first[1]!.id },
        });
        expect(next.map((i) => i.id)).toEqual([made[2]!.id, made[3]!.id]);
        expect(next[0]!.history).toHaveLength(1);
      });

      it('records who viewed an incident, and only when a person views it', async () => {
        const i = await store.createIncident(sampleIncident());
        await store.getIncident(i.id);
        expect(await store.readAudit()).toHaveLength(1);
        await store.viewIncident(i.id, { actor: 'rev-a' });
        const audit = await store.readAudit();
        expect(audit[1]).toMatchObject({ type: 'incident.viewed', actor: 'rev-a', incidentId: i.id });
        await expectCode(
          store.viewIncident('inc_000000000000000000000000', { actor: 'rev-a' }),
          'ERR_HASHGATE_INCIDENT_NOT_FOUND',
        );
        await expectCode(store.viewIncident(i.id, { actor: '' }), 'ERR_HASHGATE_INCIDENT_INVALID_INPUT');
      });

      it('returns undefined for an unknown or malformed id', async () => {
        expect(await store.getIncident('inc_000000000000000000000000')).toBeUndefined();
        expect(await store.getIncident("x' OR 1=1 --")).toBeUndefined();
      });
    });

    describe('review', () => {
      it('moves new -> confirmed -> reported recording who, when and why, and holds the evidence a year', async () => {
        const i = await store.createIncident(sampleIncident());
        clock.advance(60_000);
        const confirmed = await store.transition(i.id, {
          to: 'confirmed',
          actor: 'rev-a',
          reason: 'matches the list entry',
        });
        expect(confirmed.state).toBe('confirmed');
        clock.advance(60_000);
        const reported = await store.transition(i.id, {
          to: 'reported',
          actor: 'rev-b',
          reason: 'reported to the hotline',
          reportReference: 'CT-12345',
        });
        expect(reported).toMatchObject({
          state: 'reported',
          reportReference: 'CT-12345',
          stateChangedAt: new Date(T0 + 120_000).toISOString(),
          legalHoldUntil: new Date(T0 + 120_000 + 365 * DAY).toISOString(),
        });
        expect(reported.history.map((h) => [h.from, h.to, h.actor, h.reason])).toEqual([
          [null, 'new', 'hashgate', 'matched on upload'],
          ['new', 'confirmed', 'rev-a', 'matches the list entry'],
          ['confirmed', 'reported', 'rev-b', 'reported to the hotline'],
        ]);
        expect(reported.history[2]!.reportReference).toBe('CT-12345');
        const types = (await store.readAudit()).map((r) => r.type);
        expect(types).toEqual(['incident.created', 'incident.state_changed', 'incident.state_changed']);
        const events = await store.listOutbox({ incidentId: i.id });
        expect(
          events.map((e) => [e.type, e.payload.incident.state, e.payload.incident.previousState]),
        ).toEqual([
          ['incident.created', 'new', null],
          ['incident.state_changed', 'confirmed', 'new'],
          ['incident.state_changed', 'reported', 'confirmed'],
        ]);
      });

      it('refuses transitions the workflow does not allow, with a stable code, and changes nothing', async () => {
        const i = await store.createIncident(sampleIncident());
        await expectCode(
          store.transition(i.id, { to: 'reported', actor: 'rev-a', reason: 'skip', reportReference: 'R1' }),
          'ERR_HASHGATE_INCIDENT_INVALID_TRANSITION',
        );
        await store.transition(i.id, { to: 'dismissed', actor: 'rev-a', reason: 'false positive' });
        await expectCode(
          store.transition(i.id, { to: 'confirmed', actor: 'rev-b', reason: 'oops' }),
          'ERR_HASHGATE_INCIDENT_INVALID_TRANSITION',
        );
        await expectCode(
          store.transition(i.id, { to: 'dismissed', actor: 'rev-b', reason: 'again' }),
          'ERR_HASHGATE_INCIDENT_INVALID_TRANSITION',
        );
        const j = await store.createIncident(sampleIncident());
        await store.transition(j.id, { to: 'confirmed', actor: 'rev-a', reason: 'yes' });
        await expectCode(
          store.transition(j.id, { to: 'confirmed', actor: 'rev-b', reason: 'yes' }),
          'ERR_HASHGATE_INCIDENT_INVALID_TRANSITION',
        );
        await expectCode(
          store.transition(j.id, { to: 'new', actor: 'rev-b', reason: 'undo' }),
          'ERR_HASHGATE_INCIDENT_INVALID_TRANSITION',
        );
        expect((await store.getIncident(i.id))!.history).toHaveLength(2);
        expect(await store.listOutbox({ incidentId: i.id })).toHaveLength(2);
        expect((await store.verifyAuditChain()).ok).toBe(true);
      });

      it('needs a reason for every transition and a report reference for reported', async () => {
        const i = await store.createIncident(sampleIncident());
        await expectCode(
          store.transition(i.id, { to: 'confirmed', actor: 'rev-a', reason: ' ' }),
          'ERR_HASHGATE_INCIDENT_INVALID_INPUT',
        );
        await store.transition(i.id, { to: 'confirmed', actor: 'rev-a', reason: 'ok' });
        await expectCode(
          store.transition(i.id, { to: 'reported', actor: 'rev-a', reason: 'sent' }),
          'ERR_HASHGATE_INCIDENT_INVALID_INPUT',
        );
        await expectCode(
          store.transition(i.id, { to: 'confirmed', actor: 'rev-a', reason: 'x', allowlist: true }),
          'ERR_HASHGATE_INCIDENT_INVALID_INPUT',
        );
        await expectCode(
          store.transition('inc_000000000000000000000000', { to: 'confirmed', actor: 'rev-a', reason: 'x' }),
          'ERR_HASHGATE_INCIDENT_NOT_FOUND',
        );
      });

      it('dismisses a false positive and allowlists the hashes that matched, with the reason', async () => {
        const i = await store.createIncident(sampleIncident());
        await store.transition(i.id, {
          to: 'dismissed',
          actor: 'rev-a',
          reason: 'a holiday photo',
          allowlist: true,
        });
        const entries = await store.listAllowlist();
        expect(
          entries.map((e) => [e.type, e.status, e.reason, e.incidentId, e.proposedBy, e.approvedBy]).sort(),
        ).toEqual([
          ['md5', 'active', 'a holiday photo', i.id, 'rev-a', 'rev-a'],
          ['pdq', 'active', 'a holiday photo', i.id, 'rev-a', 'rev-a'],
        ]);
        const md5 = i.hashes.find((h) => h.type === 'md5')!.hex;
        const sha1 = i.hashes.find((h) => h.type === 'sha1')!.hex;
        const found = await store.findAllowlisted([
          { type: 'md5', hex: md5.toUpperCase() },
          { type: 'sha1', hex: sha1 },
        ]);
        expect(found.map((e) => e.type)).toEqual(['md5']);
        const types = (await store.readAudit()).map((r) => r.type);
        expect(types.filter((t) => t === 'allowlist.added')).toHaveLength(2);
      });

      it('allowlists only the requested hash types', async () => {
        const i = await store.createIncident(sampleIncident());
        await store.transition(i.id, {
          to: 'dismissed',
          actor: 'rev-a',
          reason: 'fp',
          allowlist: { types: ['sha256'] },
        });
        expect((await store.listAllowlist()).map((e) => e.type)).toEqual(['sha256']);
      });

      it('with two reviewers required, an allowlist entry takes effect only after a different reviewer approves', async () => {
        const s = await open({ requireSecondReviewer: true });
        const i = await s.createIncident(sampleIncident());
        await s.transition(i.id, {
          to: 'dismissed',
          actor: 'rev-a',
          reason: 'fp',
          allowlist: { types: ['md5'] },
        });
        const md5 = { type: 'md5', hex: i.hashes.find((h) => h.type === 'md5')!.hex };
        expect(await s.findAllowlisted([md5])).toEqual([]);
        const [pending] = await s.listAllowlist({ status: ['pending'] });
        expect(pending).toMatchObject({ status: 'pending', proposedBy: 'rev-a', approvedBy: null });
        await expectCode(
          s.approveAllowlistEntry(pending!.id, { actor: 'rev-a' }),
          'ERR_HASHGATE_ALLOWLIST_SAME_REVIEWER',
        );
        expect(await s.findAllowlisted([md5])).toEqual([]);
        const approved = await s.approveAllowlistEntry(pending!.id, { actor: 'rev-b', reason: 'agree' });
        expect(approved).toMatchObject({ status: 'active', approvedBy: 'rev-b' });
        expect((await s.findAllowlisted([md5])).map((e) => e.id)).toEqual([pending!.id]);
        await expectCode(
          s.approveAllowlistEntry(pending!.id, { actor: 'rev-c' }),
          'ERR_HASHGATE_ALLOWLIST_STATE',
        );
        expect((await s.readAudit()).map((r) => r.type)).toContain('allowlist.approved');
      });

      it('revokes an allowlist entry so that the hash matches again', async () => {
        const i = await store.createIncident(sampleIncident());
        await store.transition(i.id, {
          to: 'dismissed',
          actor: 'rev-a',
          reason: 'fp',
          allowlist: { types: ['md5'] },
        });
        const [entry] = await store.listAllowlist();
        await expectCode(
          store.revokeAllowlistEntry(entry!.id, { actor: 'rev-b', reason: '' }),
          'ERR_HASHGATE_INCIDENT_INVALID_INPUT',
        );
        const revoked = await store.revokeAllowlistEntry(entry!.id, {
          actor: 'rev-b',
          reason: 'was a real match',
        });
        expect(revoked).toMatchObject({
          status: 'revoked',
          revokedBy: 'rev-b',
          revokeReason: 'was a real match',
        });
        expect(await store.findAllowlisted([{ type: 'md5', hex: entry!.hex }])).toEqual([]);
        expect(await store.listAllowlist({ status: ['revoked'] })).toHaveLength(1);
        await expectCode(
          store.revokeAllowlistEntry(entry!.id, { actor: 'rev-b', reason: 'again' }),
          'ERR_HASHGATE_ALLOWLIST_STATE',
        );
        await expectCode(
          store.approveAllowlistEntry('alw_000000000000000000000000', { actor: 'rev-b' }),
          'ERR_HASHGATE_INCIDENT_NOT_FOUND',
        );
      });

      it('extends a legal hold but never shortens it', async () => {
        const i = await store.createIncident(sampleIncident());
        const held = await store.setLegalHold(i.id, {
          actor: 'legal',
          reason: 'order 7',
          until: T0 + 30 * DAY,
        });
        expect(held.legalHoldUntil).toBe(new Date(T0 + 30 * DAY).toISOString());
        const still = await store.setLegalHold(i.id, { actor: 'legal', until: T0 + DAY });
        expect(still.legalHoldUntil).toBe(new Date(T0 + 30 * DAY).toISOString());
        expect((await store.readAudit()).filter((r) => r.type === 'incident.legal_hold_set')).toHaveLength(2);
      });

      it('lifts a manual hold on a confirmed incident, audited with the reason, and emits no outbox event', async () => {
        const i = await store.createIncident(sampleIncident());
        await store.transition(i.id, { to: 'confirmed', actor: 'rev-a', reason: 'matches' });
        await store.setLegalHold(i.id, { actor: 'legal', reason: 'order 7', until: T0 + 30 * DAY });
        const outboxBefore = await store.listOutbox({ incidentId: i.id });
        clock.advance(60_000);
        const lifted = await store.liftLegalHold(i.id, { actor: 'admin-a', reason: '  order 7 withdrawn ' });
        expect(lifted).toMatchObject({ state: 'confirmed', legalHoldUntil: null });
        expect(await store.getIncident(i.id)).toEqual(lifted);
        const last = (await store.readAudit()).at(-1)!;
        expect(last).toMatchObject({
          type: 'incident.legal_hold_lifted',
          actor: 'admin-a',
          incidentId: i.id,
          at: new Date(T0 + 60_000).toISOString(),
          details: { from: new Date(T0 + 30 * DAY).toISOString(), until: null, reason: 'order 7 withdrawn' },
        });
        expect(await store.listOutbox({ incidentId: i.id })).toEqual(outboxBefore);
        expect((await store.verifyAuditChain()).ok).toBe(true);
        // nothing left to lift: refused, not recorded
        const count = (await store.readAudit()).length;
        await expectCode(
          store.liftLegalHold(i.id, { actor: 'admin-a', reason: 'again' }),
          'ERR_HASHGATE_INCIDENT_INVALID_INPUT',
        );
        expect(await store.readAudit()).toHaveLength(count);
      });

      it("lifting a reported incident's hold keeps the statutory minimum of its report, never earlier", async () => {
        const i = await store.createIncident(sampleIncident());
        await store.transition(i.id, { to: 'confirmed', actor: 'rev-a', reason: 'yes' });
        clock.advance(60_000);
        const reportedAt = clock.now();
        await store.transition(i.id, {
          to: 'reported',
          actor: 'rev-a',
          reason: 'sent',
          reportReference: 'R-1',
        });
        const minimum = new Date(reportedAt + 365 * DAY).toISOString();
        // the report's own hold is the minimum: nothing to lift
        await expectCode(
          store.liftLegalHold(i.id, { actor: 'admin-a', reason: 'case closed' }),
          'ERR_HASHGATE_EVIDENCE_HELD',
        );
        await store.setLegalHold(i.id, { actor: 'legal', reason: 'court order', until: T0 + 1000 * DAY });
        clock.advance(DAY);
        const lifted = await store.liftLegalHold(i.id, { actor: 'admin-a', reason: 'order lifted' });
        expect(lifted).toMatchObject({ state: 'reported', legalHoldUntil: minimum });
        expect((await store.readAudit()).at(-1)).toMatchObject({
          type: 'incident.legal_hold_lifted',
          details: { from: new Date(T0 + 1000 * DAY).toISOString(), until: minimum, reason: 'order lifted' },
        });
        await expectCode(
          store.liftLegalHold(i.id, { actor: 'admin-a', reason: 'again' }),
          'ERR_HASHGATE_EVIDENCE_HELD',
        );
        expect((await store.getIncident(i.id))!.legalHoldUntil).toBe(minimum);
      });

      it('needs a reason and an actor to lift a hold, and a known incident', async () => {
        const i = await store.createIncident(sampleIncident());
        await store.setLegalHold(i.id, { actor: 'legal', until: T0 + 30 * DAY });
        const count = (await store.readAudit()).length;
        for (const reason of [undefined, '', '   ', 'x'.repeat(2001)]) {
          await expectCode(
            store.liftLegalHold(i.id, { actor: 'admin-a', reason } as unknown as {
              actor: string;
              reason: string;
            }),
            'ERR_HASHGATE_INCIDENT_INVALID_INPUT',
          );
        }
        await expectCode(
          store.liftLegalHold(i.id, { actor: '', reason: 'r' }),
          'ERR_HASHGATE_INCIDENT_INVALID_INPUT',
        );
        await expectCode(
          store.liftLegalHold('inc_000000000000000000000000', { actor: 'admin-a', reason: 'r' }),
          'ERR_HASHGATE_INCIDENT_NOT_FOUND',
        );
        expect(await store.readAudit()).toHaveLength(count);
        expect((await store.getIncident(i.id))!.legalHoldUntil).toBe(new Date(T0 + 30 * DAY).toISOString());
      });

      it('records evidence views and exports; only a view counts as a person seeing the file', async () => {
        const i = await store.createIncident(sampleIncident());
        await store.recordEvidenceAccess(i.id, { actor: 'rev-a', kind: 'exported', details: { to: 'file' } });
        expect((await store.getIncident(i.id))!.evidenceViewed).toBe(false);
        await store.recordEvidenceAccess(i.id, { actor: 'rev-a', kind: 'viewed' });
        expect((await store.getIncident(i.id))!.evidenceViewed).toBe(true);
        expect((await store.readAudit()).map((r) => r.type).slice(1)).toEqual([
          'evidence.exported',
          'evidence.viewed',
        ]);
      });
    });

    describe('audit chain', () => {
      async function someHistory(): Promise<void> {
        for (let k = 0; k < 3; k++) {
          const i = await store.createIncident(sampleIncident());
          await store.viewIncident(i.id, { actor: `rev-${k}` });
        }
        await store.appendAudit({
          type: 'list.version_changed',
          actor: 'hashgate',
          details: { list: 'own-list', from: 1, to: 2 },
        });
      }

      it('links every record to the one before and verifies', async () => {
        await someHistory();
        const records = await store.readAudit();
        expect(records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
        for (let k = 1; k < records.length; k++) expect(records[k]!.prevHash).toBe(records[k - 1]!.hash);
        expect(await store.auditHead()).toEqual({ seq: 7, hash: records[6]!.hash });
        expect(await store.verifyAuditChain()).toEqual({
          ok: true,
          records: 7,
          head: { seq: 7, hash: records[6]!.hash },
        });
        expect((await store.readAudit({ afterSeq: 5, limit: 1 })).map((r) => r.seq)).toEqual([6]);
      });

      it('refuses edits through the database guard', async () => {
        await someHistory();
        expect(String(await fixture.tamper.plainUpdate(2))).toMatch(/append-only/);
        expect((await store.verifyAuditChain()).ok).toBe(true);
      });

      it('detects an edited record and reports its position', async () => {
        await someHistory();
        await fixture.tamper.editDetails(4);
        expect(await store.verifyAuditChain()).toMatchObject({
          ok: false,
          position: 4,
          records: 3,
          problem: 'edited',
        });
      });

      it('detects a deleted record and reports its position', async () => {
        await someHistory();
        await fixture.tamper.remove(3);
        expect(await store.verifyAuditChain()).toMatchObject({
          ok: false,
          position: 3,
          records: 2,
          problem: 'missing',
        });
      });

      it('detects the last record deleted', async () => {
        await someHistory();
        await fixture.tamper.remove(7);
        expect(await store.verifyAuditChain()).toMatchObject({
          ok: false,
          position: 7,
          problem: 'truncated',
        });
      });

      it('detects reordered records and reports the first moved position', async () => {
        await someHistory();
        await fixture.tamper.swap(2, 5);
        expect(await store.verifyAuditChain()).toMatchObject({
          ok: false,
          position: 2,
          records: 1,
          problem: 'broken-link',
        });
      });

      it('rejects audit input that is not a dotted type, has no actor or holds non-JSON', async () => {
        await expectCode(
          store.appendAudit({ type: 'Bad Type', actor: 'x' }),
          'ERR_HASHGATE_INCIDENT_INVALID_INPUT',
        );
        await expectCode(
          store.appendAudit({ type: 'host.event', actor: '' }),
          'ERR_HASHGATE_INCIDENT_INVALID_INPUT',
        );
        await expectCode(
          store.appendAudit({ type: 'host.event', actor: 'x', details: { n: Number.NaN } }),
          'ERR_HASHGATE_INCIDENT_INVALID_INPUT',
        );
        const r = await store.appendAudit({
          type: 'host.event',
          actor: 'x',
          details: { b: 1, a: [true, null, 'z'] },
        });
        expect(r.details).toEqual({ a: [true, null, 'z'], b: 1 });
        expect((await store.verifyAuditChain()).ok).toBe(true);
      });

      it('keeps one chain when many writes run at once', async () => {
        await Promise.all(Array.from({ length: 20 }, () => store.createIncident(sampleIncident())));
        const result = await store.verifyAuditChain();
        expect(result).toMatchObject({ ok: true, records: 20 });
      });
    });

    describe('outbox', () => {
      it('leases a due event to one owner at a time and lets another take over after the lease', async () => {
        const i = await store.createIncident(sampleIncident());
        const a = await store.claimOutbox({ owner: 'a', limit: 10, leaseMs: 30_000, now: clock.now() });
        expect(a.map((e) => e.incidentId)).toEqual([i.id]);
        expect(await store.claimOutbox({ owner: 'b', limit: 10, leaseMs: 30_000, now: clock.now() })).toEqual(
          [],
        );
        clock.advance(30_001);
        const b = await store.claimOutbox({ owner: 'b', limit: 10, leaseMs: 30_000, now: clock.now() });
        expect(b.map((e) => e.id)).toEqual(a.map((e) => e.id));
        expect(await store.settleOutbox(a[0]!.id, 'a', { deliveredTo: ['x'], done: true })).toBe(false);
        expect(await store.settleOutbox(b[0]!.id, 'b', { deliveredTo: ['x'], done: true })).toBe(true);
        const [event] = await store.listOutbox({ incidentId: i.id });
        expect(event).toMatchObject({
          attempts: 1,
          deliveredTo: ['x'],
          deliveredAt: new Date(clock.now()).toISOString(),
          lastError: null,
        });
        expect(await store.listOutbox({ pending: true })).toEqual([]);
      });

      it('reschedules an event that failed and keeps the endpoints that acknowledged it', async () => {
        const i = await store.createIncident(sampleIncident());
        const [e] = await store.claimOutbox({ owner: 'a', limit: 10, leaseMs: 30_000, now: clock.now() });
        await store.settleOutbox(e!.id, 'a', {
          deliveredTo: ['one'],
          done: false,
          nextAttemptAt: clock.now() + 5000,
          error: 'http 503',
        });
        expect(
          await store.claimOutbox({ owner: 'a', limit: 10, leaseMs: 30_000, now: clock.now() + 4999 }),
        ).toEqual([]);
        const [again] = await store.claimOutbox({
          owner: 'a',
          limit: 10,
          leaseMs: 30_000,
          now: clock.now() + 5000,
        });
        expect(again).toMatchObject({
          id: e!.id,
          attempts: 1,
          deliveredTo: ['one'],
          lastError: 'http 503',
          incidentId: i.id,
        });
        await store.settleOutbox(e!.id, 'a', { deliveredTo: ['two'], done: true });
        const [done] = await store.listOutbox({ incidentId: i.id });
        expect(done!.deliveredTo.slice().sort()).toEqual(['one', 'two']);
        expect(done!.attempts).toBe(2);
      });

      it('claims events in creation order, up to the limit', async () => {
        const ids = [];
        for (let k = 0; k < 5; k++) ids.push((await store.createIncident(sampleIncident())).id);
        const first = await store.claimOutbox({ owner: 'a', limit: 3, leaseMs: 30_000, now: clock.now() });
        expect(first.map((e) => e.incidentId)).toEqual(ids.slice(0, 3));
        const rest = await store.claimOutbox({ owner: 'b', limit: 3, leaseMs: 30_000, now: clock.now() });
        expect(rest.map((e) => e.incidentId)).toEqual(ids.slice(3));
      });
    });

    describe('evidence bookkeeping', () => {
      const evidence = (storedAt: number) => ({
        id: 'ev',
        keyId: 'k1',
        size: 10,
        storedAt: new Date(storedAt).toISOString(),
      });

      it('lists only closed, unheld evidence past retention, and refuses to mark held evidence deleted', async () => {
        const old = T0 - 100 * DAY;
        const dismissed = await store.createIncident(sampleIncident({ evidence: evidence(old) }));
        await store.transition(dismissed.id, { to: 'dismissed', actor: 'rev-a', reason: 'fp' });
        const open = await store.createIncident(sampleIncident({ evidence: evidence(old) }));
        const reported = await store.createIncident(sampleIncident({ evidence: evidence(old) }));
        await store.transition(reported.id, { to: 'confirmed', actor: 'rev-a', reason: 'yes' });
        await store.transition(reported.id, {
          to: 'reported',
          actor: 'rev-a',
          reason: 'sent',
          reportReference: 'R-1',
        });
        const recent = await store.createIncident(sampleIncident({ evidence: evidence(T0) }));
        await store.transition(recent.id, { to: 'dismissed', actor: 'rev-a', reason: 'fp' });
        const due = await store.listEvidenceDue({ storedBefore: T0 - 30 * DAY, now: clock.now(), limit: 10 });
        expect(due.map((d) => d.incidentId)).toEqual([dismissed.id]);
        await expectCode(
          store.markEvidenceDeleted(reported.id, { actor: 'sweep' }),
          'ERR_HASHGATE_EVIDENCE_HELD',
        );
        await expectCode(
          store.markEvidenceDeleted(open.id, { actor: 'sweep' }),
          'ERR_HASHGATE_EVIDENCE_HELD',
        );
        await store.markEvidenceDeleted(dismissed.id, { actor: 'sweep', reason: 'retention' });
        expect((await store.getIncident(dismissed.id))!.evidence!.deletedAt).toBe(new Date(T0).toISOString());
        await expectCode(
          store.markEvidenceDeleted(dismissed.id, { actor: 'sweep' }),
          'ERR_HASHGATE_INCIDENT_NOT_FOUND',
        );
        expect(
          await store.listEvidenceDue({ storedBefore: T0 + 1, now: clock.now(), limit: 10 }),
        ).toHaveLength(1);
        // after the year of hold the reported incident's evidence is due too
        const later = T0 + 366 * DAY;
        expect(
          (await store.listEvidenceDue({ storedBefore: later, now: later, limit: 10 }))
            .map((d) => d.incidentId)
            .sort(),
        ).toEqual([recent.id, reported.id].sort());
      });

      it('after a hold is lifted the retention sweep deletes the evidence once it is otherwise due', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'hashgate-lift-'));
        try {
          const vault = createEvidenceVault({
            dir: join(dir, 'evidence'),
            keys: createEvidenceKeyRing({ current: { id: 'k-a', key: randomBytes(32).toString('base64') } }),
            now: clock.now,
          });
          const withEvidence = async (): Promise<string> => {
            const id = newIncidentId();
            const ev = await vault.put(id, { bytes: randomBytes(100) });
            await store.createIncident(sampleIncident({ id, evidence: ev }));
            return id;
          };
          const dismissed = await withEvidence();
          await store.setLegalHold(dismissed, { actor: 'legal', reason: 'order 7', until: T0 + 1000 * DAY });
          await store.transition(dismissed, { to: 'dismissed', actor: 'rev-a', reason: 'fp' });
          const reported = await withEvidence();
          await store.transition(reported, { to: 'confirmed', actor: 'rev-a', reason: 'yes' });
          await store.transition(reported, {
            to: 'reported',
            actor: 'rev-a',
            reason: 'sent',
            reportReference: 'R-1',
          });
          await store.setLegalHold(reported, { actor: 'legal', reason: 'order 8', until: T0 + 1000 * DAY });
          clock.advance(100 * DAY);
          expect(await vault.sweep({ store, retentionMs: 90 * DAY })).toEqual({
            deleted: 0,
            missing: 0,
            kept: 0,
          });

          await store.liftLegalHold(dismissed, { actor: 'admin-a', reason: 'order 7 withdrawn' });
          await store.liftLegalHold(reported, { actor: 'admin-a', reason: 'order 8 withdrawn' });
          expect(await vault.sweep({ store, retentionMs: 90 * DAY })).toEqual({
            deleted: 1,
            missing: 0,
            kept: 0,
          });
          expect((await store.getIncident(dismissed))!.evidence!.deletedAt).toBe(
            new Date(clock.now()).toISOString(),
          );
          expect((await vault.read(reported)).bytes).toHaveLength(100);

          // the reported incident's evidence goes once its report's year is over, not before
          clock.set(T0 + 365 * DAY - 1);
          expect(await vault.sweep({ store, retentionMs: 90 * DAY })).toEqual({
            deleted: 0,
            missing: 0,
            kept: 0,
          });
          clock.set(T0 + 365 * DAY);
          expect(await vault.sweep({ store, retentionMs: 90 * DAY })).toEqual({
            deleted: 1,
            missing: 0,
            kept: 0,
          });
          expect((await store.getIncident(reported))!.evidence!.deletedAt).not.toBeNull();
          expect((await store.verifyAuditChain()).ok).toBe(true);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      });

      it('attaches evidence once to an incident that has none', async () => {
        const i = await store.createIncident(sampleIncident());
        const withEvidence = await store.attachEvidence(i.id, evidence(T0), { actor: 'host' });
        expect(withEvidence.evidence).toMatchObject({ keyId: 'k1', deletedAt: null });
        await expectCode(
          store.attachEvidence(i.id, evidence(T0), { actor: 'host' }),
          'ERR_HASHGATE_EVIDENCE_EXISTS',
        );
      });
    });

    describe('ledger', () => {
      it('stores accepted uploads and finds them by exact hash and by perceptual scan', async () => {
        const recs = await store.addToLedger([
          sampleLedgerRecord('s3://bucket/a'),
          sampleLedgerRecord('s3://bucket/b'),
        ]);
        expect(recs.map((r) => r.reference)).toEqual(['s3://bucket/a', 's3://bucket/b']);
        expect(recs[1]!.seq).toBeGreaterThan(recs[0]!.seq);
        const md5 = recs[1]!.hashes.find((h) => h.type === 'md5')!.hex;
        expect(await store.findLedgerExact('md5', [md5, 'f'.repeat(32)])).toEqual([
          { seq: recs[1]!.seq, type: 'md5', hex: md5 },
        ]);
        const page = await store.scanLedgerPerceptual('pdq', 0, 10);
        expect(page.seqs).toEqual(recs.map((r) => r.seq));
        expect(Buffer.from(page.hashes[0]!).toString('hex')).toBe(
          recs[0]!.hashes.find((h) => h.type === 'pdq')!.hex,
        );
        expect((await store.scanLedgerPerceptual('pdq', recs[0]!.seq, 10)).seqs).toEqual([recs[1]!.seq]);
        const back = await store.getLedgerRecords([recs[1]!.seq, 999_999]);
        expect(back).toEqual([recs[1]]);
      });

      it('links a ledger record to the one incident raised for it', async () => {
        const [rec] = await store.addToLedger([sampleLedgerRecord('ref-1')]);
        const link = { id: rec!.id, reference: rec!.reference, acceptedAt: rec!.acceptedAt };
        const i = await store.createIncident(
          sampleIncident({ source: 'recheck', action: 'takedown', ledger: link }),
        );
        expect(i).toMatchObject({ source: 'recheck', action: 'takedown', ledger: link });
        expect((await store.getLedgerRecords([rec!.seq]))[0]!.incidentId).toBe(i.id);
        await expectCode(
          store.createIncident(sampleIncident({ source: 'recheck', action: 'takedown', ledger: link })),
          'ERR_HASHGATE_INCIDENT_DUPLICATE',
        );
        expect(await store.listIncidents()).toHaveLength(1);
      });
    });

    it('refuses calls after close with a stable code', async () => {
      await store.close();
      await expectCode(store.createIncident(sampleIncident()), 'ERR_HASHGATE_STORE_CLOSED');
      await expectCode(store.readAudit(), 'ERR_HASHGATE_STORE_CLOSED');
    });
  });
}
