import { parseHashingOptions } from '../../../src/hashing/hasher-options';
import {
  cropBox,
  cropHashes,
  DEFAULT_CROPS,
  derivedEntryId,
  derivedEntryLabel,
  parseDerivedEntryId,
} from '../../../src/lists/augment';
import { syntheticImage } from '../../helpers/images';

describe('crop augmentation', () => {
  it('turns a crop into a pixel box with each side rounded', () => {
    expect(cropBox(1000, 600, { name: 'all5', left: 0.05, top: 0.05, right: 0.05, bottom: 0.05 })).toEqual({
      left: 50,
      top: 30,
      width: 900,
      height: 540,
    });
    expect(cropBox(333, 200, { name: 'right15', left: 0, top: 0, right: 0.15, bottom: 0 })).toEqual({
      left: 0,
      top: 0,
      width: 283,
      height: 200,
    });
  });

  it('derives entry ids and labels from the source entry, and reads the source back', () => {
    const id = derivedEntryId('NH-000001', { kind: 'crop', name: 'top15' });
    expect(id).toBe('NH-000001~crop-top15');
    expect(derivedEntryLabel({ kind: 'crop', name: 'top15' })).toBe('augmented:crop-top15');
    expect(parseDerivedEntryId(id)).toEqual({ sourceId: 'NH-000001', derivation: 'crop-top15' });
    expect(parseDerivedEntryId(derivedEntryId('a~b', { kind: 'trimmed' }))).toEqual({
      sourceId: 'a~b',
      derivation: 'trimmed',
    });
  });

  it('does not take an ordinary id with a tilde for a derived one', () => {
    expect(parseDerivedEntryId('case~17')).toBeUndefined();
    expect(parseDerivedEntryId('~crop-all5')).toBeUndefined();
  });

  it('hashes every default crop of an image with PDQ, naming the crop', async () => {
    const bytes = await syntheticImage(640, 480, 'jpeg', 3);
    const hashes = await cropHashes({ bytes }, parseHashingOptions({ workers: 0 }));
    expect(hashes).toHaveLength(DEFAULT_CROPS.length);
    const both = await cropHashes({ bytes }, parseHashingOptions({ workers: 0 }), DEFAULT_CROPS, true);
    expect(both.filter((h) => h.type === 'blockhash')).toHaveLength(DEFAULT_CROPS.length);
    for (const h of hashes) {
      expect(h.provenance.region?.kind).toBe('crop');
      expect(h.variants).toBeUndefined();
    }
    const top15 = hashes.find((h) => h.type === 'pdq' && h.provenance.region?.name === 'top15')!;
    expect(top15.provenance.region).toEqual({
      kind: 'crop',
      name: 'top15',
      left: 0,
      top: 72,
      width: 640,
      height: 408,
    });
  });

  it('gives no crop hashes for bytes that are not an image', async () => {
    const hashes = await cropHashes(
      { bytes: Buffer.from('not an image') },
      parseHashingOptions({ workers: 0 }),
    );
    expect(hashes).toEqual([]);
  });
});
