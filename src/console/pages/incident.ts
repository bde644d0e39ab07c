/**
 * Owns the incident page: metadata, matches with distances, hashes, review history and audit
 * trail, the evidence panel (hidden, blurred, unblurred) and the actions the user's role allows.
 */

import type { Incident } from '../../incidents/types';
import type { AuditTrail } from '../data';
import { html, type SafeHtml } from '../html';
import {
  bytes,
  csrfField,
  hasRole,
  href,
  layout,
  orDash,
  type PageContext,
  stateBadge,
  time,
} from './layout';

/** What the evidence panel shows. */
export type EvidencePanel =
  | { readonly kind: 'none'; readonly reason: string }
  | { readonly kind: 'hidden' }
  | { readonly kind: 'shown'; readonly mode: 'blurred' | 'clear'; readonly token: string };

/** Everything the incident page shows. */
export interface IncidentPageData {
  readonly incident: Incident;
  readonly trail: AuditTrail;
  /** Lists configured as `verified`. */
  readonly verifiedLists: ReadonlySet<string>;
  /** An exact match on a verified list: confirming needs no view of the evidence. */
  readonly confirmWithoutViewing: boolean;
  readonly evidence: EvidencePanel;
  /** The signed-in reviewer's evidence views today. */
  readonly myViews: number;
}

function details(value: unknown): string {
  const s = JSON.stringify(value);
  return s === '{}' ? '' : s.length > 400 ? `${s.slice(0, 400)}…` : s;
}

function textArea(id: string, label: string, hint: string, required = true): SafeHtml {
  return html`<label for="${id}">${label}</label>
    <p class="hint" id="${id}-hint">${hint}</p>
    <textarea id="${id}" name="reason" maxlength="2000" aria-describedby="${id}-hint"${required && html` required`}></textarea>`;
}

function evidencePanel(ctx: PageContext, d: IncidentPageData): SafeHtml {
  const i = d.incident;
  const path = (p: string) => href(ctx, `/incidents/${i.id}/evidence/${p}`);
  const viewed = html`<p class="hint">Viewed by a person: <strong id="viewed-by-person">${i.evidenceViewed ? 'yes' : 'no'}</strong>.
    ${hasRole(ctx.identity?.role, 'reviewer') && html`You viewed evidence <strong id="my-views">${d.myViews}</strong> time${d.myViews === 1 ? '' : 's'} today.`}</p>`;
  const e = d.evidence;
  if (e.kind === 'none') return html`<p>${e.reason}</p>${viewed}`;
  if (e.kind === 'hidden') {
    return html`<p>The evidence is hidden. Viewing it is recorded in the audit log and shows a blurred, greyscale
      preview first; unblurring is a separate, recorded step.</p>
      <form method="post" action="${path('view')}">${csrfField(ctx)}
        <button type="submit" id="view-evidence">View evidence (blurred)</button></form>${viewed}`;
  }
  const img = html`<img src="${path(`image/${e.token}`)}" alt="${
    e.mode === 'blurred' ? 'Blurred greyscale preview of the evidence' : 'Unblurred preview of the evidence'
  }" id="evidence-image">`;
  return html`<div class="evidence">${img}<div>
    <p>${e.mode === 'blurred' ? 'Blurred and greyscale. Unblur only if the decision needs it.' : 'Unblurred.'}</p>
    ${
      e.mode === 'blurred' &&
      html`<form method="post" action="${path('unblur')}">${csrfField(ctx)}
        <button type="submit" class="danger" id="unblur-evidence">Unblur</button></form>`
    }
    <form method="post" action="${path('hide')}">${csrfField(ctx)}
      <button type="submit" class="secondary" id="hide-evidence">Hide evidence</button></form>
  </div></div>${viewed}`;
}

