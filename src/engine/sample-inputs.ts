// Synthetic decision inputs for warming a new policy engine before it serves (./off-thread.ts): an
// active employee with a compliant and a non-compliant device, and a provisioned one waiting for
// activation, for every action and a few catalog apps, so the allow path and the common denies are
// compiled before real requests arrive. Nobody real is in them; nothing about them is logged or stored.
import { DECISION_ENTRYPOINT } from './decider';
import type { PolicyDevice, PolicyInput, PolicySubject } from './decision-input';
import type { WarmupSample } from './off-thread';

const HOUR_NS = 3600e9;

/** Warm-up samples for data.tether.decision at `nowMs`, over up to three apps of the base data's catalog. */
export function decisionSamples(baseData: Record<string, unknown>, nowMs: number): WarmupSample[] {
  const nowNs = nowMs * 1e6;
  const catalog = baseData.apps && typeof baseData.apps === 'object' ? Object.keys(baseData.apps) : [];
  const apps = catalog.length ? catalog.slice(0, 3) : ['tether-warmup'];
  const device = (id: string, compliant: boolean): PolicyDevice => ({
    id, owner: 'tether-warmup', enrolled: true, compliant, encrypted: true, ownership: 'corporate',
    platform: 'macos', os_version: '15.1', source: 'warmup', observed_at_ns: nowNs - HOUR_NS,
  });
  const subject = (status: string): PolicySubject => ({
    id: 'tether-warmup', status, type: 'employee', risk_tier: 'standard', proofed: true, aliases: [],
    activated_at: null, activated_at_ns: status === 'active' ? nowNs - 100 * HOUR_NS : null, status_since_ns: nowNs - 100 * HOUR_NS,
  });
  const good = device('tether-warmup-a', true);
  const bad = device('tether-warmup-b', false);
  const input = (action: string, app: string | null, who: PolicySubject, d: PolicyDevice): PolicyInput => ({
    action, subject: who, device_id: d.id, device: d, owned_devices: [good, bad], exceptions: [], break_glass: null,
    app, now_ns: nowNs, now: new Date(nowMs).toISOString(), context: {},
  });
  const inputs: PolicyInput[] = [];
  for (const app of apps) {
    for (const action of ['access', 'token', 'entitle']) inputs.push(input(action, app, subject('active'), good), input(action, app, subject('active'), bad));
  }
  inputs.push(input('activate', null, subject('provisioned'), good), input('activate', null, subject('provisioned'), bad));
  return inputs.map((i) => ({ entrypoint: DECISION_ENTRYPOINT, input: i }));
}
