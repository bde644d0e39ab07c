import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { type AddressInfo, connect } from 'node:net';
import { join } from 'node:path';
import multer from 'multer';
import request from 'supertest';
import { type Images, listLines, makeImages, makeTestBed, type TestBed } from './helpers';

let images: Images;
beforeAll(async () => {
  images = await makeImages();
});

describe('gate.middleware() over a block list', () => {
  let bed: TestBed;
  beforeAll(async () => {
    const known = await listLines([images.known, images.knownOther]);
    bed = await makeTestBed(
      (dir) => [{ name: 'known', file: join(dir, 'known.txt'), format: 'threatexchange' }],
      {},
      { known },
    );
    await bed.gate.ready();
  });
  afterAll(() => bed.close());

  it('blocks an exact copy with 451 and an opaque reference, and records an incident with evidence', async () => {
    const res = await request(bed.app).post('/memory').attach('file', images.known, 'cat.jpg').expect(451);
    expect(res.body.error.code).toBe('ERR_HASHGATE_UPLOAD_BLOCKED');
    const reference: string = res.body.error.reference;
    expect(reference).toMatch(/^inc_/);
    // nothing about what matched is revealed
    expect(JSON.stringify(res.body)).not.toMatch(/known|pdq|md5|distance/);
    const store = await bed.gate.store();
    const incident = await store.getIncident(reference);
    expect(incident).toMatchObject({
      action: 'block',
      file: { originalName: 'cat.jpg', sniffedType: 'jpeg' },
    });
    expect(incident!.matches.map((m) => m.hashType).sort()).toEqual(['md5', 'pdq']);
    expect(incident!.evidence).not.toBeNull();
  });

  it('answers a blocked upload in plain text when the client asks for text', async () => {
    const res = await request(bed.app)
      .post('/memory')
      .set('Accept', 'text/plain')
      .attach('file', images.known, 'a.jpg')
      .expect(451);
    expect(res.text).toMatch(/^This upload cannot be accepted\. Reference: inc_/);
  });

  it('blocks by PDQ after the image was re-encoded and resized', async () => {
    await request(bed.app).post('/memory').attach('file', images.reencoded, 'small.jpg').expect(451);
  });

  it('blocks by PDQ after the image was rotated 90 degrees and mirrored', async () => {
    await request(bed.app).post('/memory').attach('file', images.rotatedMirrored, 'turned.jpg').expect(451);
  });

  it('allows an unrelated image and tells the route what it found', async () => {
    const res = await request(bed.app)
      .post('/memory')
      .attach('file', images.unrelated, 'dog.jpg')
      .expect(200);
    expect(res.body).toEqual({ ok: true, outcome: 'allow', files: ['allow'] });
  });

  it('allows a file that is not an image after checking its exact hashes', async () => {
    const res = await request(bed.app)
      .post('/memory')
      .attach('file', Buffer.from('just text'), 'notes.txt')
      .expect(200);
    expect(res.body.outcome).toBe('allow');
  });

  it('blocks a request in which one of several disk files matches, and leaves no file behind', async () => {
    await request(bed.app)
      .post('/array')
      .attach('files', images.unrelated, 'a.jpg')
      .attach('files', images.knownOther, 'b.png')
      .attach('files', Buffer.from('text'), 'c.txt')
      .expect(451);
    expect(bed.uploadedFiles()).toEqual([]);
  });

  it('keeps the disk files of an allowed request', async () => {
    await request(bed.app).post('/array').attach('files', images.unrelated, 'a.jpg').expect(200);
    expect(bed.uploadedFiles()).toHaveLength(1);
  });

  it('scans every file of a fields upload', async () => {
    await request(bed.app)
      .post('/fields')
      .attach('avatar', images.unrelated, 'me.jpg')
      .attach('gallery', images.unrelated, 'one.jpg')
      .attach('gallery', images.known, 'two.jpg')
      .expect(451);
    const ok = await request(bed.app)
      .post('/fields')
      .attach('gallery', images.unrelated, 'one.jpg')
      .expect(200);
    expect(ok.body.files).toEqual(['allow']);
  });

  it('scans uploads of multer any()', async () => {
    await request(bed.app).post('/any').attach('whatever', images.known, 'x.jpg').expect(451);
  });

  it('never hands a blocked upload to the wrapped storage engine', async () => {
    const before = bed.uploadedFiles().length;
    await request(bed.app)
      .post('/stored')
      .attach('files', images.unrelated, 'fine.jpg')
      .attach('files', images.known, 'bad.jpg')
      .expect(451);
    expect(bed.uploadedFiles()).toHaveLength(before);
    await request(bed.app).post('/stored').attach('files', images.unrelated, 'fine.jpg').expect(200);
    expect(bed.uploadedFiles()).toHaveLength(before + 1);
  });

  it('leaves no file behind when multer refuses a file over its size limit', async () => {
    const before = bed.uploadedFiles().length;
    await request(bed.app).post('/limited').attach('file', images.known, 'big.jpg').expect(413);
    expect(bed.uploadedFiles()).toHaveLength(before);
  });

  it('leaves no file behind when the client aborts an upload half way', async () => {
    const before = bed.uploadedFiles().length;
    const server = bed.app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const { port } = server.address() as AddressInfo;
    for (const path of ['/array', '/stored']) {
      const socket = connect(port, '127.0.0.1');
      await new Promise((r) => socket.once('connect', r));
      const boundary = 'abortboundary';
      const head = `--${boundary}\r\nContent-Disposition: form-data; name="files"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`;
      socket.write(
        `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: 10000000\r\n\r\n${head}`,
      );
      socket.write(images.unrelated.subarray(0, 20_000));
      await new Promise((r) => setTimeout(r, 100));
      socket.destroy();
    }
    await new Promise((r) => setTimeout(r, 300));
    server.close();
    expect(bed.uploadedFiles()).toHaveLength(before);
  });

  it('answers a repeated upload from the verdict cache', async () => {
    const first = await request(bed.app)
      .post('/memory')
      .attach('file', images.knownOther, 'p.png')
      .expect(451);
    const again = await request(bed.app)
      .post('/memory')
      .attach('file', images.knownOther, 'p.png')
      .expect(451);
    expect(again.body.error.reference).not.toBe(first.body.error.reference); // every upload is its own incident
    expect(bed.gate.status().cache.hits).toBeGreaterThan(0);
  });

  it('lets a route turn a block list into review', async () => {
    const res = await request(bed.app).post('/review-only').attach('file', images.known, 'k.jpg').expect(200);
    expect(res.body.outcome).toBe('review');
  });

  it('handles concurrent uploads', async () => {
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        request(bed.app)
          .post('/memory')
          .attach('file', i % 3 === 0 ? images.known : images.unrelated, `f${i}.jpg`),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(
      Array.from({ length: 12 }, (_, i) => (i % 3 === 0 ? 451 : 200)),
    );
  });

  it('lets a dismissed false positive through once it is allowlisted', async () => {
    const res = await request(bed.app)
      .post('/memory')
      .attach('file', images.knownOther, 'fp.png')
      .expect(451);
    const store = await bed.gate.store();
    const id: string = res.body.error.reference;
    await store.transition(id, {
      to: 'dismissed',
      actor: 'reviewer-1',
      reason: 'a test false positive',
      allowlist: true,
    });
    await bed.gate.refreshAllowlist();
    await request(bed.app).post('/memory').attach('file', images.knownOther, 'fp.png').expect(200);
  });

  it("reports ready with each list's version", async () => {
    const res = await request(bed.app).get('/ready').expect(200);
    expect(res.body).toMatchObject({
      ready: true,
      fresh: true,
      lists: [{ list: 'known', stale: false, lastError: null }],
    });
  });

  it('exposes metrics without hashes or file names', async () => {
    const text = await bed.gate.metrics!.metrics();
    expect(text).toMatch(/hashgate_files_scanned_total\{outcome="block"\} \d+/);
    expect(text).toMatch(/hashgate_list_version\{list="known"\} \d+/);
    expect(text).not.toMatch(/[0-9a-f]{32}/);
    expect(text).not.toMatch(/cat\.jpg|inc_/);
  });
});

