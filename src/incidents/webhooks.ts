/**
 * Owns the webhook wire format: the headers, the HMAC-SHA256 signature over timestamp and body,
 * and its verification on the receiving side.
 */

import { createHmac, timingSafeEqual } from 'node:crypto';

/** Header names hashgate sends with every webhook (lower case, as Node's HTTP server presents them). */
export const WEBHOOK_HEADERS = Object.freeze({
  /** Unix time in seconds when the request was signed. */
  timestamp: 'hashgate-timestamp',
  /** `v1=<hex HMAC-SHA256 of "<timestamp>.<body>" under the endpoint's secret>`. */
  signature: 'hashgate-signature',
  /** The event id: the same on every retry of the event; act on each key once. */
  idempotencyKey: 'idempotency-key',
  /** The event type, e.g. `incident.created`. */
  event: 'hashgate-event',
});

/** The `Hashgate-Signature` value for a body signed at `timestampSeconds`. */
export function signWebhook(secret: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${timestampSeconds}.${body}`, 'utf8').digest('hex');
  return `v1=${mac}`;
}

/** What a receiver passes to {@link verifyWebhookSignature}. */
export interface WebhookVerification {
  /** The endpoint's shared secret (several during a rotation: any one may verify). */
  readonly secret: string | readonly string[];
  /** The raw request body, exactly as received. */
  readonly body: string | Buffer;
  /** The `Hashgate-Timestamp` header. */
  readonly timestamp: string | undefined;
  /** The `Hashgate-Signature` header. */
  readonly signature: string | undefined;
  /** The receiver's clock in ms. @default Date.now() */
  readonly now?: number;
  /** Largest accepted age (or clock skew) of a request, in ms; refuses replays of old requests. @default 300_000 */
  readonly toleranceMs?: number;
}

/**
 * True when the request was signed by a holder of the secret within the tolerance. Compares in
 * constant time.
 *
 * @example
 * const ok = verifyWebhookSignature({
 *   secret: process.env.HASHGATE_WEBHOOK_SECRET!,
 *   body: rawBody,
 *   timestamp: req.headers['hashgate-timestamp'] as string,
 *   signature: req.headers['hashgate-signature'] as string,
 * });
 */
export function verifyWebhookSignature(v: WebhookVerification): boolean {
  if (typeof v.timestamp !== 'string' || typeof v.signature !== 'string') return false;
  if (!/^\d{1,12}$/.test(v.timestamp)) return false;
  const ts = Number(v.timestamp);
  const now = v.now ?? Date.now();
  if (Math.abs(now - ts * 1000) > (v.toleranceMs ?? 300_000)) return false;
  const m = /^v1=([0-9a-f]{64})$/.exec(v.signature.trim());
  if (!m) return false;
  const given = Buffer.from(m[1]!, 'hex');
  const body = typeof v.body === 'string' ? v.body : v.body.toString('utf8');
  const secrets = typeof v.secret === 'string' ? [v.secret] : v.secret;
  let ok = false;
  for (const secret of secrets) {
    const expected = Buffer.from(signWebhook(secret, ts, body).slice(3), 'hex');
    if (timingSafeEqual(expected, given)) ok = true;
  }
  return ok;
}
