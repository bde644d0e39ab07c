/** Owns the allowlist page: entries by status, and for admins the approve and revoke controls. */

import type { AllowlistEntry, AllowlistStatus } from '../../incidents/types';
import { html } from '../html';
import { csrfField, hasRole, href, layout, orDash, type PageContext, time } from './layout';

const STATUSES: readonly (AllowlistStatus | 'all')[] = ['active', 'pending', 'revoked', 'all'];

/** The allowlist page. */
export function allowlistPage(
  ctx: PageContext,
  status: AllowlistStatus | 'all',
  entries: readonly AllowlistEntry[],
): string {
  const admin = hasRole(ctx.identity?.role, 'admin');
  const rows = entries.map((e) => {
    const controls = admin
      ? html`${
          e.status === 'pending' &&
          html`<form method="post" action="${href(ctx, `/allowlist/${e.id}/approve`)}">${csrfField(ctx)}
            <button type="submit" class="secondary">Approve</button></form>`
        }${
          e.status !== 'revoked' &&
          html`<form method="post" action="${href(ctx, `/allowlist/${e.id}/revoke`)}">${csrfField(ctx)}
            <label for="revoke-${e.id}">Reason to revoke</label>
            <input type="text" id="revoke-${e.id}" name="reason" required maxlength="2000">
            <button type="submit" class="danger">Revoke</button></form>`
        }`
      : '';
    return html`<tr>
      <td class="hash">${e.id}</td><td>${e.type}</td><td class="hash">${e.hex}</td><td>${e.status}</td><td>${e.reason}</td>
      <td>${e.incidentId ? html`<a href="${href(ctx, `/incidents/${e.incidentId}`)}" class="hash nowrap">${e.incidentId}</a>` : orDash(null)}</td>
      <td>${e.proposedBy}<br>${time(ctx, e.proposedAt)}</td>
      <td>${e.approvedBy ? html`${e.approvedBy}<br>${time(ctx, e.approvedAt)}` : orDash(null)}</td>
      <td>${e.revokedBy ? html`${e.revokedBy}<br>${time(ctx, e.revokedAt)}<br>${e.revokeReason}` : orDash(null)}</td>
      ${admin && html`<td>${controls}</td>`}
    </tr>`;
  });
  const body = html`
<p>Hashes reviewers declared false positives. An active entry overrides every list.</p>
<nav aria-label="Allowlist status"><ul class="pager">${STATUSES.map(
    (s) =>
      html`<li><a href="${href(ctx, '/allowlist', { status: s })}"${s === status && html` aria-current="page"`}>${s}</a></li>`,
  )}</ul></nav>
<div class="table-wrap"><table>
  <caption>Allowlist entries (${status}), newest first</caption>
  <thead><tr><th scope="col">Entry</th><th scope="col">Type</th><th scope="col">Hash</th><th scope="col">Status</th><th scope="col">Reason</th>
    <th scope="col">Incident</th><th scope="col">Proposed</th><th scope="col">Approved</th><th scope="col">Revoked</th>${admin && html`<th scope="col">Change</th>`}</tr></thead>
  <tbody>${rows.length > 0 ? rows : html`<tr><td colspan="${admin ? 10 : 9}" class="muted">No entries.</td></tr>`}</tbody>
</table></div>`;
  return layout(ctx, 'allowlist', 'Allowlist', body);
}
