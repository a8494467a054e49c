// Decision-log entries for the log's tests: each a new decision id, allowed or denied.
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
