import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWebhookDispatcher, type WebhookDispatcher } from '../../../src/incidents/outbox-dispatcher';
import { createSqliteStore } from '../../../src/incidents/sqlite-store';
import type { IncidentStore } from '../../../src/incidents/store';
import { signWebhook, verifyWebhookSignature } from '../../../src/incidents/webhooks';
import { fakeClock, sampleIncident } from './helpers';

const SECRET = 'a-test-secret-of-enough-length';

describe('webhook signatures', () => {
  const now = Date.UTC(2025, 2, 1);
  const ts = String(now / 1000);
  const body = '{"id":"evt_x"}';

  it('verifies a signature made with the secret', () => {
    const signature = signWebhook(SECRET, now / 1000, body);
    expect(signature).toMatch(/^v1=[0-9a-f]{64}$/);
    expect(verifyWebhookSignature({ secret: SECRET, body, timestamp: ts, signature, now })).toBe(true);
    expect(
      verifyWebhookSignature({
        secret: ['old-secret-0123456789', SECRET],
        body,
        timestamp: ts,
        signature,
        now,
      }),
    ).toBe(true);
  });

  it('refuses another secret, another body, an old timestamp or a malformed header', () => {
    const signature = signWebhook(SECRET, now / 1000, body);
    expect(
      verifyWebhookSignature({ secret: 'another-secret-0123456', body, timestamp: ts, signature, now }),
    ).toBe(false);
    expect(verifyWebhookSignature({ secret: SECRET, body: `${body} `, timestamp: ts, signature, now })).toBe(
      false,
    );
    expect(
      verifyWebhookSignature({ secret: SECRET, body, timestamp: ts, signature, now: now + 301_000 }),
    ).toBe(false);
    expect(verifyWebhookSignature({ secret: SECRET, body, timestamp: ts, signature: 'sha256=00', now })).toBe(
      false,
    );
    expect(verifyWebhookSignature({ secret: SECRET, body, timestamp: undefined, signature, now })).toBe(
      false,
    );
  });
});

interface Delivery {
  key: string;
  event: string;
  body: string;
  verified: boolean;
}

/** A receiver on 127.0.0.1 that can answer 503, be stopped and restarted on the same port, and acts on each idempotency key once. */
class Receiver {
  server: Server | null = null;
  port = 0;
  mode: 'ok' | 'unavailable' | 'act-then-fail' = 'ok';
  readonly deliveries: Delivery[] = [];
  readonly acted = new Map<string, number>();

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.#handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server!.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks`;
  }

  async #handle(req: IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    if (this.mode === 'unavailable') {
      res.writeHead(503).end();
      return;
    }
    const key = String(req.headers['idempotency-key']);
    const verified = verifyWebhookSignature({
      secret: SECRET,
      body,
      timestamp: req.headers['hashgate-timestamp'] as string,
      signature: req.headers['hashgate-signature'] as string,
      now: Number(req.headers['hashgate-timestamp']) * 1000,
    });
    this.deliveries.push({ key, event: String(req.headers['hashgate-event']), body, verified });
    // the receiver's side effect, once per idempotency key; a repeat is acknowledged without acting again
    if (verified && !this.acted.has(key)) this.acted.set(key, this.deliveries.length);
    // act-then-fail: the receiver processed the event but the answer is lost (500)
    res.writeHead(this.mode === 'act-then-fail' ? 500 : 204).end();
  }
}

