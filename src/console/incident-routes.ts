/**
 * Owns the incident routes: the incident page (an audited view), the decisions (confirm, dismiss
 * with an optional allowlist entry, report, set or lift a legal hold), evidence viewing (blurred first, unblur
 * as its own audited step, one-time image tokens) and the report package.
 */

import type { Request, Response, Router } from 'express';
import { ErrorCodes, isHashgateError } from '../errors';
import { getHashType } from '../hashing/hash-types';
import { buildReportPackage } from '../incidents/export';
import { isIncidentId } from '../incidents/ids';
import type { IncidentStore } from '../incidents/store';
import type { Incident } from '../incidents/types';
import { errorFields } from '../observability/logger';
import { auditTrail, dayOf, startOfDay } from './data';
import { isPreviewable, renderPreview } from './evidence-preview';
import { field, type Kit, nextDay, refusalText } from './kit';
import type { ConsoleRole } from './options';
import { type EvidencePanel, incidentPage } from './pages/incident';
import { hasRole } from './pages/layout';
import { messagePage } from './pages/simple';

/** How long the unblur control may follow a blurred view. */
const GRANT_MS = 10 * 60_000;
/** How long an image token lives (it is used up by one request anyway). */
const IMAGE_TOKEN_MS = 60_000;

/** Answers with the report package of an incident as a JSON download; false (with a notice) when it cannot. */
export async function sendReportPackage(kit: Kit, req: Request, res: Response, id: string): Promise<boolean> {
  const include = field(req, 'includeEvidence') === 'yes';
  if (include && !kit.vault) {
    kit.notify(res, 'error', 'Evidence is turned off on this instance, so it cannot be included.');
    return false;
  }
  const pkg = await buildReportPackage({
    store: await kit.store(),
    incidentId: id,
    actor: kit.stateOf(res).actor,
    ...(include && kit.vault
      ? { includeEvidence: { vault: kit.vault, reason: 'report package from the console' } }
      : {}),
  });
  res
    .set({
      'Content-Disposition': `attachment; filename="report-${id}.json"`,
      'Cache-Control': 'no-store, private',
    })
    .type('application/json')
    .send(`${JSON.stringify(pkg, null, 2)}\n`);
  return true;
}

