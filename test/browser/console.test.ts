/**
 * End-to-end tests of the review console in a real browser: playwright-core driving Debian's
 * Chromium against a real hashgate instance, whose incidents come from uploads blocked by the
 * middleware. Screenshots of the main pages are written to `$TMPDIR/hashgate-console-screenshots`.
 */

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page, Response as PwResponse } from 'playwright-core';
import sharp from 'sharp';
import request from 'supertest';
import { CONSOLE_CSP } from '../../src/console';
import type { IncidentStore } from '../../src/incidents/store';
import { type ConsoleBed, makeConsoleBed, PASSWORDS, type UserName } from '../integration/console/helpers';

/** The browser globals the page functions below use (the project compiles without the DOM lib). */
interface DomElement {
  matches(selector: string): boolean;
  readonly attributes: ArrayLike<{ readonly name: string; readonly value: string }>;
}
declare const document: {
  readonly activeElement: DomElement | null;
  querySelector(selector: string): DomElement | null;
  querySelectorAll(selector: string): Iterable<DomElement>;
};
declare function getComputedStyle(element: DomElement): { readonly backgroundColor: string };

const CHROMIUM = process.env.HASHGATE_CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOTS = join(tmpdir(), 'hashgate-console-screenshots');
const IDLE_MS = 5 * 60_000;

function whyNotRunnable(): string | undefined {
  try {
    require.resolve('playwright-core');
  } catch {
    return 'playwright-core is not installed (it is a dev dependency: npm install)';
  }
  if (!existsSync(CHROMIUM))
    return `no Chromium at ${CHROMIUM} (apt-get install chromium, or set HASHGATE_CHROMIUM)`;
  return undefined;
}

const missing = whyNotRunnable();

