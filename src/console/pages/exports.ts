/** Owns the exports page: incidents of a period as JSON or CSV, and report packages by incident id. */

import { REVIEW_STATES } from '../../incidents/types';
import { html } from '../html';
import { csrfField, href, layout, type PageContext } from './layout';

/** The exports page; `from` and `to` prefill the period (local dates). */
export function exportsPage(
  ctx: PageContext,
  period: { readonly from: string; readonly to: string },
): string {
  const body = html`
<p>Every export is recorded in the audit log with who made it, the period and the number of incidents.</p>
<form method="post" action="${href(ctx, '/exports/incidents')}" class="panel" aria-labelledby="incidents-h">${csrfField(ctx)}
  <h2 id="incidents-h">Incidents of a period</h2>
  <fieldset><legend>Format</legend>
    <label class="check"><input type="radio" name="format" value="csv" id="format-csv" checked> <span>CSV (safe to open in a spreadsheet)</span></label>
    <label class="check"><input type="radio" name="format" value="json" id="format-json"> <span>JSON</span></label>
  </fieldset>
  <div class="filters">
    <div><label for="export-from">From (date)</label><input type="date" id="export-from" name="from" value="${period.from}" required></div>
    <div><label for="export-to">To (date, inclusive)</label><input type="date" id="export-to" name="to" value="${period.to}" required></div>
    <div><label for="export-state">State</label><select id="export-state" name="state">
      <option value="">any state</option>
      ${REVIEW_STATES.map((s) => html`<option value="${s}">${s}</option>`)}
    </select></div>
  </div>
  <button type="submit" id="export-incidents">Download export</button>
</form>
<form method="post" action="${href(ctx, '/exports/report')}" class="panel" aria-labelledby="package-h">${csrfField(ctx)}
  <h2 id="package-h">Report package</h2>
  <label for="package-incident">Incident id</label>
  <input type="text" id="package-incident" name="incident" required pattern="inc_[0-9a-z]{24}" maxlength="28" spellcheck="false">
  <label class="check"><input type="checkbox" name="includeEvidence" value="yes" id="package-evidence">
    <span>Include the decrypted evidence (recorded as an evidence export)</span></label>
  <button type="submit" id="export-package">Download report package</button>
</form>`;
  return layout(ctx, 'exports', 'Exports', body);
}
