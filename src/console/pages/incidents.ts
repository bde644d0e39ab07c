/** Owns the incidents page: filters (state, list, action, dates) and one page of incidents, oldest first. */

import type { Incident } from '../../incidents/types';
import { REVIEW_STATES } from '../../incidents/types';
import { html } from '../html';
import { bytes, href, layout, orDash, type PageContext, stateBadge, time } from './layout';

/** The filter form's values as typed (strings, for re-display). */
export interface IncidentFilterForm {
  readonly state: string;
  readonly list: string;
  readonly action: string;
  readonly from: string;
  readonly to: string;
}

const ACTIONS = ['block', 'review', 'log', 'takedown'] as const;

function select(id: string, label: string, value: string, options: readonly string[], any: string) {
  return html`<div><label for="${id}">${label}</label><select id="${id}" name="${id}">
    <option value=""${value === '' && html` selected`}>${any}</option>
    ${options.map((o) => html`<option value="${o}"${o === value && html` selected`}>${o}</option>`)}
  </select></div>`;
}

function summary(i: Incident): string {
  const best = new Map<string, number>();
  for (const m of i.matches) best.set(m.hashType, Math.min(best.get(m.hashType) ?? 999, m.distance));
  return [...best].map(([t, d]) => `${t} ${d}`).join(', ');
}

/** The incidents page. */
export function incidentsPage(
  ctx: PageContext,
  form: IncidentFilterForm,
  lists: readonly string[],
  incidents: readonly Incident[],
  next: { readonly occurredAt: string; readonly id: string } | undefined,
  firstPage: boolean,
): string {
  const query = { state: form.state, list: form.list, action: form.action, from: form.from, to: form.to };
  const rows = incidents.map(
    (i) => html`<tr>
      <td>${time(ctx, i.occurredAt)}</td>
      <td><a href="${href(ctx, `/incidents/${i.id}`)}" class="hash nowrap">${i.id}</a></td>
      <td>${stateBadge(i.state)}</td>
      <td>${i.action}${i.dryRun && ' (dry run)'}</td>
      <td>${[...new Set(i.matches.map((m) => m.list))].join(', ')}</td>
      <td>${summary(i)}</td>
      <td>${orDash(i.file.originalName)}<br><span class="muted">${i.file.sniffedType ?? 'unknown'}, ${bytes(i.file.size)}</span></td>
      <td>${i.evidence ? (i.evidence.deletedAt ? 'deleted' : i.evidenceViewed ? 'stored, viewed' : 'stored') : 'none'}</td>
    </tr>`,
  );
  const body = html`
<form method="get" action="${href(ctx, '/incidents')}" class="panel" aria-labelledby="filter-heading">
  <h2 id="filter-heading">Filter</h2>
  <div class="filters">
    ${select('state', 'State', form.state, REVIEW_STATES, 'any state')}
    ${select('list', 'List', form.list, lists, 'any list')}
    ${select('action', 'Action', form.action, ACTIONS, 'any action')}
    <div><label for="from">From (date)</label><input type="date" id="from" name="from" value="${form.from}"></div>
    <div><label for="to">To (date, inclusive)</label><input type="date" id="to" name="to" value="${form.to}"></div>
    <div><button type="submit">Apply filters</button></div>
  </div>
</form>
<div class="table-wrap"><table>
  <caption>Incidents, oldest first${!firstPage && ' (continued)'}</caption>
  <thead><tr><th scope="col">Occurred</th><th scope="col">Incident</th><th scope="col">State</th><th scope="col">Action</th>
    <th scope="col">Lists</th><th scope="col">Closest match (type, distance)</th><th scope="col">File</th><th scope="col">Evidence</th></tr></thead>
  <tbody>${rows.length > 0 ? rows : html`<tr><td colspan="8" class="muted">No incidents match these filters.</td></tr>`}</tbody>
</table></div>
<nav class="pager" aria-label="Pages">
  ${!firstPage && html`<a href="${href(ctx, '/incidents', query)}">First page</a>`}
  ${next && html`<a href="${href(ctx, '/incidents', { ...query, afterAt: next.occurredAt, afterId: next.id })}" rel="next">Next page</a>`}
</nav>`;
  return layout(ctx, 'incidents', 'Incidents', body);
}
