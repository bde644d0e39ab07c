/**
 * Owns delivery of the outbox to webhook endpoints: claim due events with a lease, POST each one
 * signed to every endpoint that has not acknowledged it, and reschedule failures with exponential
 * backoff. Events live in the store, so delivery resumes after a restart and nothing is dropped
 * while a receiver is down; several instances can run dispatchers against one PostgreSQL store.
 */

import { randomBytes } from 'node:crypto';
import { invalidOption } from '../errors';
import { booleanOption, integerOption, objectOption, rejectUnknownKeys } from '../validate';
import type { IncidentStore } from './store';
import type { OutboxEvent } from './types';
import { signWebhook, WEBHOOK_HEADERS } from './webhooks';

/** The subset of `fetch` the dispatcher uses (inject one in tests). */
export type WebhookFetch = (
  url: string,
  init: { method: string; headers: Record<string, string>; body: string; signal: AbortSignal },
) => Promise<{ status: number; body?: { cancel(): Promise<void> } | null }>;

/** Timer functions (inject fakes in tests). */
export interface DispatcherTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** One webhook receiver. */
export interface WebhookEndpoint {
  /** Stable name, recorded per event once it acknowledged the event. @default the URL */
  name?: string;
  /** `https://` URL (`http://` only for loopback hosts unless `allowInsecureHttp`). */
  url: string;
  /** Shared secret for the HMAC-SHA256 signature, at least 16 characters. */
  secret: string;
}

/** Options of {@link createWebhookDispatcher}. */
export interface WebhookDispatcherOptions {
  store: IncidentStore;
  endpoints: readonly WebhookEndpoint[];
  /** @default globalThis.fetch */
  fetch?: WebhookFetch;
  /** Clock in ms. @default Date.now */
  now?: () => number;
  /** @default the global setTimeout / clearTimeout */
  timers?: DispatcherTimers;
  /** Random number in [0, 1) for backoff jitter. @default Math.random */
  random?: () => number;
  /** Lease owner name; unique per dispatcher. @default a random name */
  owner?: string;
  /** Wait between polls when the outbox is empty, in ms. @default 1000 */
  pollIntervalMs?: number;
  /** Events claimed per round. @default 50 */
  batchSize?: number;
  /** How long a claimed event stays leased; after a crash another dispatcher takes it over after this, in ms. @default 60_000 */
  leaseMs?: number;
  /** Time limit of one POST, in ms. @default 10_000 */
  requestTimeoutMs?: number;
  /** First retry delay, in ms; doubles per failed round. @default 1000 */
  retryInitialMs?: number;
  /** Longest retry delay, in ms. Events are never given up. @default 3_600_000 */
  retryMaxMs?: number;
  /** Allow `http://` URLs for hosts that are not loopback. @default false */
  allowInsecureHttp?: boolean;
  /** Called when a delivery round or a poll fails (no payloads or secrets in the info). */
  onError?: (info: { readonly eventId?: string; readonly endpoint?: string; readonly error: string }) => void;
}

/** What one delivery round did. */
export interface DispatchReport {
  /** Events claimed. */
  readonly claimed: number;
  /** Events every endpoint has now acknowledged. */
  readonly delivered: number;
  /** Events rescheduled for another round. */
  readonly retried: number;
}

/** Delivers the outbox. */
export interface WebhookDispatcher {
  /** Starts polling. */
  start(): void;
  /** Stops polling and waits for the round in flight. */
  stop(): Promise<void>;
  /** Runs one delivery round now (also what the poller runs). */
  runOnce(): Promise<DispatchReport>;
  /** Asks a started dispatcher to poll now (call after creating an incident). */
  notify(): void;
}

