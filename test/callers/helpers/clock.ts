// Time helpers for the JWKS tests: elapsed time of a call, waiting for a condition, and fake timers that
// fake only setInterval (the JWKS background refresh), so sockets, fetch timeouts and budgets keep real time.

/** Settles `p` (value or error) and says how long it took. */
export async function timed<T>(p: Promise<T>): Promise<{ v: T; ms: number }> {
  const t0 = Date.now();
  const v = await p.then((x) => x, (e: T) => e);
  return { v, ms: Date.now() - t0 };
}

/** Resolves once `cond()` holds; rejects after `ms`. */
export async function until(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Real time for everything but setInterval/clearInterval: advance those with jest.advanceTimersByTime. */
export function fakeIntervalsOnly(): void {
  jest.useFakeTimers({
    doNotFake: [
      'Date', 'hrtime', 'nextTick', 'performance', 'queueMicrotask', 'requestAnimationFrame', 'cancelAnimationFrame',
      'requestIdleCallback', 'cancelIdleCallback', 'setImmediate', 'clearImmediate', 'setTimeout', 'clearTimeout',
    ],
  });
}

const realNow = Date.now.bind(Date);

/** Makes Date.now() run `ms` ahead of the real clock; a later call replaces the offset (undo: jest.restoreAllMocks()). */
export function clockAhead(ms: number): void {
  jest.spyOn(Date, 'now').mockImplementation(() => realNow() + ms);
}
