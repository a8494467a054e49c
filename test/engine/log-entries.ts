// Decision-log entries for the log's tests (each a new decision id, allowed or denied), and a manual
// clock for the sink's reopen attempts.
import type { DecisionLogEntry } from '../../src/engine/decision-log';

let n = 0;

/** A decision-log entry (decision ids d-1, d-2, ...); a deny carries device_not_compliant. */
export function entry(allow: boolean, extra: Partial<DecisionLogEntry> = {}): DecisionLogEntry {
  n++;
  return {
    decision_id: `d-${n}`,
    time: new Date(0).toISOString(),
    action: 'access',
    subject: 'alice',
    device: 'mac-1',
    app: 'email',
    allow,
    reasons: allow ? [] : ['device_not_compliant'],
    revision: 'r1',
    duration: 0.05,
    ...extra,
  };
}

/** Reopen attempts after a failure run when the test says so; `delays` records the backoff asked for. */
export function manualRetry() {
  const pending: Array<() => void> = [];
  const delays: number[] = [];
  return {
    delays,
    set: (fn: () => void, ms: number) => {
      delays.push(ms);
      pending.push(fn);
      return () => {
        const i = pending.indexOf(fn);
        if (i >= 0) pending.splice(i, 1);
      };
    },
    get pending() {
      return pending.length;
    },
    fire(): void {
      const fn = pending.shift();
      if (!fn) throw new Error('no reopen attempt scheduled');
      fn();
    },
  };
}