interface Endpoint {
  readonly name: string;
  readonly url: string;
  readonly secret: string;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

function parseEndpoints(value: unknown, allowInsecureHttp: boolean): Endpoint[] {
  if (!Array.isArray(value)) throw invalidOption('webhooks.endpoints', 'an array of { url, secret }', value);
  const names = new Set<string>();
  return value.map((e: unknown, i) => {
    const o = objectOption(`webhooks.endpoints[${i}]`, e);
    rejectUnknownKeys(`webhooks.endpoints[${i}]`, o, ['name', 'url', 'secret']);
    let url: URL;
    try {
      url = new URL(String(o.url));
    } catch {
      throw invalidOption(`webhooks.endpoints[${i}].url`, 'an absolute https:// URL', o.url);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw invalidOption(`webhooks.endpoints[${i}].url`, 'an https:// URL', url.protocol);
    }
    if (url.protocol === 'http:' && !LOOPBACK.has(url.hostname) && !allowInsecureHttp) {
      throw invalidOption(
        `webhooks.endpoints[${i}].url`,
        'an https:// URL',
        'an http:// URL',
        'Use https, or set `allowInsecureHttp` for a trusted network',
      );
    }
    if (typeof o.secret !== 'string' || o.secret.length < 16) {
      throw invalidOption(
        `webhooks.endpoints[${i}].secret`,
        'a secret of at least 16 characters',
        '(not shown)',
      );
    }
    const name = o.name === undefined ? url.href : o.name;
    if (typeof name !== 'string' || name.length === 0 || name.length > 200) {
      throw invalidOption(`webhooks.endpoints[${i}].name`, 'a non-empty name', o.name);
    }
    if (names.has(name))
      throw invalidOption(`webhooks.endpoints[${i}].name`, 'a name no other endpoint has', name);
    names.add(name);
    return { name, url: url.href, secret: o.secret };
  });
}

function errorCodeOf(err: unknown): string {
  const e = err as { name?: string; code?: string; cause?: { code?: string } } | null;
  if (e?.name === 'AbortError') return 'timeout';
  return e?.cause?.code ?? e?.code ?? 'network error';
}

/**
 * Creates the webhook dispatcher. Each event is POSTed as JSON with headers `Hashgate-Timestamp`,
 * `Hashgate-Signature` (`v1=` HMAC-SHA256 of `<timestamp>.<body>`), `Hashgate-Event` and
 * `Idempotency-Key` (the event id, the same on every retry). A 2xx answer acknowledges the event
 * for that endpoint; anything else is retried with exponential backoff, for ever.
 *
 * @example
 * const dispatcher = createWebhookDispatcher({
 *   store,
 *   endpoints: [{ url: 'https://tns.example/hooks/hashgate', secret: process.env.HASHGATE_WEBHOOK_SECRET! }],
 * });
 * dispatcher.start();
 */
export function createWebhookDispatcher(options: WebhookDispatcherOptions): WebhookDispatcher {
  const o = objectOption('webhooks', options);
  rejectUnknownKeys('webhooks', o, [
    'store',
    'endpoints',
    'fetch',
    'now',
    'timers',
    'random',
    'owner',
    'pollIntervalMs',
    'batchSize',
    'leaseMs',
    'requestTimeoutMs',
    'retryInitialMs',
    'retryMaxMs',
    'allowInsecureHttp',
    'onError',
  ]);
  if (
    typeof o.store !== 'object' ||
    o.store === null ||
    typeof (o.store as IncidentStore).claimOutbox !== 'function'
  ) {
    throw invalidOption('webhooks.store', 'an IncidentStore', o.store);
  }
  for (const fn of ['fetch', 'now', 'random', 'onError'] as const) {
    if (o[fn] !== undefined && typeof o[fn] !== 'function')
      throw invalidOption(`webhooks.${fn}`, 'a function', o[fn]);
  }
  const config = Object.freeze({
    endpoints: parseEndpoints(
      o.endpoints,
      booleanOption('webhooks.allowInsecureHttp', o.allowInsecureHttp, false),
    ),
    pollIntervalMs: integerOption('webhooks.pollIntervalMs', o.pollIntervalMs, 1000, 1),
    batchSize: integerOption('webhooks.batchSize', o.batchSize, 50, 1, 1000),
    leaseMs: integerOption('webhooks.leaseMs', o.leaseMs, 60_000, 1000),
    requestTimeoutMs: integerOption('webhooks.requestTimeoutMs', o.requestTimeoutMs, 10_000, 1),
    retryInitialMs: integerOption('webhooks.retryInitialMs', o.retryInitialMs, 1000, 1),
    retryMaxMs: integerOption('webhooks.retryMaxMs', o.retryMaxMs, 3_600_000, 1),
    owner:
      typeof o.owner === 'string' && o.owner.length > 0
        ? o.owner
        : `dispatcher-${randomBytes(6).toString('hex')}`,
  });
  const store = options.store;
  const doFetch: WebhookFetch = options.fetch ?? (globalThis.fetch as unknown as WebhookFetch);
  const now = options.now ?? Date.now;
  const timers: DispatcherTimers = options.timers ?? {
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  };
  const random = options.random ?? Math.random;
  const onError = options.onError ?? (() => undefined);

  async function post(endpoint: Endpoint, event: OutboxEvent, body: string): Promise<string | null> {
    const timestamp = Math.floor(now() / 1000);
    const controller = new AbortController();
    const timer = timers.setTimeout(() => controller.abort(), config.requestTimeoutMs);
    try {
      const res = await doFetch(endpoint.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'hashgate-webhooks/1',
          [WEBHOOK_HEADERS.timestamp]: String(timestamp),
          [WEBHOOK_HEADERS.signature]: signWebhook(endpoint.secret, timestamp, body),
          [WEBHOOK_HEADERS.idempotencyKey]: event.id,
          [WEBHOOK_HEADERS.event]: event.type,
        },
        body,
        signal: controller.signal,
      });
      await res.body?.cancel().catch(() => undefined);
      return res.status >= 200 && res.status < 300 ? null : `http ${res.status}`;
    } catch (err) {
      return errorCodeOf(err);
    } finally {
      timers.clearTimeout(timer);
    }
  }

  function retryDelay(attempts: number): number {
    const base = Math.min(config.retryMaxMs, config.retryInitialMs * 2 ** Math.min(attempts, 40));
    return Math.round(base / 2 + (random() * base) / 2);
  }

  async function deliver(event: OutboxEvent): Promise<boolean> {
    const body = JSON.stringify(event.payload);
    const pending = config.endpoints.filter((e) => !event.deliveredTo.includes(e.name));
    const results = await Promise.all(pending.map(async (e) => ({ e, error: await post(e, event, body) })));
    const ok = results.filter((r) => r.error === null).map((r) => r.e.name);
    const failed = results.filter((r) => r.error !== null);
    for (const f of failed) onError({ eventId: event.id, endpoint: f.e.name, error: f.error! });
    const done = failed.length === 0;
    await store.settleOutbox(event.id, config.owner, {
      deliveredTo: ok,
      done,
      ...(done
        ? {}
        : {
            nextAttemptAt: now() + retryDelay(event.attempts),
            error: failed.map((f) => f.error).join('; '),
          }),
    });
    return done;
  }

  async function runOnce(): Promise<DispatchReport> {
    const events = await store.claimOutbox({
      owner: config.owner,
      limit: config.batchSize,
      leaseMs: config.leaseMs,
      now: now(),
    });
    let delivered = 0;
    let retried = 0;
    // a few events at a time, so that one slow receiver does not hold up the batch for long
    const queue = [...events];
    const workers = Array.from({ length: Math.min(8, queue.length) }, async () => {
      for (let event = queue.shift(); event; event = queue.shift()) {
        try {
          if (await deliver(event)) delivered++;
          else retried++;
        } catch (err) {
          retried++;
          onError({ eventId: event.id, error: errorCodeOf(err) });
        }
      }
    });
    await Promise.all(workers);
    return { claimed: events.length, delivered, retried };
  }

  let running = false;
  let timer: unknown;
  let inFlight: Promise<void> | null = null;

  function schedule(ms: number): void {
    if (!running) return;
    timers.clearTimeout(timer);
    timer = timers.setTimeout(tick, ms);
  }

  function tick(): void {
    if (!running || inFlight) return;
    inFlight = runOnce().then(
      (report) => {
        inFlight = null;
        schedule(report.claimed === config.batchSize ? 0 : config.pollIntervalMs);
      },
      (err: unknown) => {
        inFlight = null;
        onError({ error: errorCodeOf(err) });
        schedule(config.pollIntervalMs);
      },
    );
  }

  return {
    start() {
      if (running) return;
      running = true;
      schedule(0);
    },
    async stop() {
      running = false;
      timers.clearTimeout(timer);
      await inFlight;
    },
    runOnce,
    notify() {
      if (running && !inFlight) schedule(0);
    },
  };
}
