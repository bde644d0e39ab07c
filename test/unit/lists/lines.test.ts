import { readLines } from '../../../src/lists/lines';

async function* chunks(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield Buffer.from(p, 'utf8');
}

describe('readLines', () => {
  it('splits lines across chunks, handles CRLF and a last line without newline', async () => {
    const lines: string[] = [];
    const n = await readLines(chunks('a\r\nb', 'c\n\n', 'dé', 'f'), (l) => lines.push(l));
    expect(lines).toEqual(['a', 'bc', 'déf']);
    expect(n).toBe(3);
  });

  it('skips lines over the limit, also when they span chunks', async () => {
    const lines: string[] = [];
    let overlong = 0;
    await readLines(
      chunks('ok\n', 'x'.repeat(30), 'y'.repeat(30), 'z\nafter\n', 'w'.repeat(40)),
      (l) => lines.push(l),
      {
        maxLineBytes: 20,
        onOverlong: () => overlong++,
      },
    );
    expect(lines).toEqual(['ok', 'after']);
    expect(overlong).toBe(2);
  });
});
