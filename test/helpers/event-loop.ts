/** Test helpers for the event loop. */

/**
 * Runs `work` and counts the turns the event loop had meanwhile (setImmediate callbacks that
 * ran before it settled). Work that never yields gives 0.
 */
export async function countEventLoopTurns<T>(work: () => Promise<T>): Promise<{ result: T; turns: number }> {
  let turns = 0;
  let done = false;
  const tick = (): void => {
    turns++;
    if (!done) setImmediate(tick);
  };
  setImmediate(tick);
  try {
    const result = await work();
    return { result, turns };
  } finally {
    done = true;
  }
}
