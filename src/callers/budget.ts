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
  try {
    const d = decideNow(decide, req, ms);
    return isThenable(d) ? d : Promise.resolve(d);
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * Like decideWithin, but a decider that answers synchronously (the in-process one) is answered
 * synchronously too: no promise, no microtask. Measured on the proxy checks, each continuation after
 * an `await` roughly doubled what survived young-generation GCs (bench/README.md, "promoted garbage").
 * Throws DecisionUnavailable for a failed or malformed synchronous decision.
 */
export function decideNow(decide: DecideFn, req: DecideRequest, ms: number): Decision | Promise<Decision> {
  let pending: Decision | PromiseLike<Decision>;
  try {
    pending = decide(req);
  } catch (err) {
    throw unavailable(err);
  }
  // Nothing synchronous can be late, so no timer is armed.
  if (!isThenable(pending)) {
    if (!wellFormed(pending)) throw unavailable({ code: 'malformed_decision' });
    return pending;
  }
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

/** True for a promise or any other thenable. */
export function isThenable<T>(v: T | PromiseLike<T>): v is PromiseLike<T> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}

function wellFormed(d: Decision): boolean {
  return !!d && typeof d.allow === 'boolean' && Array.isArray(d.reasons);
}

/** A malformed answer is treated like a failure: fail closed. */
function checked(d: Decision): Promise<Decision> {
  return wellFormed(d) ? Promise.resolve(d) : Promise.reject(unavailable({ code: 'malformed_decision' }));
}

function unavailable(err: unknown): DecisionUnavailable {
  const code = (err as { code?: unknown })?.code;
  return new DecisionUnavailable('error', typeof code === 'string' ? code : undefined);
}
