/**
 * Owns the console's one stylesheet, served from the router (`style-src 'self'`: no inline
 * styles anywhere). Colours meet WCAG AA contrast on their backgrounds; focus is always visible.
 */

/** The stylesheet. */
export const CONSOLE_CSS = `
:root { color-scheme: light; --ink: #111827; --muted: #4b5563; --line: #d1d5db; --bg: #ffffff;
  --panel: #f3f4f6; --accent: #1d4ed8; --accent-ink: #ffffff; --danger: #b91c1c; --ok: #166534;
  --warn: #92400e; --focus: #f59e0b; }
* { box-sizing: border-box; }
html { font-size: 100%; }
body { margin: 0; font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--ink); background: var(--bg); }
a { color: var(--accent); }
a:hover { text-decoration-thickness: 2px; }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.skip { position: absolute; left: -9999px; top: 0; background: var(--ink); color: #fff; padding: .5rem 1rem; z-index: 10; }
.skip:focus { left: .5rem; top: .5rem; }
header.top { display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; align-items: center; justify-content: space-between;
  padding: .6rem 1.25rem; background: #111827; color: #f9fafb; }
header.top .brand { font-weight: 700; color: #f9fafb; text-decoration: none; }
header.top nav ul { list-style: none; display: flex; flex-wrap: wrap; gap: .25rem; margin: 0; padding: 0; }
header.top nav a { display: inline-block; padding: .35rem .7rem; color: #f9fafb; text-decoration: none; border-radius: .3rem; }
header.top nav a[aria-current="page"] { background: #374151; text-decoration: underline; text-underline-offset: .3em; }
header.top nav a:hover { background: #1f2937; }
header.top .who { display: flex; gap: .75rem; align-items: center; font-size: .95rem; }
header.top .who a { color: #f9fafb; }
header.top .who form { margin: 0; }
header.top .who button { margin: 0; background: transparent; color: #f9fafb; border: 1px solid #9ca3af; }
main { max-width: 72rem; margin: 0 auto; padding: 1.25rem; }
main:focus { outline: none; }
h1 { font-size: 1.6rem; margin: .25rem 0 1rem; }
h2 { font-size: 1.2rem; margin: 1.75rem 0 .6rem; border-bottom: 1px solid var(--line); padding-bottom: .25rem; }
h3 { font-size: 1.05rem; margin: 1rem 0 .4rem; }
p.muted, .muted { color: var(--muted); }
footer { max-width: 72rem; margin: 2rem auto 1rem; padding: 0 1.25rem; color: var(--muted); font-size: .875rem; }
.notice { padding: .7rem 1rem; border-radius: .3rem; margin: 0 0 1rem; border: 2px solid; }
.notice.ok { border-color: var(--ok); background: #f0fdf4; color: #14532d; }
.notice.error { border-color: var(--danger); background: #fef2f2; color: #7f1d1d; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(11rem, 1fr)); gap: .75rem; margin: 0 0 1rem; padding: 0; list-style: none; }
.cards li { background: var(--panel); border: 1px solid var(--line); border-radius: .4rem; padding: .75rem 1rem; }
.cards .n { display: block; font-size: 1.7rem; font-weight: 700; line-height: 1.2; }
.cards .l { color: var(--muted); font-size: .9rem; }
table { border-collapse: collapse; width: 100%; margin: .25rem 0 1rem; font-size: .95rem; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; }
th, td { text-align: left; vertical-align: top; padding: .45rem .6rem; border-bottom: 1px solid var(--line); }
thead th { background: var(--panel); border-bottom: 2px solid #9ca3af; white-space: nowrap; }
td time { white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.hash, code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .85rem; overflow-wrap: anywhere; }
.table-wrap { overflow-x: auto; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1.25rem; margin: 0 0 1rem; }
dl.facts dt { font-weight: 600; color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.badge { display: inline-block; padding: .05rem .5rem; border-radius: 1rem; border: 1px solid; font-size: .85rem; font-weight: 600; white-space: nowrap; }
.badge.new { color: #1e3a8a; background: #eff6ff; }
.badge.confirmed { color: var(--warn); background: #fffbeb; }
.badge.reported { color: #581c87; background: #faf5ff; }
.badge.dismissed { color: #374151; background: #f9fafb; }
.badge.ok { color: var(--ok); background: #f0fdf4; }
.badge.bad { color: var(--danger); background: #fef2f2; }
form.inline { display: inline; }
.panel h2 { margin-top: 0; }
.nowrap { white-space: nowrap; }
.panel { border: 1px solid var(--line); border-radius: .4rem; padding: 1rem; margin: 0 0 1rem; background: #fff; }
.actions { display: grid; grid-template-columns: repeat(auto-fit, minmax(18rem, 1fr)); gap: 1rem; }
.actions form { border: 1px solid var(--line); border-radius: .4rem; padding: 1rem; background: var(--panel); }
fieldset { border: 1px solid var(--line); border-radius: .4rem; padding: .75rem 1rem; margin: 0 0 1rem; }
legend { font-weight: 600; padding: 0 .25rem; }
label { display: block; font-weight: 600; margin: .4rem 0 .2rem; }
label.check { display: flex; gap: .5rem; align-items: flex-start; font-weight: 400; }
label.check input { margin-top: .3rem; }
input[type="text"], input[type="password"], input[type="date"], input[type="search"], select, textarea {
  width: 100%; max-width: 32rem; font: inherit; padding: .4rem .5rem; border: 1px solid #6b7280; border-radius: .3rem; background: #fff; color: var(--ink); }
textarea { min-height: 4.5rem; }
.hint { color: var(--muted); font-size: .875rem; margin: .15rem 0 .4rem; }
button, .button { display: inline-block; font: inherit; font-weight: 600; padding: .45rem 1rem; margin-top: .6rem; border-radius: .3rem;
  border: 1px solid var(--accent); background: var(--accent); color: var(--accent-ink); cursor: pointer; text-decoration: none; }
button.secondary, .button.secondary { background: #fff; color: var(--accent); }
button.danger { background: var(--danger); border-color: var(--danger); }
button:hover { filter: brightness(.92); }
.filters { display: flex; flex-wrap: wrap; gap: .25rem 1rem; align-items: flex-end; }
.filters > div { min-width: 10rem; }
.filters button { margin-bottom: .1rem; }
.pager { display: flex; gap: 1rem; align-items: center; }
.evidence { display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-start; }
.evidence img { max-width: 100%; height: auto; border: 1px solid var(--line); background: var(--panel); }
.login { max-width: 24rem; margin: 2rem 0; }
.login input { max-width: none; }
@media (max-width: 40rem) { dl.facts { grid-template-columns: 1fr; } header.top { padding: .5rem; } }
`;
