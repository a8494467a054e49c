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
  let pending: Decision | PromiseLike<Decision>;
  try {
    pending = decide(req);
  } catch (err) {
    return Promise.reject(unavailable(err));
  }
  // The in-process decider answers synchronously: nothing can be late, so no timer is armed.
  if (!isThenable(pending)) return checked(pending);
  return new Promise<Decision>((resolve, reject) => {
    const timer = setTimeout(() => reject(new DecisionUnavailable('timeout')), ms);
    timer.unref?.();
    pending.then(
      (d) => {
        clearTimeout(timer);
        checked(d).then(resolve, reject);
      },
      (err) => {
        clearTimeout(timer);
        reject(unavailable(err));
      },
    );
  });
}

/** Settles with `p`, or rejects with DecisionUnavailable('timeout') once `ms` have passed. */
export function within<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new DecisionUnavailable('timeout')), Math.max(1, ms));
    timer.unref?.();
    p.then((v) => { clearTimeout(timer); resolve(v); }, (e) => { clearTimeout(timer); reject(e); });
  });
}

function isThenable(v: unknown): v is PromiseLike<Decision> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}

/** A malformed answer is treated like a failure: fail closed. */
function checked(d: Decision): Promise<Decision> {
  if (!d || typeof d.allow !== 'boolean' || !Array.isArray(d.reasons)) return Promise.reject(unavailable({ code: 'malformed_decision' }));
  return Promise.resolve(d);
}

function unavailable(err: unknown): DecisionUnavailable {
  const code = (err as { code?: unknown })?.code;
  return new DecisionUnavailable('error', typeof code === 'string' ? code : undefined);
}
