/**
 * Owns the read-mostly pages: the dashboard, the incident list with its filters, exports, the
 * audit log with its verification, and the allowlist with the admin's approve and revoke.
 */

import type { Request, Response, Router } from 'express';
import { exportIncidents } from '../incidents/export';
import { isId, isIncidentId } from '../incidents/ids';
import type { IncidentStore } from '../incidents/store';
import {
  type AllowlistStatus,
  type AuditVerification,
  type IncidentAction,
  REVIEW_STATES,
  type ReviewState,
} from '../incidents/types';
import { countIncidents, dayOf, findIncidents, reviewQueue, startOfDay, todayRange } from './data';
import { sendReportPackage } from './incident-routes';
import { field, type Kit, nextDay, queryField, refusalText } from './kit';
import { allowlistPage } from './pages/allowlist';
import { auditPage } from './pages/audit';
import { dashboardPage } from './pages/dashboard';
import { exportsPage } from './pages/exports';
import { incidentsPage } from './pages/incidents';
import { hasRole } from './pages/layout';
import { Refusal } from './refusal';

/** How long a verification of an unchanged audit chain is shown before it is re-run. */
const VERIFY_REUSE_MS = 30_000;

/** Adds the dashboard, incident list, export, audit log and allowlist routes. */
export function pageRoutes(router: Router, kit: Kit): void {
  const { config, gate, views, scans, listNames, ctxOf, send, redirect, notify, wrap, need, store, stateOf } =
    kit;

  // --- dashboard ----------------------------------------------------------------------------
  router.get(
    '/',
    wrap(async (req, res) => {
      const s = await store();
      const now = config.now();
      const today = todayRange(now, config.timeZone);
      const { session, actor } = stateOf(res);
      await views.refresh(s);
      const [incidents, queue, scanned] = await Promise.all([
        countIncidents(s, today.from, today.to),
        reviewQueue(s),
        scans.today(gate.metrics, today.day, now),
      ]);
      send(
        res,
        200,
        dashboardPage(ctxOf(req, res), {
          status: gate.status(),
          lists: gate.config.lists,
          day: today.day,
          incidents,
          scans: scanned,
          queue,
          now,
          myViews: views.count(actor, today.day),
          viewsByActor: hasRole(session.role, 'admin') ? views.byActor(today.day) : undefined,
        }),
      );
    }),
  );

  // --- incidents ----------------------------------------------------------------------------
  router.get(
    '/incidents',
    wrap(async (req, res) => {
      const state = queryField(req, 'state');
      const list = queryField(req, 'list');
      const action = queryField(req, 'action');
      const fromDay = queryField(req, 'from');
      const toDay = queryField(req, 'to');
      const from = startOfDay(fromDay, config.timeZone);
      const to = Number.isNaN(startOfDay(toDay, config.timeZone))
        ? Number.NaN
        : startOfDay(nextDay(toDay), config.timeZone);
      const afterAt = queryField(req, 'afterAt');
      const afterId = queryField(req, 'afterId');
      const after =
        isIncidentId(afterId) && Number.isFinite(Date.parse(afterAt))
          ? { occurredAt: afterAt, id: afterId }
          : undefined;
      const form = {
        state: (REVIEW_STATES as readonly string[]).includes(state) ? state : '',
        list: listNames.includes(list) ? list : '',
        action: ['block', 'review', 'log', 'takedown'].includes(action) ? action : '',
        from: Number.isNaN(from) ? '' : fromDay,
        to: Number.isNaN(to) ? '' : toDay,
      };
      const page = await findIncidents(
        await store(),
        {
          ...(form.state ? { state: form.state as ReviewState } : {}),
          ...(form.list ? { list: form.list } : {}),
          ...(form.action ? { action: form.action as IncidentAction } : {}),
          ...(Number.isNaN(from) ? {} : { from }),
          ...(Number.isNaN(to) ? {} : { to }),
          ...(after ? { after } : {}),
        },
        config.pageSize,
      );
      send(res, 200, incidentsPage(ctxOf(req, res), form, listNames, page.incidents, page.next, !after));
    }),
  );

  // --- exports ------------------------------------------------------------------------------
  router.get('/exports', need('reviewer'), (req, res) => {
    const today = dayOf(config.now(), config.timeZone);
    const weekAgo = dayOf(config.now() - 6 * 86_400_000, config.timeZone);
    send(res, 200, exportsPage(ctxOf(req, res), { from: weekAgo, to: today }));
  });

  router.post(
    '/exports/incidents',
    need('reviewer'),
    wrap(async (req, res) => {
      const format = field(req, 'format') === 'json' ? 'json' : 'csv';
      const fromDay = field(req, 'from');
      const toDay = field(req, 'to');
      const state = field(req, 'state');
      const from = startOfDay(fromDay, config.timeZone);
      const to = Number.isNaN(startOfDay(toDay, config.timeZone))
        ? Number.NaN
        : startOfDay(nextDay(toDay), config.timeZone);
      if (Number.isNaN(from) || Number.isNaN(to) || to <= from) {
        notify(res, 'error', 'Give a period: a start date on or before the end date.');
        return redirect(req, res, '/exports');
      }
      const body = await exportIncidents({
        store: await store(),
        from,
        to,
        format,
        actor: stateOf(res).actor,
        ...((REVIEW_STATES as readonly string[]).includes(state) ? { states: [state as ReviewState] } : {}),
      });
      res
        .set({
          'Content-Disposition': `attachment; filename="hashgate-incidents-${fromDay}-to-${toDay}.${format}"`,
          'Cache-Control': 'no-store, private',
        })
        .type(format === 'json' ? 'application/json' : 'text/csv; charset=utf-8')
        .send(body);
    }),
  );

  router.post(
    '/exports/report',
    need('reviewer'),
    wrap(async (req, res) => {
      const id = field(req, 'incident').trim();
      if (!isIncidentId(id) || !(await (await store()).getIncident(id))) {
        notify(res, 'error', 'There is no incident with that id.');
        return redirect(req, res, '/exports');
      }
      if (!(await sendReportPackage(kit, req, res, id))) redirect(req, res, '/exports');
    }),
  );

  // --- audit log ----------------------------------------------------------------------------
  let verified: { at: number; head: number; result: AuditVerification } | undefined;
  router.get(
    '/audit',
    wrap(async (req, res) => {
      const s = await store();
      const head = await s.auditHead();
      const before = Number.parseInt(queryField(req, 'before'), 10);
      const top = Number.isSafeInteger(before) && before > 0 ? Math.min(before - 1, head.seq) : head.seq;
      const size = config.pageSize;
      const afterSeq = Math.max(0, top - size);
      const records = top > afterSeq ? await s.readAudit({ afterSeq, limit: top - afterSeq }) : [];
      // re-hashing the whole chain is linear in its length: a result for the same head is reused briefly
      const now = config.now();
      if (
        !verified ||
        verified.head !== head.seq ||
        now - verified.at > VERIFY_REUSE_MS ||
        queryField(req, 'verify') === 'now'
      ) {
        verified = { at: now, head: head.seq, result: await s.verifyAuditChain() };
      }
      send(
        res,
        200,
        auditPage(
          ctxOf(req, res),
          verified.result,
          verified.at,
          records.reverse(),
          afterSeq > 0 ? afterSeq + 1 : undefined,
          top === head.seq,
        ),
      );
    }),
  );

  // --- allowlist ----------------------------------------------------------------------------
  router.get(
    '/allowlist',
    wrap(async (req, res) => {
      const wanted = queryField(req, 'status');
      const status: AllowlistStatus | 'all' =
        (['active', 'pending', 'revoked', 'all'] as const).find((s) => s === wanted) ?? 'active';
      const entries = await (await store()).listAllowlist({
        status: status === 'all' ? ['active', 'pending', 'revoked'] : [status],
      });
      send(res, 200, allowlistPage(ctxOf(req, res), status, entries));
    }),
  );

  const allowlistAction = (
    fn: (s: IncidentStore, id: string, req: Request, res: Response) => Promise<string>,
  ) => [
    need('admin'),
    wrap(async (req, res) => {
      const id = String(req.params.id ?? '');
      if (!isId('alw', id)) {
        notify(res, 'error', 'There is no such allowlist entry.');
        return redirect(req, res, '/allowlist');
      }
      try {
        notify(res, 'ok', await fn(await store(), id, req, res));
        await gate.refreshAllowlist();
      } catch (err) {
        const text = refusalText(err);
        if (text === undefined) throw err;
        notify(res, 'error', text);
      }
      redirect(req, res, '/allowlist?status=all');
    }),
  ];

  router.post(
    '/allowlist/:id/approve',
    ...allowlistAction(async (s, id, _req, res) => {
      await s.approveAllowlistEntry(id, { actor: stateOf(res).actor });
      return 'The entry is approved and active.';
    }),
  );

  router.post(
    '/allowlist/:id/revoke',
    ...allowlistAction(async (s, id, req, res) => {
      const reason = field(req, 'reason').trim();
      if (!reason) throw new Refusal('Give a reason for revoking.');
      await s.revokeAllowlistEntry(id, { actor: stateOf(res).actor, reason });
      return 'The entry is revoked; the hash matches again.';
    }),
  );
}