/** Adds the incident routes. */
export function incidentRoutes(router: Router, kit: Kit): void {
  const {
    config,
    log,
    sessions,
    views,
    vault,
    verifiedLists,
    gate,
    ctxOf,
    send,
    notify,
    wrap,
    need,
    store,
    stateOf,
  } = kit;

  const incidentId = (req: Request): string | undefined => {
    const id = req.params.id;
    return isIncidentId(id) ? id : undefined;
  };
  const notFound = (req: Request, res: Response): void => {
    send(
      res,
      404,
      messagePage(ctxOf(req, res), 'Not found', 'There is no such incident.', {
        path: '/incidents',
        label: 'Incidents',
      }),
    );
  };
  const confirmWithoutViewing = (i: Incident): boolean =>
    i.matches.some(
      (m) => m.distance === 0 && verifiedLists.has(m.list) && getHashType(m.hashType)?.kind === 'exact',
    );
  const evidenceUnavailable = (i: Incident): string | undefined => {
    if (!i.evidence) return 'No evidence was stored for this incident.';
    if (i.evidence.deletedAt) return 'The evidence was deleted by the retention sweep.';
    if (!vault) return 'Evidence is turned off on this instance, so it cannot be opened here.';
    if (!isPreviewable(i.file.sniffedType))
      return `The evidence is not an image (${i.file.sniffedType ?? 'unknown type'}): export a report package with the evidence to examine it.`;
    return undefined;
  };

  router.get(
    '/incidents/:id',
    wrap(async (req, res) => {
      const id = incidentId(req);
      if (!id) return notFound(req, res);
      const s = await store();
      const { session, actor } = stateOf(res);
      let incident: Incident;
      try {
        incident = await s.viewIncident(id, { actor });
      } catch (err) {
        if (isHashgateError(err) && err.code === ErrorCodes.NOT_FOUND) return notFound(req, res);
        throw err;
      }
      const now = config.now();
      let evidence: EvidencePanel;
      const unavailable = evidenceUnavailable(incident);
      if (!hasRole(session.role, 'reviewer'))
        evidence = { kind: 'none', reason: 'Evidence is shown to reviewers only.' };
      else if (unavailable) evidence = { kind: 'none', reason: unavailable };
      else {
        const grant = session.evidence.get(id);
        if (grant?.pending && grant.expiresAt > now) {
          grant.pending = false;
          const token = sessions.imageToken(session, {
            incidentId: id,
            mode: grant.mode,
            expiresAt: now + IMAGE_TOKEN_MS,
          });
          evidence = { kind: 'shown', mode: grant.mode, token };
        } else evidence = { kind: 'hidden' };
      }
      await views.refresh(s);
      const trail = await auditTrail(s, incident);
      send(
        res,
        200,
        incidentPage(ctxOf(req, res), {
          incident,
          trail,
          verifiedLists,
          confirmWithoutViewing: confirmWithoutViewing(incident),
          evidence,
          myViews: views.count(actor, dayOf(now, config.timeZone)),
        }),
      );
    }),
  );

  /** Runs an incident action; refusals of the store come back as a notice on the incident page. */
  const incidentAction = (
    role: ConsoleRole,
    fn: (req: Request, res: Response, incident: Incident, s: IncidentStore) => Promise<string | undefined>,
    anchor = '',
  ) => [
    need(role),
    wrap(async (req, res) => {
      const id = incidentId(req);
      if (!id) return notFound(req, res);
      const s = await store();
      const incident = await s.getIncident(id);
      if (!incident) return notFound(req, res);
      try {
        const ok = await fn(req, res, incident, s);
        if (res.headersSent) return;
        if (ok) notify(res, 'ok', ok);
      } catch (err) {
        const text = refusalText(err);
        if (text === undefined || res.headersSent) throw err;
        notify(res, 'error', text);
      }
      if (!res.headersSent) res.redirect(303, `${req.baseUrl}/incidents/${id}${anchor}`);
    }),
  ];
  const refuse = (res: Response, text: string): undefined => {
    notify(res, 'error', text);
    return undefined;
  };

  router.post(
    '/incidents/:id/confirm',
    ...incidentAction('reviewer', async (req, res, i, s) => {
      const reason = field(req, 'reason').trim();
      if (!reason) return refuse(res, 'Give a reason for confirming.');
      if (!confirmWithoutViewing(i) && i.evidence && !i.evidence.deletedAt && !i.evidenceViewed) {
        return refuse(
          res,
          'View the evidence before confirming: the match is perceptual or its list is not marked verified.',
        );
      }
      await s.transition(i.id, { to: 'confirmed', actor: stateOf(res).actor, reason });
      return 'Confirmed.';
    }),
  );

  router.post(
    '/incidents/:id/dismiss',
    ...incidentAction('reviewer', async (req, res, i, s) => {
      const reason = field(req, 'reason').trim();
      if (!reason) return refuse(res, 'Give a reason for dismissing.');
      const allowlist = field(req, 'allowlist') === 'yes';
      await s.transition(i.id, {
        to: 'dismissed',
        actor: stateOf(res).actor,
        reason,
        ...(allowlist ? { allowlist: true } : {}),
      });
      if (!allowlist) return 'Dismissed as a false positive.';
      await gate.refreshAllowlist();
      const pending = (await s.listAllowlist({ status: ['pending'] })).filter(
        (e) => e.incidentId === i.id,
      ).length;
      return pending > 0
        ? `Dismissed. ${pending} allowlist ${pending === 1 ? 'entry waits' : 'entries wait'} for a second reviewer's approval.`
        : "Dismissed, and the file's matching hashes are on the allowlist.";
    }),
  );

  router.post(
    '/incidents/:id/report',
    ...incidentAction('reviewer', async (req, res, i, s) => {
      const reference = field(req, 'reference').trim();
      const reason = field(req, 'reason').trim() || 'reported';
      if (!reference) return refuse(res, "Give the report's reference.");
      const after = await s.transition(i.id, {
        to: 'reported',
        actor: stateOf(res).actor,
        reason,
        reportReference: reference,
      });
      return `Marked reported. The evidence is held until ${after.legalHoldUntil?.slice(0, 10) ?? 'further notice'}.`;
    }),
  );

  router.post(
    '/incidents/:id/hold',
    ...incidentAction('admin', async (req, res, i, s) => {
      const day = field(req, 'until');
      const reason = field(req, 'reason').trim();
      const until = startOfDay(nextDay(day), config.timeZone);
      if (Number.isNaN(startOfDay(day, config.timeZone)) || until <= config.now())
        return refuse(res, 'Give a date in the future.');
      if (!reason) return refuse(res, 'Give a reason for the hold.');
      const after = await s.setLegalHold(i.id, { actor: stateOf(res).actor, reason, until });
      return `The evidence is held until ${after.legalHoldUntil?.slice(0, 10)}.`;
    }),
  );

  router.post(
    '/incidents/:id/hold/lift',
    ...incidentAction('admin', async (req, res, i, s) => {
      const reason = field(req, 'reason').trim();
      if (!reason) return refuse(res, 'Give a reason for lifting the hold.');
      // a host's own store written before liftLegalHold existed
      if (typeof s.liftLegalHold !== 'function')
        return refuse(res, 'This incident store cannot lift a legal hold.');
      const after = await s.liftLegalHold(i.id, { actor: stateOf(res).actor, reason });
      return after.legalHoldUntil
        ? `The hold was lifted to the minimum the report imposes: the evidence is held until ${after.legalHoldUntil.slice(0, 10)}.`
        : 'The legal hold was lifted.';
    }),
  );

  router.post(
    '/incidents/:id/evidence/view',
    ...incidentAction(
      'reviewer',
      async (_req, res, i, s) => {
        const unavailable = evidenceUnavailable(i);
        if (unavailable) return refuse(res, unavailable);
        const { session, actor } = stateOf(res);
        await s.recordEvidenceAccess(i.id, {
          actor,
          kind: 'viewed',
          reason: 'console preview',
          details: { presentation: 'blurred-greyscale', keyId: i.evidence!.keyId },
        });
        session.evidence.set(i.id, { mode: 'blurred', expiresAt: config.now() + GRANT_MS, pending: true });
        return undefined;
      },
      '#evidence-h',
    ),
  );

  router.post(
    '/incidents/:id/evidence/unblur',
    ...incidentAction(
      'reviewer',
      async (_req, res, i, s) => {
        const unavailable = evidenceUnavailable(i);
        if (unavailable) return refuse(res, unavailable);
        const { session, actor } = stateOf(res);
        const grant = session.evidence.get(i.id);
        if (!grant || grant.expiresAt <= config.now()) return refuse(res, 'View the blurred preview first.');
        await s.recordEvidenceAccess(i.id, {
          actor,
          kind: 'viewed',
          reason: 'console unblur',
          details: { presentation: 'unblurred', keyId: i.evidence!.keyId },
        });
        session.evidence.set(i.id, { mode: 'clear', expiresAt: config.now() + GRANT_MS, pending: true });
        return undefined;
      },
      '#evidence-h',
    ),
  );

  router.post(
    '/incidents/:id/evidence/hide',
    ...incidentAction(
      'reviewer',
      async (_req, res, i) => {
        sessions.forgetEvidence(stateOf(res).session, i.id);
        return 'The evidence is hidden.';
      },
      '#evidence-h',
    ),
  );

  router.get(
    '/incidents/:id/evidence/image/:token',
    need('reviewer'),
    wrap(async (req, res) => {
      const id = incidentId(req);
      const token = sessions.takeImageToken(
        stateOf(res).session,
        String(req.params.token ?? ''),
        config.now(),
      );
      if (!id || !token || token.incidentId !== id || !vault) {
        res.status(404).type('text/plain').send('No such image.');
        return;
      }
      const opened = await vault.read(id);
      let body: Buffer;
      try {
        body = await renderPreview(opened.bytes, token.mode);
      } catch (err) {
        log.warn('an evidence preview could not be rendered', { ...errorFields(err), incident: id });
        res.status(415).type('text/plain').send('This evidence cannot be previewed.');
        return;
      }
      res
        .set({ 'Cache-Control': 'no-store, private', 'Content-Disposition': 'inline' })
        .type('image/jpeg')
        .send(body);
    }),
  );

  router.post(
    '/incidents/:id/report-package',
    ...incidentAction('reviewer', async (req, res, i) => {
      await sendReportPackage(kit, req, res, i.id);
      return undefined;
    }),
  );
}