describe('webhook dispatcher', () => {
  let dir: string;
  let store: IncidentStore;
  let receiver: Receiver;
  const clock = fakeClock();
  const dispatchers: WebhookDispatcher[] = [];

  function dispatcher(owner: string): WebhookDispatcher {
    const d = createWebhookDispatcher({
      store,
      endpoints: [{ name: 'tns', url: receiver.url, secret: SECRET }],
      now: clock.now,
      random: () => 0.5,
      owner,
      retryInitialMs: 1000,
      retryMaxMs: 60_000,
      leaseMs: 30_000,
      requestTimeoutMs: 2000,
    });
    dispatchers.push(d);
    return d;
  }

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hashgate-webhooks-'));
    store = await createSqliteStore({ path: join(dir, 'incidents.db'), now: clock.now });
    receiver = new Receiver();
    await receiver.start();
  });

  afterEach(async () => {
    for (const d of dispatchers.splice(0)) await d.stop();
    await receiver.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers every event after the receiver was down, each idempotency key acted on once, every signature valid', async () => {
    const incidents = [];
    for (let k = 0; k < 3; k++) incidents.push(await store.createIncident(sampleIncident()));
    await store.transition(incidents[0]!.id, { to: 'confirmed', actor: 'rev-a', reason: 'yes' });
    const d = dispatcher('one');

    // 1. the receiver answers 503
    receiver.mode = 'unavailable';
    expect(await d.runOnce()).toEqual({ claimed: 4, delivered: 0, retried: 4 });
    // nothing is due again before the backoff
    expect(await d.runOnce()).toEqual({ claimed: 0, delivered: 0, retried: 0 });

    // 2. the receiver is not listening at all
    await receiver.stop();
    clock.advance(1000);
    expect(await d.runOnce()).toMatchObject({ claimed: 4, retried: 4 });
    const [pending] = await store.listOutbox({ pending: true, limit: 1 });
    // refused, or reset on a kept-alive socket the receiver dropped while closing
    expect(pending).toMatchObject({
      attempts: 2,
      lastError: expect.stringMatching(/^(ECONNREFUSED|ECONNRESET|UND_ERR_SOCKET)$/),
    });
    expect(Date.parse(pending!.nextAttemptAt) - clock.now()).toBe(1500); // 2 s backoff with the jitter at 0.5

    // 3. it processes events but its answers are lost, so they come again
    await receiver.start();
    receiver.mode = 'act-then-fail';
    clock.advance(2000);
    expect(await d.runOnce()).toMatchObject({ claimed: 4, retried: 4 });

    // 4. back to normal: everything arrives, duplicates are recognised by their key
    receiver.mode = 'ok';
    clock.advance(60_000);
    expect(await d.runOnce()).toEqual({ claimed: 4, delivered: 4, retried: 0 });
    expect(await store.listOutbox({ pending: true })).toEqual([]);

    const events = await store.listOutbox();
    expect(events).toHaveLength(4);
    expect([...receiver.acted.keys()].sort()).toEqual(events.map((e) => e.id).sort());
    // every event came twice (its first answer was lost) with the same key, and was acted on at its first arrival
    expect(receiver.deliveries).toHaveLength(8);
    for (const e of events) {
      expect(receiver.deliveries.filter((x) => x.key === e.id)).toHaveLength(2);
      expect(receiver.deliveries.findIndex((x) => x.key === e.id) + 1).toBe(receiver.acted.get(e.id));
    }
    expect(receiver.deliveries.every((x) => x.verified)).toBe(true);
    for (const delivery of receiver.deliveries) {
      const body = JSON.parse(delivery.body);
      expect(body.id).toBe(delivery.key);
      expect(body.type).toBe(delivery.event);
      expect(Object.keys(body.incident).sort()).toEqual([
        'action',
        'dryRun',
        'id',
        'lists',
        'previousState',
        'source',
        'state',
      ]);
    }
  });

  it('resumes after a restart: a new dispatcher takes over events a crashed one had leased', async () => {
    await store.createIncident(sampleIncident());
    // the first dispatcher claims and "crashes" before delivering
    const claimed = await store.claimOutbox({
      owner: 'crashed',
      limit: 10,
      leaseMs: 30_000,
      now: clock.now(),
    });
    expect(claimed).toHaveLength(1);
    const d = dispatcher('restarted');
    expect(await d.runOnce()).toMatchObject({ claimed: 0 });
    clock.advance(30_001);
    expect(await d.runOnce()).toEqual({ claimed: 1, delivered: 1, retried: 0 });
    expect(receiver.acted.size).toBe(1);
  });

  it('delivers to each endpoint once even when another endpoint keeps failing', async () => {
    const second = new Receiver();
    await second.start();
    second.mode = 'unavailable';
    const d = createWebhookDispatcher({
      store,
      endpoints: [
        { name: 'up', url: receiver.url, secret: SECRET },
        { name: 'down', url: second.url, secret: SECRET },
      ],
      now: clock.now,
      random: () => 0,
    });
    await store.createIncident(sampleIncident());
    await d.runOnce();
    clock.advance(10_000);
    await d.runOnce();
    expect(receiver.deliveries).toHaveLength(1);
    const [event] = await store.listOutbox();
    expect(event).toMatchObject({ deliveredTo: ['up'], deliveredAt: null, attempts: 2 });
    second.mode = 'ok';
    clock.advance(10_000);
    await d.runOnce();
    expect(second.deliveries).toHaveLength(1);
    expect(receiver.deliveries).toHaveLength(1);
    expect((await store.listOutbox())[0]!.deliveredAt).not.toBeNull();
    await second.stop();
  });

  it('polls on its own once started, with injected timers', async () => {
    const scheduled: (() => void)[] = [];
    const d = createWebhookDispatcher({
      store,
      endpoints: [{ url: receiver.url, secret: SECRET }],
      now: clock.now,
      timers: {
        setTimeout: (fn, ms) => {
          if (ms >= 1000) scheduled.push(fn);
          else setImmediate(fn);
          return scheduled.length;
        },
        clearTimeout: () => undefined,
      },
    });
    dispatchers.push(d);
    await store.createIncident(sampleIncident());
    d.start();
    for (let k = 0; k < 50 && receiver.deliveries.length === 0; k++)
      await new Promise((r) => setTimeout(r, 5));
    expect(receiver.deliveries).toHaveLength(1);
    await d.stop();
  });

  it('refuses bad endpoints in the shared message shape', () => {
    const make = (endpoints: unknown) => () =>
      createWebhookDispatcher({ store, endpoints: endpoints as never });
    expect(make([{ url: 'http://example.com/h', secret: SECRET }])).toThrow(
      "Expected an https:// URL for `webhooks.endpoints[0].url` but received 'an http:// URL'. Use https, or set `allowInsecureHttp` for a trusted network",
    );
    expect(make([{ url: 'https://example.com/h', secret: 'short' }])).toThrow(/at least 16 characters/);
    expect(make([{ url: 'https://example.com/h', secret: SECRET, extra: 1 }])).toThrow(/Check the spelling/);
    expect(make([{ url: 'ftp://x', secret: SECRET }])).toThrow(/https:\/\//);
  });
});
