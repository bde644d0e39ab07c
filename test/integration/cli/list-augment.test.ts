/**
 * `hashgate list build --augment crops` and the entries derived from a list image (its crops and
 * the trimmed content of a framed image): ids derived from the image's own entry, labelled, found
 * by `hashgate check` for a cropped copy, and removed together with their source entry.
 */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import sharp from 'sharp';
import { CHECK_EXIT, runCheck } from '../../../src/cli/check-command';
import { registerListCommands } from '../../../src/cli/list-commands';
import { DEFAULT_CROPS, parseDerivedEntryId } from '../../../src/lists/augment';
import { readPublishedList } from '../../../src/lists/publisher';
import type { ListSnapshot } from '../../../src/snapshot';
import { syntheticImage } from '../../helpers/images';

interface Run {
  out: string;
  err: string;
  exitCode: number;
}

async function hashgate(...args: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const program = new Command('hashgate');
  program.exitOverride();
  program.configureOutput({ writeOut: (s) => out.push(s), writeErr: (s) => err.push(s) });
  registerListCommands(program, { stdout: (s) => out.push(`${s}\n`), stderr: (s) => err.push(`${s}\n`) });
  let exitCode = 0;
  try {
    await program.parseAsync(['node', 'hashgate', ...args]);
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    exitCode = e.exitCode;
  }
  return { out: out.join(''), err: err.join(''), exitCode };
}

async function check(file: string, list: string, key: string): Promise<number> {
  return runCheck(file, { list, key: [key] }, { stdout: () => undefined, stderr: () => undefined });
}

/** Every entry of a snapshot as `{ id, type, labels }`. */
function entries(snapshot: ListSnapshot): { id: string; type: string; labels: readonly string[] }[] {
  const out: { id: string; type: string; labels: readonly string[] }[] = [];
  for (const [type, t] of snapshot.byType) {
    for (let i = 0; i < t.count; i++) out.push({ id: t.ids[i]!, type, labels: t.labels.get(i) ?? [] });
  }
  return out;
}

