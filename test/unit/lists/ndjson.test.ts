import { createHashTypeResolver, SnapshotBuilder } from '../../../src/lists/entries';
import {
  applyDeltas,
  DeltaAccumulator,
  parseDeltaLines,
  parseSnapshotLines,
} from '../../../src/lists/ndjson';
import {
  entryKeys,
  hashSet,
  makeEntries,
  randomMd5,
  randomPdq,
  toSnapshot,
} from '../../integration/lists/helpers';

async function* from(text: string): AsyncGenerator<Uint8Array> {
  yield Buffer.from(text, 'utf8');
}

async function parse(lines: string[]): Promise<SnapshotBuilder> {
  const b = new SnapshotBuilder();
  await parseSnapshotLines(from(lines.join('\n')), b);
  return b;
}

describe('snapshot lines', () => {
  it('parses canonical and non-canonical lines alike', async () => {
    const h = [randomMd5(), randomMd5(), randomPdq(), randomMd5(), randomMd5()];
    const b = await parse([
      `{"id":"plain","type":"md5","hash":"${h[0]}"}`,
      `{"id":"esc\\"aped","type":"md5","hash":"${h[1]}"}`,
      `{"id":"ünïcode","type":"PDQ","hash":"${h[2]!.toUpperCase()}"}`,
      `{"type":"md5","id":"reordered","hash":"${h[3]}"}`,
      `{"id":"spaced", "type":"md5","hash":"${h[4]}"}  `,
      `{"id":"${'x'.repeat(201)}","type":"md5","hash":"${randomMd5()}"}`,
      `{"id":"tab\\there","type":"md5","hash":"${randomMd5()}"}`,
    ]);
    const s = b.build('l', 1, '');
    expect(hashSet(s)).toEqual(
      new Set([`md5:${h[0]}`, `md5:${h[1]}`, `pdq:${h[2]}`, `md5:${h[3]}`, `md5:${h[4]}`]),
    );
    expect([...s.byType.get('md5')!.ids]).toEqual(['plain', 'esc"aped', 'reordered', 'spaced']);
    expect(s.byType.get('pdq')!.ids).toEqual(['ünïcode']);
    expect(b.dropped).toEqual({ 'invalid-id': 2 });
  });
});

describe('deltas', () => {
  const resolveType = createHashTypeResolver();

  async function apply(baseEntries: ReturnType<typeof makeEntries>, ...deltas: string[][]) {
    const acc = new DeltaAccumulator();
    const b = new SnapshotBuilder();
    for (const d of deltas) await parseDeltaLines(from(d.join('\n')), acc, b);
    await applyDeltas(toSnapshot(baseEntries), acc, b, resolveType);
    return { snapshot: b.build('l', 2, ''), dropped: b.dropped };
  }

  it('applies removes before adds, so a remove and an add of one id replace the entry', async () => {
    const base = makeEntries(4, 'a');
    const replacement = randomMd5();
    const added = randomPdq();
    const { snapshot, dropped } = await apply(base, [
      JSON.stringify({ op: 'add', id: 'a1', type: 'md5', hash: replacement }),
      JSON.stringify({ op: 'remove', id: 'a1' }),
      JSON.stringify({ op: 'remove', id: 'a0' }),
      JSON.stringify({ op: 'add', id: 'n0', type: 'pdq', hash: added }),
      JSON.stringify({ op: 'remove', id: 'missing' }),
      JSON.stringify({ op: 'rename', id: 'a2' }),
    ]);
    expect(hashSet(snapshot)).toEqual(
      new Set([...entryKeys(base.slice(2)), `md5:${replacement}`, `pdq:${added}`]),
    );
    expect(dropped).toEqual({ 'unknown-remove': 1, 'invalid-entry': 1 });
  });

  it('cancels an add by a remove later in the chain', async () => {
    const base = makeEntries(2, 'a');
    const { snapshot } = await apply(
      base,
      [JSON.stringify({ op: 'add', id: 'tmp', type: 'md5', hash: randomMd5() })],
      [JSON.stringify({ op: 'remove', id: 'tmp' })],
    );
    expect(hashSet(snapshot)).toEqual(entryKeys(base));
  });

  it('drops an add of an id the list still has', async () => {
    const base = makeEntries(2, 'a');
    const { dropped } = await apply(base, [
      JSON.stringify({ op: 'add', id: 'a0', type: 'md5', hash: randomMd5() }),
    ]);
    expect(dropped).toEqual({ 'duplicate-id': 1 });
  });
});