describe('gate.middleware() with other list policies', () => {
  it('records a dry-run match without blocking', async () => {
    const text = await listLines([images.known]);
    const bed = await makeTestBed(
      (dir) => [{ name: 'trial', file: join(dir, 'trial.txt'), format: 'threatexchange', dryRun: true }],
      {},
      { trial: text },
    );
    try {
      await bed.gate.ready();
      const res = await request(bed.app).post('/memory').attach('file', images.known, 'k.jpg').expect(200);
      expect(res.body.outcome).toBe('allow');
      const incidents = await (await bed.gate.store()).listIncidents();
      expect(incidents).toHaveLength(1);
      expect(incidents[0]).toMatchObject({ dryRun: true });
    } finally {
      await bed.close();
    }
  });

  it('flags a review match for a person and lets it through', async () => {
    const text = await listLines([images.known]);
    const bed = await makeTestBed(
      (dir) => [{ name: 'own', file: join(dir, 'own.txt'), format: 'threatexchange', action: 'review' }],
      {},
      { own: text },
    );
    try {
      await bed.gate.ready();
      const res = await request(bed.app).post('/memory').attach('file', images.known, 'k.jpg').expect(200);
      expect(res.body.outcome).toBe('review');
      const incidents = await (await bed.gate.store()).listIncidents();
      expect(incidents[0]).toMatchObject({ action: 'review' });
    } finally {
      await bed.close();
    }
  });
});