function actions(ctx: PageContext, d: IncidentPageData): SafeHtml {
  const i = d.incident;
  const role = ctx.identity?.role;
  const action = (p: string) => href(ctx, `/incidents/${i.id}/${p}`);
  if (!hasRole(role, 'reviewer')) {
    return html`<p>You can read this incident. Acting on it needs the reviewer role.</p>`;
  }
  const forms: SafeHtml[] = [];
  if (i.state === 'reported' || i.state === 'dismissed') {
    forms.push(html`<div class="panel"><h3>Decided</h3><p>This incident is ${i.state}; that decision is final.
      The review history below says who decided and why.</p></div>`);
  }
  if (i.state === 'new') {
    const mustView =
      !d.confirmWithoutViewing && i.evidence !== null && !i.evidence.deletedAt && !i.evidenceViewed;
    forms.push(
      mustView
        ? html`<div class="panel"><h3>Confirm</h3><p>View the evidence before confirming: the match is perceptual or its
            list is not marked verified.</p></div>`
        : html`<form method="post" action="${action('confirm')}" aria-labelledby="confirm-h">${csrfField(ctx)}
            <h3 id="confirm-h">Confirm the match</h3>
            ${d.confirmWithoutViewing && html`<p class="hint">An exact match on a verified list: it can be confirmed without viewing.</p>`}
            ${textArea('confirm-reason', 'Reason', 'Why the match is right (recorded).')}
            <button type="submit" id="confirm">Confirm</button></form>`,
    );
  }
  if (i.state === 'confirmed') {
    forms.push(html`<form method="post" action="${action('report')}" aria-labelledby="report-h">${csrfField(ctx)}
      <h3 id="report-h">Mark reported</h3>
      <label for="report-reference">Report reference</label>
      <p class="hint" id="report-reference-hint">The hotline's or authority's reference for the report.</p>
      <input type="text" id="report-reference" name="reference" required maxlength="200" aria-describedby="report-reference-hint">
      ${textArea('report-reason', 'Note', 'Where and how it was reported (recorded).')}
      <button type="submit" id="report">Mark reported</button></form>`);
  }
  if (i.state === 'new' || i.state === 'confirmed') {
    forms.push(html`<form method="post" action="${action('dismiss')}" aria-labelledby="dismiss-h">${csrfField(ctx)}
      <h3 id="dismiss-h">Dismiss as a false positive</h3>
      ${textArea('dismiss-reason', 'Reason', 'Why this is not the listed material (recorded).')}
      <label class="check"><input type="checkbox" name="allowlist" value="yes" id="dismiss-allowlist">
        <span>Add this file's matching hashes to the allowlist, so the same file is not stopped again</span></label>
      <button type="submit" id="dismiss">Dismiss</button></form>`);
  }
  forms.push(html`<form method="post" action="${action('report-package')}" aria-labelledby="package-h">${csrfField(ctx)}
    <h3 id="package-h">Report package</h3>
    <p class="hint">The JSON a hotline report needs (recorded as an export).</p>
    <label class="check"><input type="checkbox" name="includeEvidence" value="yes" id="package-evidence">
      <span>Include the decrypted evidence (recorded as an evidence export)</span></label>
    <button type="submit" class="secondary" id="download-package">Download report package</button></form>`);
  if (hasRole(role, 'admin')) {
    forms.push(html`<form method="post" action="${action('hold')}" aria-labelledby="hold-h">${csrfField(ctx)}
      <h3 id="hold-h">Legal hold</h3>
      <p class="hint">Evidence is not deleted before this date. A hold can be set or extended here, never shortened; lifting it is a separate, recorded step.</p>
      <label for="hold-until">Hold until</label>
      <input type="date" id="hold-until" name="until" required>
      ${textArea('hold-reason', 'Reason', 'For example the request or case that asks for it (recorded).')}
      <button type="submit" id="set-hold">Set legal hold</button></form>`);
    if (i.legalHoldUntil) {
      forms.push(html`<form method="post" action="${action('hold/lift')}" aria-labelledby="lift-hold-h">${csrfField(ctx)}
        <h3 id="lift-hold-h">Lift legal hold</h3>
        <p class="hint">Ends the hold, so the retention sweep may delete the evidence once it is due.${
          i.state === 'reported' &&
          html` This incident was reported: its evidence stays held for the minimum the report imposes.`
        }</p>
        ${textArea('lift-hold-reason', 'Reason', 'For example the request that was withdrawn (recorded).')}
        <button type="submit" class="danger" id="lift-hold">Lift legal hold</button></form>`);
    }
  }
  return html`<div class="actions">${forms}</div>`;
}

