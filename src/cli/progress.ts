/** Owns the progress bar that long batch commands draw on a terminal's standard error. */

/** A progress bar that draws only when the stream is a terminal, at most every 100 ms. */
export class ProgressBar {
  readonly #stream: NodeJS.WriteStream;
  readonly #total: number;
  readonly #enabled: boolean;
  #done = 0;
  #lastDraw = 0;

  constructor(stream: NodeJS.WriteStream, total: number, minTotal = 20) {
    this.#stream = stream;
    this.#total = total;
    this.#enabled = stream.isTTY === true && total >= minTotal;
  }

  /** Marks one more item done. */
  tick(): void {
    this.#done++;
    const now = Date.now();
    if (this.#enabled && (now - this.#lastDraw > 100 || this.#done === this.#total)) {
      this.#lastDraw = now;
      const width = 30;
      const filled = Math.round((this.#done / this.#total) * width);
      this.#stream.write(
        `\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${this.#done}/${this.#total}`,
      );
    }
  }

  /** Clears the bar. */
  finish(): void {
    if (this.#enabled) this.#stream.write('\r\x1b[K');
  }
}
