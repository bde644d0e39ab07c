/** Owns the sign-in page and the pages that only say something (refusals, errors, not found). */

import { html } from '../html';
import { href, layout, type PageContext } from './layout';

/** The sign-in form. */
export function loginPage(
  ctx: PageContext,
  form: {
    readonly token: string;
    readonly next: string | undefined;
    readonly user?: string;
    readonly error?: string;
  },
): string {
  const body = html`<div class="login">
  ${form.error && html`<p class="notice error" role="alert" id="login-error">${form.error}</p>`}
  <form method="post" action="${href(ctx, '/login')}" class="panel">
    <input type="hidden" name="_login" value="${form.token}">
    ${form.next && html`<input type="hidden" name="next" value="${form.next}">`}
    <label for="user">User name</label>
    <input type="text" id="user" name="user" autocomplete="username" autocapitalize="none" spellcheck="false" required
      maxlength="64" value="${form.user ?? ''}"${!form.user && html` autofocus`}${form.error && html` aria-describedby="login-error"`}>
    <label for="password">Password</label>
    <input type="password" id="password" name="password" autocomplete="current-password" required maxlength="1024"${form.user && html` autofocus`}>
    <button type="submit">Sign in</button>
  </form>
</div>`;
  return layout(ctx, undefined, 'Sign in', body);
}

/** A page with a heading, one paragraph and a link onward. */
export function messagePage(
  ctx: PageContext,
  heading: string,
  text: string,
  link?: { readonly path: string; readonly label: string },
): string {
  const body = html`<p>${text}</p>${link && html`<p><a href="${href(ctx, link.path)}">${link.label}</a></p>`}`;
  return layout(ctx, undefined, heading, body);
}
