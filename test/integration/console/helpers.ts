/**
 * A real hashgate instance over local lists with benign synthetic images, an Express app with
 * real multer upload routes (from the middleware test bed) and the console mounted at /console,
 * plus helpers to sign in and to create incidents by uploading through a real route.
 */

import { join } from 'node:path';
import request from 'supertest';
import { type ConsoleOptions, createConsole, hashConsolePassword } from '../../../src/console';
import type { HashgateOptions } from '../../../src/options';
import { syntheticImage } from '../../helpers/images';
import { type Images, listLines, makeImages, makeTestBed, type TestBed } from '../middleware/helpers';

/** The built-in users of the test console and their passwords. */
export const PASSWORDS = {
  admin: 'admin-password-1234',
  reviewer: 'reviewer-password-1234',
  reviewer2: 'second-reviewer-pw-1234',
  viewer: 'viewer-password-1234',
} as const;

export type UserName = keyof typeof PASSWORDS;

/** A controllable clock for the console (sessions, rate limits). */
export interface Clock {
  offsetMs: number;
  now(): number;
}

export interface ConsoleImages extends Images {
  /** On the `hotline` list (verified) by MD5 only: an exact match on a verified list. */
  verified: Buffer;
}

export interface ConsoleBed extends TestBed {
  images: ConsoleImages;
  clock: Clock;
  /** Uploads through the real `/memory` route; resolves with the incident id of a blocked upload. */
  upload(image: Buffer, name: string, route?: string): Promise<string>;
}

let cachedHashes: Promise<Record<UserName, string>> | undefined;

/** scrypt hashes of the test users (computed once per test file). */
export function userHashes(): Promise<Record<UserName, string>> {
  cachedHashes ??= (async () => {
    const out = {} as Record<UserName, string>;
    for (const name of Object.keys(PASSWORDS) as UserName[])
      out[name] = await hashConsolePassword(PASSWORDS[name]);
    return out;
  })();
  return cachedHashes;
}

/** The test bed with a console at /console. */
export async function makeConsoleBed(
  consoleOptions: Partial<ConsoleOptions> = {},
  gateOptions: Partial<HashgateOptions> = {},
): Promise<ConsoleBed> {
  const base = await makeImages();
  const images: ConsoleImages = { ...base, verified: await syntheticImage(500, 375, 'jpeg', 53) };
  const known = await listLines([images.known, images.knownOther]);
  const hotline = await listLines([images.verified], ['md5']);
  const bed = await makeTestBed(
    (dir) => [
      { name: 'known', file: join(dir, 'known.txt'), format: 'threatexchange' },
      { name: 'hotline', file: join(dir, 'hotline.txt'), format: 'threatexchange', verified: true },
    ],
    gateOptions,
    { known, hotline },
  );
  await bed.gate.ready();
  const clock: Clock = {
    offsetMs: 0,
    now() {
      return Date.now() + this.offsetMs;
    },
  };
  const hashes = await userHashes();
  bed.app.use(
    '/console',
    createConsole(bed.gate, {
      users: (Object.keys(PASSWORDS) as UserName[])
        .filter((n) => n !== 'reviewer2')
        .map((name) => ({
          name,
          role: name === 'admin' ? 'admin' : name === 'viewer' ? 'viewer' : 'reviewer',
          passwordHash: hashes[name],
        })),
      now: () => clock.now(),
      ...consoleOptions,
    }),
  );
  return {
    ...bed,
    images,
    clock,
    async upload(image, name, route = '/memory') {
      const res = await request(bed.app).post(route).attach('file', image, name);
      if (res.status !== 451) throw new Error(`expected the upload to be blocked, got ${res.status}`);
      return res.body.error.reference as string;
    },
  };
}

/** The value of the first hidden input of this name in a page. */
export function hiddenValue(page: string, name: string): string {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(page);
  if (!m) throw new Error(`no ${name} field on the page`);
  return m[1]!;
}

/** A signed-in supertest agent and its session's CSRF token. */
export interface SignedIn {
  agent: ReturnType<typeof request.agent>;
  csrf: string;
}

/** Signs in through the login form. */
export async function signIn(bed: TestBed, user: string, password: string): Promise<SignedIn> {
  const agent = request.agent(bed.app);
  const form = await agent.get('/console/login').expect(200);
  await agent
    .post('/console/login')
    .type('form')
    .send({ user, password, _login: hiddenValue(form.text, '_login') })
    .expect(303);
  const home = await agent.get('/console/').expect(200);
  return { agent, csrf: hiddenValue(home.text, '_csrf') };
}

/** Signs in one of the test users. */
export function signInAs(bed: TestBed, user: UserName): Promise<SignedIn> {
  return signIn(bed, user, PASSWORDS[user]);
}

export { listLines };