describe('hashgate list build --augment crops', () => {
  let dir: string;
  let key: string;
  let pub: string;
  const file: Record<string, string> = {};

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hashgate-augment-'));
    key = join(dir, 'k');
    expect((await hashgate('keygen', '--out', key)).exitCode).toBe(0);
    pub = `${key}.pub`;
    const known = await syntheticImage(640, 480, 'jpeg', 21);
    const images: Record<string, Buffer> = {
      known,
      other: await syntheticImage(600, 400, 'png', 8),
      // a re-upload with 15% cut off the top, re-encoded
      cropped: await sharp(known)
        .extract({ left: 0, top: 72, width: 640, height: 408 })
        .jpeg({ quality: 80 })
        .toBuffer(),
      framed: await sharp(await syntheticImage(400, 300, 'png', 13))
        .extend({
          top: 40,
          bottom: 40,
          left: 40,
          right: 40,
          background: { r: 255, g: 255, b: 255, alpha: 1 },
        })
        .png()
        .toBuffer(),
    };
    for (const [name, bytes] of Object.entries(images)) {
      file[name] = join(dir, `${name}.img`);
      writeFileSync(file[name]!, bytes);
    }
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('indexes the PDQ of six crops of each image as entries derived from the image entry, labelled as augmented', async () => {
    const out = join(dir, 'augmented');
    const r = await hashgate(
      'list',
      'build',
      file.known!,
      '--name',
      'own',
      '--out',
      out,
      '--key',
      `${key}.key`,
      '--image-hashes',
      'sha256,pdq,blockhash',
      '--augment',
      'crops',
    );
    expect(r.exitCode).toBe(0);
    expect(r.err).toContain('hashed 1 image; 6 derived entries (trimmed content and crops)');
    expect(r.out).toMatch(/: 9 entries \(/);
    expect(r.out + r.err).not.toMatch(/[0-9a-f]{32,}/);
    const list = await readPublishedList(out);
    const all = entries(list!.snapshot);
    expect(all.filter((e) => e.type === 'blockhash' && parseDerivedEntryId(e.id))).toEqual([]);
    for (const type of ['pdq']) {
      const ofType = all.filter((e) => e.type === type);
      const source = ofType.find((e) => !parseDerivedEntryId(e.id))!;
      expect(source.labels).toEqual([]);
      const derived = ofType.filter((e) => parseDerivedEntryId(e.id));
      expect(derived.map((e) => e.id).sort()).toEqual(
        DEFAULT_CROPS.map((c) => `${source.id}~crop-${c.name}`).sort(),
      );
      for (const e of derived) {
        expect(parseDerivedEntryId(e.id)!.sourceId).toBe(source.id);
        expect(e.labels).toEqual([`augmented:${parseDerivedEntryId(e.id)!.derivation}`]);
      }
    }
  });

  it('lets a cropped copy match the augmented list', async () => {
    expect(await check(file.cropped!, join(dir, 'augmented'), pub)).toBe(CHECK_EXIT.match);
    expect(await check(file.other!, join(dir, 'augmented'), pub)).toBe(CHECK_EXIT.allow);
  });

  it('indexes no crops without --augment, and the cropped copy then goes through', async () => {
    const out = join(dir, 'plain');
    const r = await hashgate(
      'list',
      'build',
      file.known!,
      '--name',
      'own',
      '--out',
      out,
      '--key',
      `${key}.key`,
    );
    expect(r.exitCode).toBe(0);
    const list = await readPublishedList(out);
    expect(entries(list!.snapshot).some((e) => parseDerivedEntryId(e.id))).toBe(false);
    expect(await check(file.cropped!, out, pub)).toBe(CHECK_EXIT.allow);
  });

  it('indexes the trimmed content of a framed list image as an entry derived from the image entry', async () => {
    const out = join(dir, 'framed');
    const r = await hashgate(
      'list',
      'build',
      file.framed!,
      '--name',
      'own',
      '--out',
      out,
      '--key',
      `${key}.key`,
      '--image-hashes',
      'pdq',
    );
    expect(r.exitCode).toBe(0);
    const ids = entries((await readPublishedList(out))!.snapshot);
    expect(ids).toHaveLength(2);
    const derived = ids.find((e) => parseDerivedEntryId(e.id))!;
    expect(derived.id).toBe(`${ids.find((e) => e !== derived)!.id}~trimmed`);
    expect(derived.labels).toEqual(['augmented:trimmed']);
  });

  it('removes the derived entries together with the image entry', async () => {
    const out = join(dir, 'removal');
    const args = ['--key', `${key}.key`, '--image-hashes', 'pdq', '--augment', 'crops'];
    expect(
      (await hashgate('list', 'build', file.known!, file.other!, '--name', 'own', '--out', out, ...args))
        .exitCode,
    ).toBe(0);
    const before = entries((await readPublishedList(out))!.snapshot);
    expect(before).toHaveLength(14);
    const r = await hashgate(
      'list',
      'remove',
      file.known!,
      '--dir',
      out,
      '--key',
      `${key}.key`,
      '--image-hashes',
      'pdq',
    );
    expect(r.exitCode).toBe(0);
    expect(r.out).toContain('7 removed, 7 entries');
    const after = entries((await readPublishedList(out))!.snapshot);
    const sources = new Set(after.map((e) => parseDerivedEntryId(e.id)?.sourceId ?? e.id));
    expect(sources.size).toBe(1);
  });

  it('refuses an unknown --augment value', async () => {
    const r = await hashgate(
      'list',
      'build',
      file.known!,
      '--name',
      'own',
      '--out',
      join(dir, 'bad'),
      '--key',
      `${key}.key`,
      '--augment',
      'rotations',
    );
    expect(r.exitCode).toBe(1);
    expect(r.err).toContain('Unknown --augment value; use none or crops');
  });
});