if (missing) {
  describe('the console in a browser', () => {
    it('cannot run here', () => {
      const reason = `Browser tests of the console did not run: ${missing}`;
      if (process.env.CI === 'true') throw new Error(reason);
      console.warn(reason);
    });
  });
} else {
  describe('the console in a browser', () => {
    jest.setTimeout(120_000);
    let bed: ConsoleBed;
    let store: IncidentStore;
    let server: Server;
    let origin: string;
    let context: BrowserContext;
    let page: Page;
    let profile: string;
    const cspErrors: string[] = [];

    beforeAll(async () => {
      mkdirSync(SCREENSHOTS, { recursive: true });
      bed = await makeConsoleBed({
        sessionIdleMs: IDLE_MS,
        loginRateLimit: { maxPerUser: 3, maxPerIp: 100, windowMs: 60_000 },
      });
      store = await bed.gate.store();
      server = bed.app.listen(0, '127.0.0.1');
      await new Promise((resolve) => server.once('listening', resolve));
      origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      profile = mkdtempSync(join(tmpdir(), 'hashgate-chromium-'));
      const { chromium } = require('playwright-core') as typeof import('playwright-core');
      context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
        viewport: { width: 1280, height: 900 },
        acceptDownloads: true,
      });
      page = context.pages()[0] ?? (await context.newPage());
      page.on('console', (m) => {
        if (/Content Security Policy|Refused to/i.test(m.text())) cspErrors.push(m.text());
      });
    });

    afterAll(async () => {
      await context?.close();
      await new Promise((resolve) => server?.close(resolve));
      await bed?.close();
      if (profile) rmSync(profile, { recursive: true, force: true });
    });

    beforeEach(async () => {
      await context.clearCookies();
    });

    const url = (path: string): string => `${origin}/console${path}`;

    async function signIn(user: UserName, password: string = PASSWORDS[user]): Promise<PwResponse | null> {
      await page.goto(url('/login'));
      await page.fill('#user', user);
      await page.fill('#password', password);
      const [res] = await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);
      return res;
    }

    async function submit(selector: string): Promise<PwResponse | null> {
      const [res] = await Promise.all([page.waitForNavigation(), page.click(selector)]);
      return res;
    }

    async function notice(): Promise<string> {
      return (await page.textContent('.notice')) ?? '';
    }

    it('signs a reviewer in through the form and shows the dashboard', async () => {
      await bed.upload(bed.images.known, 'first.jpg');
      await page.goto(url('/'));
      expect(page.url()).toBe(url('/login'));
      await page.screenshot({ path: join(SCREENSHOTS, 'login.png'), fullPage: true });
      await signIn('reviewer');
      expect(page.url()).toBe(url('/'));
      expect(await page.textContent('h1')).toBe('Dashboard');
      expect(await page.textContent('#count-blocked')).toBe('1');
      expect(await page.locator('table th[scope="row"]').allTextContents()).toEqual(['known', 'hotline']);
      const cookie = (await context.cookies()).find((c) => c.name === 'hashgate_console')!;
      expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/console' });
      expect(cookie.expires).toBeGreaterThan(Date.now() / 1000);
      await page.screenshot({ path: join(SCREENSHOTS, 'dashboard.png'), fullPage: true });
    });

    it('shows a viewer an incident without any action or evidence, and refuses a forged action', async () => {
      const id = await bed.upload(bed.images.known, 'viewer.jpg');
      await signIn('viewer');
      await page.goto(url(`/incidents/${id}`));
      for (const sel of [
        '#confirm',
        '#dismiss',
        '#report',
        '#view-evidence',
        '#download-package',
        '#set-hold',
      ]) {
        expect(await page.locator(sel).count()).toBe(0);
      }
      expect(await page.textContent('main')).toContain('Acting on it needs the reviewer role.');
      const csrf = await page.getAttribute('form[action$="/logout"] input[name="_csrf"]', 'value');
      const forged = await page.request.post(url(`/incidents/${id}/dismiss`), {
        form: { _csrf: csrf!, reason: 'not allowed', allowlist: 'yes' },
        maxRedirects: 0,
      });
      expect(forged.status()).toBe(403);
      expect((await store.getIncident(id))!.state).toBe('new');
    });

    it('takes a blocked upload through a blurred view, unblur, confirm, report and an export that contains it', async () => {
      const id = await bed.upload(bed.images.known, 'holiday.jpg');
      await signIn('reviewer');
      await page.goto(url('/incidents?state=new'));
      await page.screenshot({ path: join(SCREENSHOTS, 'incidents.png'), fullPage: true });
      await Promise.all([page.waitForNavigation(), page.click(`a[href="/console/incidents/${id}"]`)]);
      expect(await page.locator('#evidence-image').count()).toBe(0);
      expect(await page.locator('#confirm').count()).toBe(0); // a perceptual list that is not verified: view first

      const blurredResponse = page.waitForResponse((r) => r.url().includes('/evidence/image/'));
      await submit('#view-evidence');
      const blurred = await (await blurredResponse).body();
      expect((await blurredResponse).headers()['cache-control']).toBe('no-store, private');
      expect((await sharp(blurred).metadata()).channels).toBe(1);
      expect(blurred.equals(bed.images.known)).toBe(false);
      await page.locator('#evidence-image').scrollIntoViewIfNeeded();
      expect(
        await page
          .locator('#evidence-image')
          .evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth),
      ).toBeGreaterThan(0);
      expect(await page.textContent('#my-views')).toBe('1');
      await page.screenshot({ path: join(SCREENSHOTS, 'incident-blurred.png'), fullPage: true });

      const clearResponse = page.waitForResponse((r) => r.url().includes('/evidence/image/'));
      await submit('#unblur-evidence');
      expect((await sharp(await (await clearResponse).body()).metadata()).channels).toBe(3);
      expect(await page.textContent('#my-views')).toBe('2');
      const views = (await store.readAudit({ limit: 10_000 })).filter(
        (r) => r.type === 'evidence.viewed' && r.incidentId === id,
      );
      expect(views.map((r) => [r.actor, r.details.presentation])).toEqual([
        ['console:reviewer', 'blurred-greyscale'],
        ['console:reviewer', 'unblurred'],
      ]);

      await page.fill('#confirm-reason', 'Matches the listed image.');
      await submit('#confirm');
      expect(await notice()).toBe('Confirmed.');
      await page.fill('#report-reference', 'HOTLINE-2025-0042');
      await page.fill('#report-reason', 'Reported through the hotline portal.');
      await submit('#report');
      expect(await notice()).toMatch(/^Marked reported\. The evidence is held until \d{4}-\d{2}-\d{2}\.$/);
      expect(await page.textContent('main')).toContain('HOTLINE-2025-0042');
      await page.screenshot({ path: join(SCREENSHOTS, 'incident.png'), fullPage: true });

      await page.goto(url('/exports'));
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-incidents')]);
      const csv = readFileSync((await download.path())!, 'utf8');
      const row = csv.split('\r\n').find((l) => l.startsWith(`"${id}"`))!;
      expect(row).toContain('"reported"');
      expect(row).toContain('"HOTLINE-2025-0042"');
      expect((await store.readAudit({ limit: 10_000 })).some((r) => r.type === 'export.incidents')).toBe(
        true,
      );
    });

    it('confirms an exact match on a list marked verified without anyone viewing the file', async () => {
      const id = await bed.upload(bed.images.verified, 'verified.jpg');
      await signIn('reviewer');
      await page.goto(url(`/incidents/${id}`));
      await page.fill('#confirm-reason', 'Exact match on the verified hotline list.');
      await submit('#confirm');
      expect(await notice()).toBe('Confirmed.');
      expect(await page.textContent('#viewed-by-person')).toBe('no');
      expect((await store.getIncident(id))!.evidenceViewed).toBe(false);
    });

    it('dismisses a false positive with an allowlist entry, and the same upload passes afterwards', async () => {
      const id = await bed.upload(bed.images.knownOther, 'false-positive.png');
      await signIn('reviewer');
      await page.goto(url(`/incidents/${id}`));
      await page.fill('#dismiss-reason', 'A harmless picture that only looks alike.');
      await page.check('#dismiss-allowlist');
      await submit('#dismiss');
      expect(await notice()).toContain('on the allowlist');
      await request(bed.app).post('/memory').attach('file', bed.images.knownOther, 'again.png').expect(200);
      await page.goto(url('/allowlist'));
      expect(await page.locator(`a[href="/console/incidents/${id}"]`).count()).toBe(2);
    });

    it('refuses a form whose CSRF token is missing', async () => {
      const id = await bed.upload(bed.images.known, 'csrf.jpg');
      await signIn('reviewer');
      await page.goto(url(`/incidents/${id}`));
      await page.locator('form[action$="/dismiss"] input[name="_csrf"]').evaluate((input) => input.remove());
      await page.fill('#dismiss-reason', 'Should not be accepted.');
      const res = await submit('#dismiss');
      expect(res!.status()).toBe(403);
      expect(await page.textContent('h1')).toBe('Form refused');
      expect((await store.getIncident(id))!.state).toBe('new');
    });

    it('ends a session that sat idle: the next click lands on the sign-in form', async () => {
      await signIn('viewer');
      await page.goto(url('/incidents'));
      bed.clock.offsetMs += IDLE_MS + 1000;
      await Promise.all([page.waitForNavigation(), page.click('nav a[href="/console/audit"]')]);
      expect(page.url()).toBe(url('/login?next=%2Faudit'));
      await signIn('viewer');
    });

    it('refuses sign-ins after repeated wrong passwords, even the right one', async () => {
      for (let i = 0; i < 3; i++) {
        const res = await signIn('admin', 'not-the-password!');
        expect(res!.status()).toBe(401);
        expect(await page.textContent('.notice')).toBe('Wrong user name or password.');
      }
      const res = await signIn('admin');
      expect(res!.status()).toBe(429);
      expect(await page.textContent('.notice')).toMatch(
        /^Too many failed sign-ins\. Try again in 1 minute\.$/,
      );
      bed.clock.offsetMs += 61_000;
      expect((await signIn('admin'))!.status()).toBe(200);
      expect(page.url()).toBe(url('/'));
    });

    it('sends the strict Content-Security-Policy and runs no inline script on any page', async () => {
      const id = await bed.upload(bed.images.known, 'csp.jpg');
      const login = await page.goto(url('/login'));
      const pages = [login];
      await signIn('admin');
      for (const path of [
        '/',
        '/incidents',
        `/incidents/${id}`,
        '/exports',
        '/audit',
        '/allowlist?status=all',
        '/users',
        '/account',
        '/missing',
      ]) {
        pages.push(await page.goto(url(path)));
        expect(await page.locator('script').count()).toBe(0);
        const handlers = await page.evaluate(() =>
          [...document.querySelectorAll('*')].flatMap((el) =>
            Array.from(el.attributes)
              .filter((a) => /^on/i.test(a.name) || /^\s*javascript:/i.test(a.value))
              .map((a) => a.name),
          ),
        );
        expect(handlers).toEqual([]);
        // the stylesheet loaded under the policy
        expect(
          await page.evaluate(() => getComputedStyle(document.querySelector('header.top')!).backgroundColor),
        ).toBe('rgb(17, 24, 39)');
      }
      for (const res of pages) expect(res!.headers()['content-security-policy']).toBe(CONSOLE_CSP);
      await page.goto(url('/audit'));
      expect(await page.textContent('#audit-verification')).toMatch(/^The chain verifies/);
      await page.screenshot({ path: join(SCREENSHOTS, 'audit.png'), fullPage: true });
      expect(cspErrors).toEqual([]);
    });

    it('works the main flow with the keyboard alone', async () => {
      const id = await bed.upload(bed.images.rotatedMirrored, 'keyboard.jpg');
      const focusIs = (selector: string) =>
        page.evaluate((sel) => document.activeElement?.matches(sel) ?? false, selector);
      const tabTo = async (selector: string): Promise<void> => {
        for (let i = 0; i < 80; i++) {
          await page.keyboard.press('Tab');
          if (await focusIs(selector)) return;
        }
        throw new Error(`Tab never reached ${selector}`);
      };
      const enter = async (): Promise<void> => {
        await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
      };

      await page.goto(url('/login'));
      // The form takes focus on arrival. Chromium applies `autofocus` at a rendering update after
      // the load event, which a busy machine can delay past `goto`: wait for it, up to 5 s.
      await page
        .waitForFunction(() => document.activeElement?.matches('#user') ?? false, undefined, {
          timeout: 5_000,
        })
        .catch(() => undefined);
      expect(await focusIs('#user')).toBe(true);
      await page.keyboard.type('reviewer');
      await tabTo('#password');
      await page.keyboard.type(PASSWORDS.reviewer);
      await enter();
      expect(page.url()).toBe(url('/'));

      await page.keyboard.press('Tab');
      expect(await focusIs('a.skip')).toBe(true); // the first stop skips to the content
      await tabTo('nav a[href="/console/incidents"]');
      await enter();
      await tabTo(`a[href="/console/incidents/${id}"]`);
      await enter();
      await tabTo('#view-evidence');
      await enter();
      expect(await page.locator('#evidence-image').count()).toBe(1);
      await tabTo('#confirm-reason');
      await page.keyboard.type('Checked by keyboard.');
      await tabTo('#confirm');
      await enter();
      expect(await notice()).toBe('Confirmed.');
      expect((await store.getIncident(id))!.state).toBe('confirmed');
    });
  });
}
