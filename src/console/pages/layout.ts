/** Owns the page frame every console page shares (landmarks, navigation, notices) and small formatting helpers. */

import { utcOffsetMinutes } from '../../incidents/time';
import { type HtmlValue, html, type SafeHtml } from '../html';
import type { ConsoleRole } from '../options';
import type { Notice } from '../sessions';

/** Sections of the navigation. */
export type Section = 'dashboard' | 'incidents' | 'exports' | 'audit' | 'allowlist' | 'users' | 'account';

/** What every page needs to know about the request. */
export interface PageContext {
  /** Mount path of the console (no trailing slash; '' at the root). */
  readonly base: string;
  readonly title: string;
  readonly timeZone: string;
  readonly identity?: {
    readonly user: string;
    readonly role: ConsoleRole;
    readonly via: 'password' | 'host';
  };
  readonly csrf?: string;
  readonly notice?: Notice | undefined;
}

const RANK: Readonly<Record<ConsoleRole, number>> = { viewer: 0, reviewer: 1, admin: 2 };

/** True when `role` includes the rights of `needed`. */
export function hasRole(role: ConsoleRole | undefined, needed: ConsoleRole): boolean {
  return role !== undefined && RANK[role] >= RANK[needed];
}

/** The hidden CSRF field every form carries. */
export function csrfField(ctx: PageContext): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${ctx.csrf ?? ''}">`;
}

/** A link target inside the console. */
export function href(ctx: PageContext, path: string, query?: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== '') q.set(k, v);
  const s = q.toString();
  return `${ctx.base}${path}${s ? `?${s}` : ''}`;
}

function offsetLabel(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `UTC${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/** An instant as local time of the console's zone, with the UTC instant in `datetime`. */
export function time(ctx: PageContext, at: string | number | null | undefined): SafeHtml {
  if (at === null || at === undefined) return html`<span class="muted">—</span>`;
  const ms = typeof at === 'number' ? at : Date.parse(at);
  if (!Number.isFinite(ms)) return html`${String(at)}`;
  const offset = utcOffsetMinutes(ctx.timeZone, ms);
  const local = new Date(ms + offset * 60_000).toISOString().replace('T', ' ').slice(0, 19);
  return html`<time datetime="${new Date(ms).toISOString()}">${local} <span class="muted">${offsetLabel(offset)}</span></time>`;
}

/** A duration in words: `45 s`, `12 min`, `3 h 5 min`, `4 d 2 h`. */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** A byte count in words. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** A badge for a review state (the word itself carries the meaning; colour only helps). */
export function stateBadge(state: string): SafeHtml {
  return html`<span class="badge ${state}">${state}</span>`;
}

/** Text or a muted dash. */
export function orDash(value: HtmlValue): SafeHtml {
  return value === null || value === undefined || value === ''
    ? html`<span class="muted">—</span>`
    : html`${value}`;
}

function navItem(
  ctx: PageContext,
  current: Section | undefined,
  section: Section,
  path: string,
  label: string,
): SafeHtml {
  return html`<li><a href="${href(ctx, path)}"${current === section ? html` aria-current="page"` : ''}>${label}</a></li>`;
}

/** The whole page: skip link, header with navigation, main with the heading and a notice, footer. */
export function layout(
  ctx: PageContext,
  section: Section | undefined,
  heading: string,
  body: SafeHtml,
): string {
  const role = ctx.identity?.role;
  const nav = ctx.identity
    ? html`<nav aria-label="Console sections"><ul>
        ${navItem(ctx, section, 'dashboard', '/', 'Dashboard')}
        ${navItem(ctx, section, 'incidents', '/incidents', 'Incidents')}
        ${hasRole(role, 'reviewer') && navItem(ctx, section, 'exports', '/exports', 'Exports')}
        ${navItem(ctx, section, 'audit', '/audit', 'Audit log')}
        ${navItem(ctx, section, 'allowlist', '/allowlist', 'Allowlist')}
        ${hasRole(role, 'admin') && ctx.identity.via === 'password' && navItem(ctx, section, 'users', '/users', 'Users')}
      </ul></nav>
      <div class="who">
        <span>Signed in as <strong>${ctx.identity.user}</strong> (${ctx.identity.role})</span>
        ${
          ctx.identity.via === 'password' &&
          html`<a href="${href(ctx, '/account')}"${section === 'account' ? html` aria-current="page"` : ''}>Account</a>
        <form method="post" action="${href(ctx, '/logout')}">${csrfField(ctx)}<button type="submit">Sign out</button></form>`
        }
      </div>`
    : '';
  const notice = ctx.notice
    ? html`<p class="notice ${ctx.notice.kind}" role="${ctx.notice.kind === 'error' ? 'alert' : 'status'}">${ctx.notice.text}</p>`
    : '';
  return `<!doctype html>\n${html`<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${heading} · ${ctx.title}</title>
<link rel="stylesheet" href="${href(ctx, '/static/console.css')}">
</head>
<body>
<a class="skip" href="#main">Skip to main content</a>
<header class="top">
<a class="brand" href="${href(ctx, '/')}">${ctx.title}</a>
${nav}
</header>
<main id="main" tabindex="-1">
<h1>${heading}</h1>
${notice}
${body}
</main>
<footer><p>All times in ${ctx.timeZone}. Every view, decision and export is recorded in the audit log.</p></footer>
</body>
</html>`}\n`;
}
