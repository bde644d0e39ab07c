/** Owns the audit log page: the chain's verification result and the records, newest first. */

import type { AuditRecord, AuditVerification } from '../../incidents/types';
import { html } from '../html';
import { href, layout, type PageContext, time } from './layout';

/** The audit log page. */
export function auditPage(
  ctx: PageContext,
  verification: AuditVerification,
  verifiedAt: number,
  records: readonly AuditRecord[],
  older: number | undefined,
  newest: boolean,
): string {
  const v = verification.ok
    ? html`<p class="notice ok" id="audit-verification">The chain verifies: ${verification.records} records, each sealed with the
        hash of the one before; head <code>${verification.head.hash.slice(0, 16)}…</code> (record ${verification.head.seq}).</p>`
    : html`<p class="notice error" id="audit-verification" role="alert">The chain does not verify: ${verification.problem} at record
        ${verification.position} (${verification.records} records verified before it). ${verification.message}</p>`;
  const rows = records.map(
    (r) => html`<tr>
      <td class="num">${r.seq}</td><td>${time(ctx, r.at)}</td><td>${r.type}</td><td>${r.actor}</td>
      <td>${r.incidentId ? html`<a href="${href(ctx, `/incidents/${r.incidentId}`)}" class="hash nowrap">${r.incidentId}</a>` : ''}</td>
      <td class="hash">${JSON.stringify(r.details) === '{}' ? '' : JSON.stringify(r.details).slice(0, 400)}</td>
    </tr>`,
  );
  const body = html`
<section aria-labelledby="verify-h">
  <h2 id="verify-h">Verification</h2>
  ${v}
  <p class="muted">Checked ${time(ctx, verifiedAt)}. <a href="${href(ctx, '/audit', { verify: 'now' })}">Check again now</a></p>
</section>
<section aria-labelledby="records-h">
  <h2 id="records-h">Records</h2>
  <div class="table-wrap"><table>
    <caption>Audit records, newest first</caption>
    <thead><tr><th scope="col" class="num">#</th><th scope="col">When</th><th scope="col">Event</th><th scope="col">Actor</th>
      <th scope="col">Incident</th><th scope="col">Details</th></tr></thead>
    <tbody>${rows.length > 0 ? rows : html`<tr><td colspan="6" class="muted">No records.</td></tr>`}</tbody>
  </table></div>
  <nav class="pager" aria-label="Pages">
    ${!newest && html`<a href="${href(ctx, '/audit')}">Newest records</a>`}
    ${older !== undefined && html`<a href="${href(ctx, '/audit', { before: String(older) })}" rel="next">Older records</a>`}
  </nav>
</section>`;
  return layout(ctx, 'audit', 'Audit log', body);
}
