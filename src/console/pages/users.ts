/** Owns the users page (admins) and the account page (a user's own password). */

import { html } from '../html';
import { CONSOLE_ROLES, type ConsoleRole } from '../options';
import { MIN_PASSWORD_LENGTH } from '../passwords';
import type { ConsoleUser } from '../users';
import { csrfField, href, layout, orDash, type PageContext, time } from './layout';

function roleSelect(id: string, value: ConsoleRole | undefined) {
  return html`<select id="${id}" name="role">${CONSOLE_ROLES.map(
    (r) => html`<option value="${r}"${r === value && html` selected`}>${r}</option>`,
  )}</select>`;
}

/** The users page. */
export function usersPage(ctx: PageContext, users: readonly ConsoleUser[], editable: boolean): string {
  const rows = users.map((u) => {
    const own = u.name === ctx.identity?.user;
    const controls =
      u.source === 'file'
        ? html`<form method="post" action="${href(ctx, `/users/${u.name}/role`)}">${csrfField(ctx)}
            <label for="role-${u.name}">Role</label>${roleSelect(`role-${u.name}`, u.role)}
            <button type="submit" class="secondary">Change role</button></form>
          <form method="post" action="${href(ctx, `/users/${u.name}/password`)}">${csrfField(ctx)}
            <label for="password-${u.name}">New password</label>
            <input type="password" id="password-${u.name}" name="password" autocomplete="new-password" required minlength="${MIN_PASSWORD_LENGTH}" maxlength="1024">
            <button type="submit" class="secondary">Set password</button></form>
          ${
            !own &&
            html`<form method="post" action="${href(ctx, `/users/${u.name}/delete`)}">${csrfField(ctx)}
            <button type="submit" class="danger">Remove ${u.name}</button></form>`
          }`
        : html`<span class="muted">Set in the host's options</span>`;
    return html`<tr><th scope="row">${u.name}</th><td>${u.role}</td><td>${u.source === 'file' ? 'console' : 'options'}</td>
      <td>${u.createdBy ? html`${u.createdBy}<br>${time(ctx, u.createdAt)}` : orDash(null)}</td><td>${controls}</td></tr>`;
  });
  const body = html`
<div class="table-wrap"><table>
  <caption>Console users</caption>
  <thead><tr><th scope="col">User</th><th scope="col">Role</th><th scope="col">Defined in</th><th scope="col">Added</th><th scope="col">Change</th></tr></thead>
  <tbody>${rows}</tbody>
</table></div>
${
  editable
    ? html`<form method="post" action="${href(ctx, '/users')}" class="panel" aria-labelledby="add-h">${csrfField(ctx)}
  <h2 id="add-h">Add a user</h2>
  <label for="new-name">User name</label>
  <p class="hint" id="new-name-hint">Lower-case letters, digits, dots, dashes, underscores or @.</p>
  <input type="text" id="new-name" name="name" required maxlength="64" pattern="[a-z0-9][a-z0-9._@\\-]{0,63}" aria-describedby="new-name-hint" autocomplete="off">
  <label for="new-role">Role</label>${roleSelect('new-role', 'viewer')}
  <label for="new-password">Password</label>
  <p class="hint" id="new-password-hint">At least ${MIN_PASSWORD_LENGTH} characters.</p>
  <input type="password" id="new-password" name="password" autocomplete="new-password" required minlength="${MIN_PASSWORD_LENGTH}" maxlength="1024" aria-describedby="new-password-hint">
  <button type="submit">Add user</button>
</form>`
    : html`<p>Users are fixed by the host's options (no users file is configured).</p>`
}`;
  return layout(ctx, 'users', 'Users', body);
}

/** The account page: change one's own password. */
export function accountPage(ctx: PageContext, user: ConsoleUser | undefined): string {
  const body =
    user?.source === 'file'
      ? html`<form method="post" action="${href(ctx, '/account/password')}" class="panel" aria-labelledby="pw-h">${csrfField(ctx)}
  <h2 id="pw-h">Change your password</h2>
  <label for="current-password">Current password</label>
  <input type="password" id="current-password" name="current" autocomplete="current-password" required maxlength="1024">
  <label for="account-password">New password</label>
  <p class="hint" id="account-password-hint">At least ${MIN_PASSWORD_LENGTH} characters. Your other sessions end.</p>
  <input type="password" id="account-password" name="password" autocomplete="new-password" required minlength="${MIN_PASSWORD_LENGTH}" maxlength="1024" aria-describedby="account-password-hint">
  <button type="submit">Change password</button>
</form>`
      : html`<p>Your account is set in the host's options; its password is changed there.</p>`;
  return layout(ctx, 'account', 'Account', body);
}
