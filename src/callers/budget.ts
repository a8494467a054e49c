// Time budgets for decisions made on a caller's clock: past the budget the caller gets a deny, not a hang.
import type { DecideFn, DecideRequest, Decision } from './types';

/** Raised when a decision did not arrive within its budget or the decider failed; always means deny. */
export class DecisionUnavailable extends Error {
  readonly code = 'decision_unavailable';
  constructor(readonly why: 'timeout' | 'error', readonly causeCode?: string) {
    super(why === 'timeout' ? 'decision budget exceeded' : `decider failed${causeCode ? ` (${causeCode})` : ''}`);
  }
}

/** Calls `decide` and settles within `ms`: a late or failed decision rejects with DecisionUnavailable. */
export function decideWithin(decide: DecideFn, req: DecideRequest, ms: number): Promise<Decision> {
  return new Promise<Decision>((resolve, reject) => {
    const timer = setTimeout(() => reject(new DecisionUnavailable('timeout')), ms);
    timer.unref?.();
    const fail = (err: unknown) => {
      clearTimeout(timer);
      const code = (err as { code?: unknown })?.code;
      reject(new DecisionUnavailable('error', typeof code === 'string' ? code : undefined));
    };
    try {
      Promise.resolve(decide(req)).then((d) => {
        clearTimeout(timer);
        // A malformed answer is treated like a failure: fail closed.
        if (!d || typeof d.allow !== 'boolean' || !Array.isArray(d.reasons)) return fail({ code: 'malformed_decision' });
        resolve(d);
      }, fail);
    } catch (err) {
      fail(err);
    }
  });
}
