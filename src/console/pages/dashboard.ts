/** Owns the dashboard: the lists and their state, today's counts, the review queue and evidence views. */

import type { HashgateStatus } from '../../hashgate';
import type { Incident } from '../../incidents/types';
import type { ListConfig } from '../../options';
import type { DayCounts } from '../data';
import { html } from '../html';
import { duration, hasRole, href, layout, type PageContext, time } from './layout';

/** Everything the dashboard shows. */
export interface DashboardData {
  readonly status: HashgateStatus;
  readonly lists: readonly ListConfig[];
  readonly day: string;
  readonly incidents: DayCounts;
  /** Files this instance scanned today by outcome; undefined without metrics. */
  readonly scans: { readonly counts: ReadonlyMap<string, number>; readonly since: number | null } | undefined;
  readonly queue: { readonly count: number; readonly capped: boolean; readonly oldest: Incident | undefined };
  readonly now: number;
  /** The signed-in reviewer's evidence views today. */
  readonly myViews: number;
  /** For admins: every reviewer's evidence views today. */
  readonly viewsByActor: readonly { readonly actor: string; readonly views: number }[] | undefined;
}

function card(n: number | string, label: string, id: string) {
  return html`<li><span class="n" id="${id}">${n}</span><span class="l">${label}</span></li>`;
}

/** The dashboard page. */
export function dashboardPage(ctx: PageContext, d: DashboardData): string {
  const role = ctx.identity?.role;
  const rows = d.status.lists.map((s) => {
    const cfg = d.lists.find((l) => l.name === s.list);
    const state =
      s.version === null
        ? html`<span class="badge bad">not loaded</span>`
        : s.stale
          ? html`<span class="badge bad">stale</span>`
          : html`<span class="badge ok">current</span>`;
    return html`<tr>
      <th scope="row">${s.list}</th>
      <td class="num">${s.version ?? '—'}</td>
      <td class="num">${s.enabledEntries.toLocaleString('en-US')}</td>
      <td>${duration(s.ageMs)}</td>
      <td>${state}${s.lastError && html` <span class="muted">last check failed: <code>${s.lastError.code}</code></span>`}</td>
      <td>${cfg ? cfg.action : '—'}${cfg?.dryRun && ' (dry run)'}</td>
      <td>${cfg?.verified ? 'yes' : 'no'}</td>
    </tr>`;
  });
  const scans = d.scans;
  const scanned = scans ? [...scans.counts.values()].reduce((a, b) => a + b, 0) : undefined;
  const oldest = d.queue.oldest;
  const body = html`
<section aria-labelledby="today">
  <h2 id="today">Today (${d.day})</h2>
  <ul class="cards">
    ${card(scanned ?? '—', 'files scanned by this instance', 'count-scanned')}
    ${card(d.incidents.blocked, 'uploads blocked', 'count-blocked')}
    ${card(d.incidents.flagged, 'flagged for review', 'count-flagged')}
    ${card(scans ? (scans.counts.get('unscanned') ?? 0) : '—', 'not scanned (unscanned)', 'count-unscanned')}
  </ul>
  <p class="muted">Blocked and flagged count today's incidents of every instance sharing the store${
    d.incidents.logged + d.incidents.takedowns > 0 &&
    html` (plus ${d.incidents.logged} logged and ${d.incidents.takedowns} found by re-checks)`
  }. Scanned and unscanned count this instance's files ${
    scans
      ? scans.since === null
        ? 'since it started'
        : html`since ${time(ctx, scans.since)}`
      : '(metrics are off)'
  }.</p>
</section>
<section aria-labelledby="queue">
  <h2 id="queue">Review queue</h2>
  <p><strong>${d.queue.count}${d.queue.capped && '+'}</strong> incident${d.queue.count === 1 ? '' : 's'} awaiting review.
  ${
    oldest
      ? html`Oldest: <a href="${href(ctx, `/incidents/${oldest.id}`)}">${oldest.id}</a>, ${time(ctx, oldest.occurredAt)}
      (${duration(d.now - Date.parse(oldest.occurredAt))} ago).`
      : 'Nothing is waiting.'
  }</p>
  <p><a href="${href(ctx, '/incidents', { state: 'new' })}">Open the review queue</a></p>
  ${hasRole(role, 'reviewer') && html`<p id="my-views">You viewed evidence <strong>${d.myViews}</strong> time${d.myViews === 1 ? '' : 's'} today.</p>`}
  ${
    d.viewsByActor &&
    html`<div class="table-wrap"><table>
      <caption>Evidence views today, by reviewer</caption>
      <thead><tr><th scope="col">Reviewer</th><th scope="col" class="num">Views</th></tr></thead>
      <tbody>${
        d.viewsByActor.length > 0
          ? d.viewsByActor.map((v) => html`<tr><td>${v.actor}</td><td class="num">${v.views}</td></tr>`)
          : html`<tr><td colspan="2" class="muted">No evidence was viewed today.</td></tr>`
      }</tbody>
    </table></div>`
  }
</section>
<section aria-labelledby="lists">
  <h2 id="lists">Lists</h2>
  <p>${
    d.status.ready
      ? d.status.fresh
        ? html`<span class="badge ok">ready</span> Every list is loaded and current.`
        : html`<span class="badge bad">stale</span> A list is older than its allowed staleness.`
      : html`<span class="badge bad">not ready</span> Not every list is loaded.`
  } The match index holds ${d.status.index.entries.toLocaleString('en-US')} entries.</p>
  <div class="table-wrap"><table>
    <caption>Hash lists in use</caption>
    <thead><tr><th scope="col">List</th><th scope="col" class="num">Version</th><th scope="col" class="num">Entries</th>
      <th scope="col">Age</th><th scope="col">Status</th><th scope="col">Action</th><th scope="col">Verified</th></tr></thead>
    <tbody>${rows}</tbody>
  </table></div>
</section>`;
  return layout(ctx, 'dashboard', 'Dashboard', body);
}