/** The incident page. */
export function incidentPage(ctx: PageContext, d: IncidentPageData): string {
  const i = d.incident;
  const u = i.uploader;
  const body = html`
<section aria-labelledby="summary-h">
  <h2 id="summary-h">Summary</h2>
  <dl class="facts">
    <dt>State</dt><dd>${stateBadge(i.state)}</dd>
    <dt>Action taken</dt><dd>${i.action}${i.dryRun && ' (dry run: nothing was blocked)'}</dd>
    <dt>Source</dt><dd>${i.source === 'recheck' ? 're-check of an accepted upload' : 'upload'}</dd>
    <dt>Occurred</dt><dd>${time(ctx, i.occurredAt)} <span class="muted">(server: ${i.localTime}, ${i.timeZone})</span></dd>
    <dt>Route</dt><dd>${orDash(i.route)}</dd>
    <dt>Request id</dt><dd>${orDash(i.requestId)}</dd>
    ${i.ledger && html`<dt>Stored at</dt><dd>${i.ledger.reference}</dd>`}
    <dt>Report reference</dt><dd>${orDash(i.reportReference)}</dd>
    <dt>Legal hold until</dt><dd>${i.legalHoldUntil ? time(ctx, i.legalHoldUntil) : orDash(null)}</dd>
    <dt>Viewed by a person</dt><dd>${i.evidenceViewed ? 'yes' : 'no'}</dd>
  </dl>
</section>
<section aria-labelledby="evidence-h">
  <h2 id="evidence-h">Evidence</h2>
  ${evidencePanel(ctx, d)}
</section>
<section aria-labelledby="actions-h">
  <h2 id="actions-h">Decision</h2>
  ${actions(ctx, d)}
</section>
<section aria-labelledby="file-h">
  <h2 id="file-h">File and uploader</h2>
  <dl class="facts">
    <dt>Original name</dt><dd id="original-name">${orDash(i.file.originalName)}</dd>
    <dt>Declared type</dt><dd>${orDash(i.file.declaredType)}</dd>
    <dt>Sniffed type</dt><dd>${orDash(i.file.sniffedType)}</dd>
    <dt>Size</dt><dd>${bytes(i.file.size)} (${i.file.size} bytes)</dd>
    <dt>Uploader id</dt><dd>${orDash(u.userId)}</dd>
    <dt>IP address and port</dt><dd>${orDash(u.ip)}${u.port !== null && ` port ${u.port}`}</dd>
    <dt>User agent</dt><dd>${orDash(u.userAgent)}</dd>
  </dl>
</section>
<section aria-labelledby="matches-h">
  <h2 id="matches-h">Matches</h2>
  <div class="table-wrap"><table>
    <caption>Every list entry the upload matched</caption>
    <thead><tr><th scope="col">List</th><th scope="col" class="num">Version</th><th scope="col">Entry</th><th scope="col">Category</th>
      <th scope="col">Hash type</th><th scope="col" class="num">Distance</th><th scope="col">Variant</th><th scope="col" class="num">Quality</th></tr></thead>
    <tbody>${i.matches.map(
      (
        m,
      ) => html`<tr><td>${m.list}${d.verifiedLists.has(m.list) && html` <span class="badge ok">verified</span>`}</td>
        <td class="num">${m.listVersion}</td><td class="hash">${m.entryId}</td><td>${m.category}</td><td>${m.hashType}</td>
        <td class="num">${m.distance}</td><td>${orDash(m.variant)}</td><td class="num">${orDash(m.quality)}</td></tr>`,
    )}</tbody>
  </table></div>
</section>
<section aria-labelledby="hashes-h">
  <h2 id="hashes-h">Hashes of the upload</h2>
  <div class="table-wrap"><table>
    <caption>Computed when the file was scanned</caption>
    <thead><tr><th scope="col">Type</th><th scope="col">Value</th><th scope="col">How it was made</th></tr></thead>
    <tbody>${i.hashes.map(
      (h) =>
        html`<tr><td>${h.type}</td><td class="hash">${h.hex}</td><td>${[
          h.provenance.algorithm,
          h.provenance.convention,
          h.provenance.quality !== undefined ? `quality ${h.provenance.quality}` : undefined,
          h.provenance.decoder,
        ]
          .filter((x) => x)
          .join(', ')}</td></tr>`,
    )}</tbody>
  </table></div>
</section>
<section aria-labelledby="history-h">
  <h2 id="history-h">Review history</h2>
  <div class="table-wrap"><table>
    <caption>State changes, oldest first</caption>
    <thead><tr><th scope="col">When</th><th scope="col">Change</th><th scope="col">By</th><th scope="col">Reason</th><th scope="col">Report reference</th></tr></thead>
    <tbody>${i.history.map(
      (
        h,
      ) => html`<tr><td>${time(ctx, h.at)}</td><td>${h.from ? `${h.from} → ${h.to}` : `created as ${h.to}`}</td>
        <td>${h.actor}</td><td>${h.reason}</td><td>${orDash(h.reportReference)}</td></tr>`,
    )}</tbody>
  </table></div>
</section>
<section aria-labelledby="trail-h">
  <h2 id="trail-h">Audit trail</h2>
  ${d.trail.truncated && html`<p class="muted">Only the first records are shown; see the audit log for the rest.</p>`}
  <div class="table-wrap"><table id="audit-trail">
    <caption>Audit records of this incident</caption>
    <thead><tr><th scope="col" class="num">#</th><th scope="col">When</th><th scope="col">Event</th><th scope="col">Actor</th><th scope="col">Details</th></tr></thead>
    <tbody>${d.trail.records.map(
      (
        r,
      ) => html`<tr><td class="num">${r.seq}</td><td>${time(ctx, r.at)}</td><td>${r.type}</td><td>${r.actor}</td>
        <td class="hash">${details(r.details)}</td></tr>`,
    )}</tbody>
  </table></div>
</section>`;
  return layout(ctx, 'incidents', `Incident ${i.id}`, body);
}
