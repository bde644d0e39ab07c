/**
 * Owns HTML output for the console: the `html` tagged template escapes every interpolated value
 * unless it is already {@link SafeHtml} made by `html` itself, so no page can emit uploader- or
 * reviewer-controlled text unescaped.
 */

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

/** Escapes text for an HTML element body or a quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => ESCAPES[c] ?? c);
}

/** A fragment of HTML that is safe to emit: only `html` creates one. */
export class SafeHtml {
  readonly #value: string;

  /** @internal use `html` */
  constructor(value: string, token: symbol) {
    if (token !== MINT) throw new TypeError('SafeHtml is created by the html template only');
    this.#value = value;
  }

  toString(): string {
    return this.#value;
  }
}

const MINT = Symbol('SafeHtml');

/**
 * A value the template accepts: text and numbers are escaped, `null`, `undefined` and booleans
 * render nothing (so `${cond && html`...`}` works), arrays are concatenated item by item.
 */
export type HtmlValue =
  | SafeHtml
  | string
  | number
  | bigint
  | boolean
  | null
  | undefined
  | readonly HtmlValue[];

function render(value: HtmlValue): string {
  if (value instanceof SafeHtml) return value.toString();
  if (value === null || value === undefined || typeof value === 'boolean') return '';
  if (Array.isArray(value)) return value.map((v: HtmlValue) => render(v)).join('');
  return escapeHtml(String(value));
}

/**
 * Tagged template for HTML: every interpolation is escaped unless it is {@link SafeHtml}.
 *
 * @example
 * html`<td>${incident.file.originalName}</td>` // `<script>` in the name renders as `&lt;script&gt;`
 */
export function html(strings: TemplateStringsArray, ...values: readonly HtmlValue[]): SafeHtml {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += render(values[i]) + (strings[i + 1] ?? '');
  return new SafeHtml(out, MINT);
}

/** Joins fragments with a separator (escaped like any other text). */
export function joinHtml(items: readonly HtmlValue[], separator: string): SafeHtml {
  const parts: HtmlValue[] = [];
  items.forEach((item, i) => {
    if (i > 0) parts.push(separator);
    parts.push(item);
  });
  return html`${parts}`;
}