describe('gate.middleware() when uploads cannot be checked', () => {
  it('answers 503 with Retry-After while no list is loaded, and removes the upload', async () => {
    const bed = await makeTestBed((dir) => [
      { name: 'missing', file: join(dir, 'missing.txt'), format: 'threatexchange' },
    ]);
    try {
      const res = await request(bed.app)
        .post('/array')
        .attach('files', images.unrelated, 'a.jpg')
        .expect(503);
      expect(res.headers['retry-after']).toBe('30');
      expect(res.body.error.code).toBe('ERR_HASHGATE_UPLOAD_UNCHECKED');
      expect(bed.uploadedFiles()).toEqual([]);
      expect(bed.gate.status().ready).toBe(false);
      const ready = await request(bed.app).get('/ready').expect(503);
      expect(ready.body.lists[0]).toMatchObject({ list: 'missing', version: null });
    } finally {
      await bed.close();
    }
  });

  it('lets uploads through as unscanned under whenUnavailable: allow', async () => {
    const bed = await makeTestBed(
      (dir) => [{ name: 'missing', file: join(dir, 'missing.txt'), format: 'threatexchange' }],
      { whenUnavailable: 'allow' },
    );
    try {
      const res = await request(bed.app)
        .post('/memory')
        .attach('file', images.unrelated, 'a.jpg')
        .expect(200);
      expect(res.body).toMatchObject({ outcome: 'unscanned', files: ['unscanned'] });
      expect(await bed.gate.metrics!.metrics()).toMatch(
        /hashgate_unscanned_total\{reason="lists-not-ready"\} 1/,
      );
    } finally {
      await bed.close();
    }
  });

  it('re-checks uploads accepted before the first list load once the list loads', async () => {
    const takedowns: string[] = [];
    const bed = await makeTestBed(
      (dir) => [{ name: 'late', file: join(dir, 'late.txt'), format: 'threatexchange' }],
      { whenUnavailable: 'allow', onRetroactiveMatch: (r) => void takedowns.push(r.reference) },
    );
    try {
      for (const [ref, image] of [
        ['bucket/reencoded', images.reencoded],
        ['bucket/unrelated', images.unrelated],
      ] as const) {
        const res = await request(bed.app)
          .post('/referenced')
          .set('x-content-ref', ref)
          .attach('file', image, 'a.jpg')
          .expect(200);
        expect(res.body).toMatchObject({ outcome: 'unscanned' });
      }
      // the list arrives, holding the known image by its PDQ hash only
      bed.writeList('late', await listLines([images.known], ['pdq']));
      await bed.gate.refreshLists();
      expect(bed.gate.status().ready).toBe(true);
      const store = await bed.gate.store();
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && takedowns.length === 0) await new Promise((r) => setTimeout(r, 50));
      expect(takedowns).toEqual(['bucket/reencoded']);
      const [incident] = (await store.listIncidents()).filter((i) => i.action === 'takedown');
      expect((await store.getIncident(incident!.id))!.matches.map((m) => [m.list, m.hashType])).toEqual([
        ['late', 'pdq'],
      ]);
    } finally {
      await bed.close();
    }
  });

  it("follows gate.storage()'s failure policy for files it scanned, and warns about scan options given to gate.middleware()", async () => {
    const warnings: string[] = [];
    const bed = await makeTestBed(
      (dir) => [{ name: 'missing', file: join(dir, 'missing.txt'), format: 'threatexchange' }],
      { logger: { info() {}, error() {}, warn: (message) => void warnings.push(message) } },
    );
    try {
      bed.app.post(
        '/stored-allow',
        multer({ storage: bed.gate.storage(multer.memoryStorage(), { whenUnavailable: 'allow' }) }).single(
          'file',
        ),
        bed.gate.middleware({ whenUnavailable: 'reject' }),
        (req, res) => void res.json({ outcome: req.hashgate?.outcome }),
      );
      for (let i = 0; i < 2; i++) {
        const res = await request(bed.app)
          .post('/stored-allow')
          .attach('file', images.unrelated, 'a.jpg')
          .expect(200);
        expect(res.body).toEqual({ outcome: 'unscanned' });
      }
      // the default route scans with the top-level policy (reject)
      await request(bed.app).post('/memory').attach('file', images.unrelated, 'a.jpg').expect(503);
      expect(
        warnings.filter((w) => w.includes('have no effect on files gate.storage() scanned')),
      ).toHaveLength(1);
    } finally {
      await bed.close();
    }
  });

  it('treats stale lists as unable to vouch for an upload, but still blocks what they match', async () => {
    let now = Date.now();
    const text = await listLines([images.known]);
    const bed = await makeTestBed(
      (dir) => [
        { name: 'old', file: join(dir, 'old.txt'), format: 'threatexchange', maxStalenessMs: 60_000 },
      ],
      { now: () => now },
      { old: text },
    );
    try {
      await bed.gate.ready();
      await request(bed.app).post('/memory').attach('file', images.unrelated, 'a.jpg').expect(200);
      now += 120_000;
      await request(bed.app).post('/memory').attach('file', images.unrelated, 'b.jpg').expect(503);
      await request(bed.app).post('/memory').attach('file', images.known, 'c.jpg').expect(451);
    } finally {
      await bed.close();
    }
  });

  it('answers 503 when the scan queue is full', async () => {
    const text = await listLines([images.known]);
    const bed = await makeTestBed(
      (dir) => [{ name: 'known', file: join(dir, 'known.txt'), format: 'threatexchange' }],
      { hashing: { workers: 1, maxQueue: 0 }, cache: { max: 0 } },
      { known: text },
    );
    try {
      await bed.gate.ready();
      const statuses = (
        await Promise.all(
          Array.from({ length: 6 }, (_, i) =>
            request(bed.app).post('/memory').attach('file', images.unrelated, `q${i}.jpg`),
          ),
        )
      ).map((r) => r.status);
      expect(statuses).toContain(503);
      expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
    } finally {
      await bed.close();
    }
  });
});

