/** Owns splitting a byte stream into text lines, with a line-length limit and cooperative yielding. */

import { Yielder } from '../cooperative';

/** Default longest accepted line, in bytes. */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;

/** Options of {@link readLines}. */
export interface ReadLinesOptions {
  /** Lines longer than this many bytes are skipped and reported through `onOverlong`. @default 65536 */
  maxLineBytes?: number;
  /** Called once per skipped overlong line. */
  onOverlong?: () => void;
  /** Shared yielder, so that a caller's other work counts towards the same slice. */
  yielder?: Yielder;
  /**
   * Fast path: sees each line's bytes (`buf[start, end)`, line end removed) before any string is
   * made; returning true means it handled the line and `onLine` is not called.
   */
  onLineBytes?: (buf: Buffer, start: number, end: number) => boolean;
}

const NEWLINE = 10;
const CR = 13;

/**
 * Calls `onLine` for every non-empty line of `source` (UTF-8, `\n` or `\r\n` endings, the last
 * line may lack one), yielding to the event loop between slices. Returns the number of lines
 * passed to `onLine`.
 */
export async function readLines(
  source: AsyncIterable<Uint8Array | string>,
  onLine: (line: string) => void,
  options: ReadLinesOptions = {},
): Promise<number> {
  const maxLine = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const yielder = options.yielder ?? new Yielder();
  let rest: Buffer | null = null;
  let skipping = false;
  let lines = 0;

  const emit = (buf: Buffer, start: number, end: number): void => {
    if (end > start && buf[end - 1] === CR) end--;
    if (end - start > maxLine) {
      options.onOverlong?.();
      return;
    }
    if (end === start) return;
    if (options.onLineBytes?.(buf, start, end)) {
      lines++;
      return;
    }
    const line = buf.toString('utf8', start, end);
    if (line.trim() === '') return;
    lines++;
    onLine(line);
  };

  for await (const chunk of source) {
    let buf: Buffer =
      typeof chunk === 'string'
        ? Buffer.from(chunk, 'utf8')
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let pos = 0;
    if (skipping) {
      const nl = buf.indexOf(NEWLINE);
      if (nl === -1) continue;
      skipping = false;
      pos = nl + 1;
    } else if (rest) {
      buf = Buffer.concat([rest, buf]);
      rest = null;
    }
    for (;;) {
      const nl = buf.indexOf(NEWLINE, pos);
      if (nl === -1) break;
      emit(buf, pos, nl);
      pos = nl + 1;
      if (yielder.due()) await yielder.yield();
    }
    if (pos < buf.length) {
      if (buf.length - pos > maxLine) {
        options.onOverlong?.();
        skipping = true;
      } else {
        rest = Buffer.from(buf.subarray(pos));
      }
    }
  }
  if (rest && rest.length > 0) emit(rest, 0, rest.length);
  return lines;
}