describe('list updates', () => {
  it('never serves a cached verdict computed against an older list, and re-checks accepted uploads', async () => {
    const takedowns: string[] = [];
    const bed = await makeTestBed(
      (dir) => [{ name: 'grow', file: join(dir, 'grow.txt'), format: 'threatexchange' }],
      { onRetroactiveMatch: (r) => void takedowns.push(r.reference) },
      { grow: await listLines([images.knownOther]) },
    );
    try {
      await bed.gate.ready();
      await request(bed.app).post('/memory').attach('file', images.unrelated, 'soon-known.jpg').expect(200);
      await request(bed.app).post('/memory').attach('file', images.unrelated, 'soon-known.jpg').expect(200);
      const generation = bed.gate.status().index.generation;
      // the list gains the image that was accepted
      writeFileSync(join(bed.dir, 'grow.txt'), await listLines([images.knownOther, images.unrelated]));
      await new Promise((r) => setTimeout(r, 20)); // a new mtime
      writeFileSync(join(bed.dir, 'grow.txt'), await listLines([images.knownOther, images.unrelated]));
      await bed.gate.refreshLists();
      expect(bed.gate.status().index.generation).toBeGreaterThan(generation);
      await request(bed.app).post('/memory').attach('file', images.unrelated, 'now-known.jpg').expect(451);
      // the earlier accepted upload is found by the re-check
      const store = await bed.gate.store();
      const deadline = Date.now() + 10_000;
      let raised = 0;
      while (Date.now() < deadline && raised === 0) {
        raised = (await store.listIncidents()).filter((i) => i.action === 'takedown').length;
        if (raised === 0) await new Promise((r) => setTimeout(r, 50));
      }
      expect(raised).toBeGreaterThanOrEqual(1);
      expect(takedowns.length).toBe(raised);
    } finally {
      await bed.close();
    }
  });

  it('records a repeated upload as another reference to content the ledger holds, and re-checks every reference', async () => {
    const takedowns: string[] = [];
    const bed = await makeTestBed(
      (dir) => [{ name: 'grow', file: join(dir, 'grow.txt'), format: 'threatexchange' }],
      { onRetroactiveMatch: (r) => void takedowns.push(r.reference) },
      { grow: await listLines([images.knownOther]) },
    );
    try {
      await bed.gate.ready();
      const store = await bed.gate.store();
      const sha256 = createHash('sha256').update(images.unrelated).digest('hex');
      const recorded = async (n: number): Promise<number[]> => {
        const deadline = Date.now() + 10_000;
        for (;;) {
          const seqs = (await store.findLedgerExact('sha256', [sha256])).map((h) => h.seq);
          if (seqs.length >= n || Date.now() > deadline) return seqs;
          await new Promise((r) => setTimeout(r, 25));
        }
      };
      await request(bed.app)
        .post('/referenced')
        .set('x-content-ref', 'bucket/first')
        .attach('file', images.unrelated, 'a.jpg')
        .expect(200);
      expect(await recorded(1)).toHaveLength(1);
      await request(bed.app)
        .post('/referenced')
        .set('x-content-ref', 'bucket/second')
        .attach('file', images.unrelated, 'b.jpg')
        .expect(200);
      const records = await store.getLedgerRecords(await recorded(2));
      expect(records.map((r) => [r.reference, r.hashes.map((h) => h.type).sort()]).sort()).toEqual([
        ['bucket/first', ['blockhash', 'md5', 'pdq', 'sha1', 'sha256']],
        ['bucket/second', ['sha256']],
      ]);
      expect(records.find((r) => r.reference === 'bucket/second')!.file.originalName).toBe('b.jpg');

      // the list gains the image by its PDQ hash: both references are found
      writeFileSync(
        join(bed.dir, 'grow.txt'),
        await listLines([images.knownOther, images.unrelated], ['pdq']),
      );
      await bed.gate.refreshLists();
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && takedowns.length < 2) await new Promise((r) => setTimeout(r, 50));
      expect(takedowns.sort()).toEqual(['bucket/first', 'bucket/second']);
      const incidents = (await store.listIncidents()).filter((i) => i.action === 'takedown');
      expect(incidents).toHaveLength(2);
    } finally {
      await bed.close();
    }
  });
});
